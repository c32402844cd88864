// Package damage is how the example tools say that they could not read a
// whole trace: the warnings they print on stderr about an
// [etw.ReadReport], the exit codes they share, and their reader limits
// (-max-memory).
package damage

import (
	"fmt"
	"io"
	"strings"

	"github.com/etwkit/etwkit/etw"
)

// Exit codes of the example tools.
const (
	// ExitOK: the result was printed from a trace read whole.
	ExitOK = 0
	// ExitUnreadable: the input could not be read at all (not a trace, no
	// such file, an I/O error), or an output could not be written.
	ExitUnreadable = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
	// ExitPartial: a result was printed from a trace that could not be
	// read whole (see [etw.ReadReport]).
	ExitPartial = 3
)

// Warn prints on w, one line each prefixed by "tool: warning: ", the read
// errors of d (at most maxListed of them, then how many more) and, when
// the trace was not read whole, what is missing. It prints nothing for a
// complete trace.
func Warn(w io.Writer, tool string, d *etw.ReadReport) {
	if d.Complete {
		return
	}
	for i, e := range d.ReadErrors {
		if i == maxListed {
			more := Count(len(d.ReadErrors)-maxListed, "read error") // "N read errors"
			n, noun, _ := strings.Cut(more, " ")
			fmt.Fprintf(w, "%s: warning: %s more %s\n", tool, n, noun)
			break
		}
		fmt.Fprintf(w, "%s: warning: %s\n", tool, e.Error)
	}
	Summarize(w, tool, d)
}

// Summarize prints on w only the last line of [Warn], what is missing
// from d, for tools that printed each read error as it came. It prints
// nothing for a complete trace.
func Summarize(w io.Writer, tool string, d *etw.ReadReport) {
	if d.Complete {
		return
	}
	fmt.Fprintf(w, "%s: warning: %s\n", tool, d.Partial())
	if le := d.Limit(); le != nil {
		if a := LimitAdvice(le); a != "" {
			fmt.Fprintf(w, "%s: warning: %s\n", tool, a)
		}
	}
}

// Count returns n and a noun, plural unless n is 1: "1 read error",
// "3 read errors". The noun must take a plain "s".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// maxListed bounds the read errors Warn prints one by one.
const maxListed = 20

// ExitCode is [ExitOK] for a trace read whole and [ExitPartial] otherwise.
func ExitCode(d *etw.ReadReport) int {
	if d.Complete {
		return ExitOK
	}
	return ExitPartial
}
