package damage

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/etwkit/etwkit/etw"
)

// MaxMemoryEnv names the environment variable that sets the tools' memory
// ceiling (etw.Limits.MaxMemory) when their -max-memory flag is not given.
const MaxMemoryEnv = "ETWKIT_MAX_MEMORY"

// MaxMemoryUsage is the usage text of the tools' -max-memory flag.
const MaxMemoryUsage = "memory ceiling for the reader's buffers: bytes, or with a K, M or G suffix (default $" + MaxMemoryEnv + ", else 256M)"

// Limits returns the reader limits of a tool: the memory ceiling is
// maxMemory (the -max-memory flag) when not empty, else $ETWKIT_MAX_MEMORY
// when set, else etw's default. An invalid value is an error naming where
// it came from: the tools treat it as a usage error.
func Limits(maxMemory string) (etw.Limits, error) {
	src := "-max-memory"
	if maxMemory == "" {
		maxMemory, src = os.Getenv(MaxMemoryEnv), "$"+MaxMemoryEnv
	}
	if maxMemory == "" {
		return etw.Limits{}, nil
	}
	n, err := ParseSize(maxMemory)
	if err != nil {
		return etw.Limits{}, fmt.Errorf("%s: %w", src, err)
	}
	return etw.Limits{MaxMemory: n}, nil
}

// ParseSize parses a size in bytes: a positive decimal number, optionally
// followed by K, M, G or T (powers of 1024, case-insensitive, optionally
// followed by "B" or "iB"), as in 1073741824, 1G, 512M or 1GiB.
func ParseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	unit := strings.ToUpper(strings.TrimLeft(num, "0123456789"))
	num = num[:len(num)-len(unit)]
	unit = strings.TrimSuffix(unit, "B") // "300B", "1GB"
	if len(unit) == 2 && unit[1] == 'I' {
		unit = unit[:1] // "1GiB", "1Gi"
	}
	shift := -1
	switch unit {
	case "":
		shift = 0
	case "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	case "T":
		shift = 40
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case shift < 0 || err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("size %q: want bytes, or a number with a K, M or G suffix (e.g. 1G)", s)
	case err != nil || n > (1<<63-1)>>shift:
		return 0, fmt.Errorf("size %q: too large", s)
	case n == 0:
		return 0, fmt.Errorf("size %q: want more than 0", s)
	}
	return n << shift, nil
}

// LimitAdvice says how to get past the *etw.LimitError in err's chain, for
// a tool's user: raise -max-memory or $ETWKIT_MAX_MEMORY when the ceiling
// reached is Limits.MaxMemory. It returns "" for other errors.
func LimitAdvice(err error) string {
	var le *etw.LimitError
	if !errors.As(err, &le) {
		return ""
	}
	switch {
	case le.Why == "Limits.MaxMemory":
		// Need is what the buffers in flight needed when reading stopped;
		// later buffers may need a little more (1.6% more for the 64
		// processors of etltest.WriteBomb's ratio-18 trace).
		more := formatSize(le.Need + le.Need/4)
		return fmt.Sprintf("the memory ceiling is %s; to read further, raise it, e.g. with -max-memory %s or %s=%s",
			formatSize(le.Limit), more, MaxMemoryEnv, more)
	case strings.Contains(le.Why, "per byte"):
		return "this ceiling follows the size of the file (the trace claims more memory than its bytes can hold: it is damaged or crafted); -max-memory cannot raise it"
	}
	return ""
}

// formatSize writes n rounded up to a whole K, M from 1 MiB or G from 1
// GiB, in the syntax ParseSize reads.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatInt((n+1<<30-1)>>30, 10) + "G"
	case n >= 1<<20:
		return strconv.FormatInt((n+1<<20-1)>>20, 10) + "M"
	}
	return strconv.FormatInt((n+1<<10-1)>>10, 10) + "K"
}

// PartialStop reports whether err, returned by r, is a *etw.LimitError
// that stopped r after it had delivered events: the tools then print the
// result of the part read and exit [ExitPartial], the error listed among
// the read errors. A limit reached before any event leaves nothing to
// print: the tool fails with [ExitUnreadable].
func PartialStop(r *etw.Reader, err error) bool {
	return errors.Is(err, etw.ErrLimit) && r.Stats().Events > 0
}
