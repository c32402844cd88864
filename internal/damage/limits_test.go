package damage_test

import (
	"bytes"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1073741824": 1 << 30, "1G": 1 << 30, "1g": 1 << 30, "1GiB": 1 << 30, "1GB": 1 << 30,
		"512M": 512 << 20, "64k": 64 << 10, "2T": 2 << 40, " 300 ": 300, "300B": 300, "4KB": 4 << 10,
	} {
		got, err := damage.ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "0M", "-1", "1.5G", "G", "1X", "1 G", "99999999999T", "9223372036854775808",
		"1iB", "1I", "1IB", "1BB", "1GII"} {
		_, err := damage.ParseSize(in)
		assert.Error(t, err, in)
	}
}

func TestLimits(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	lim, err := damage.Limits("")
	require.NoError(t, err)
	assert.Equal(t, etw.Limits{}, lim, "neither: etw's defaults")

	t.Setenv(damage.MaxMemoryEnv, "1G")
	lim, err = damage.Limits("")
	require.NoError(t, err)
	assert.Equal(t, int64(1<<30), lim.MaxMemory)
	lim, err = damage.Limits("2G")
	require.NoError(t, err)
	assert.Equal(t, int64(2<<30), lim.MaxMemory, "the flag wins")

	t.Setenv(damage.MaxMemoryEnv, "lots")
	_, err = damage.Limits("")
	assert.ErrorContains(t, err, "$ETWKIT_MAX_MEMORY")
	_, err = damage.Limits("-5")
	assert.ErrorContains(t, err, "-max-memory")
}

func readLimited(t *testing.T, path string, order etw.Order, maxMemory string) (etw.ReadReport, *etw.Reader, error) {
	t.Helper()
	lim, err := damage.Limits(maxMemory)
	require.NoError(t, err)
	r, err := etw.OpenLimited(path, lim)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	require.NoError(t, r.SetOrder(order))
	var errs []error
	var last error
	for _, err := range r.All() {
		if err != nil {
			errs = append(errs, err)
			last = err
		}
	}
	return r.Report(errs), r, last
}

// TestLimitReport: a trace stopped by the memory ceiling after some events
// is partial, lists the LimitError with its buffer, and its warning says
// which limit stopped it and how to raise it.
func TestLimitReport(t *testing.T) {
	tr := damagetest.Write(t, true)
	for _, order := range []etw.Order{etw.TimeOrder, etw.FileOrder} {
		d, r, last := readLimited(t, tr.Limited, order, damagetest.LimitedMaxMemory)
		require.ErrorIs(t, last, etw.ErrLimit)
		assert.True(t, damage.PartialStop(r, last))
		assert.GreaterOrEqual(t, r.Stats().Events, int64(damagetest.LimitedEvents))
		assert.False(t, d.Complete)
		assert.Equal(t, damage.ExitPartial, damage.ExitCode(&d))
		require.Len(t, d.ReadErrors, 1)
		assert.Equal(t, 2, d.ReadErrors[0].Buffer, "the first full buffer after the header and the small one")
		var w bytes.Buffer
		damage.Warn(&w, "tool", &d)
		assert.Contains(t, w.String(), "tool: warning: etw: buffer 2 at offset")
		assert.Contains(t, w.String(), "(Limits.MaxMemory)")
		assert.Contains(t, w.String(), "tool: warning: partial result: reading stopped at a resource limit after 3 buffers (1 read error)")
		assert.Contains(t, w.String(), "tool: warning: the memory ceiling is 32K; to read further, raise it, e.g. with -max-memory 93K or ETWKIT_MAX_MEMORY=93K\n")

		d, _, last = readLimited(t, tr.Limited, order, "93K")
		assert.NoError(t, last)
		assert.True(t, d.Complete, "a ceiling raised enough reads it whole")
	}
	assert.False(t, damage.PartialStop(nil, nil))
	assert.Empty(t, damage.LimitAdvice(etw.ErrCorrupt))
}

// TestPendingReport: damage known at open is in the report of a reader
// read to its end once, and in that of a read stopped early.
func TestPendingReport(t *testing.T) {
	tr := damagetest.Write(t, false)
	for _, name := range []string{tr.Trailing, tr.CorruptZip} {
		d := readAll(t, name)
		assert.False(t, d.Complete, name)
		require.NotEmpty(t, d.ReadErrors, name)
		n := len(d.ReadErrors)

		r, err := etw.Open(name)
		require.NoError(t, err)
		var errs []error
		for _, err := range r.All() {
			if err != nil {
				errs = append(errs, err)
			}
			break
		}
		s := r.StoppedReport(errs)
		require.NoError(t, r.Close())
		assert.False(t, s.Complete, name)
		assert.Equal(t, damage.ExitPartial, damage.ExitCode(&s))
		assert.Equal(t, d.ReadErrors[n-1], s.ReadErrors[len(s.ReadErrors)-1], "the damage known at open, last")
		assert.LessOrEqual(t, len(s.ReadErrors), n)
	}
	d := readAll(t, tr.Trailing)
	require.Len(t, d.ReadErrors, 1, "not reported twice when the reader is drained")
	assert.Contains(t, d.ReadErrors[0].Error, "trailing bytes")
	d = readAll(t, tr.CorruptZip)
	assert.Contains(t, d.ReadErrors[len(d.ReadErrors)-1].Error, "inflating stopped")
}

func TestCount(t *testing.T) {
	assert.Equal(t, "0 read errors", damage.Count(0, "read error"))
	assert.Equal(t, "1 read error", damage.Count(1, "read error"))
	assert.Equal(t, "21 buffers", damage.Count(21, "buffer"))
}
