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

func readAll(t *testing.T, path string) etw.ReadReport {
	t.Helper()
	r, err := etw.Open(path)
	require.NoError(t, err)
	defer r.Close()
	var errs []error
	for _, err := range r.All() {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return r.Report(errs)
}

// TestReport: a trace read whole is complete; a trace cut at a buffer
// boundary (no damaged record at all), one whose header claims 16 MiB
// buffers and one with a damaged record are not, and say why.
func TestReport(t *testing.T) {
	for _, keys := range []bool{false, true} {
		tr := damagetest.Write(t, keys)
		require.GreaterOrEqual(t, tr.Buffers, 24)

		d := readAll(t, tr.Complete)
		assert.True(t, d.Complete)
		assert.Equal(t, tr.Buffers, d.BuffersRead)
		assert.Equal(t, tr.Buffers, d.BuffersWritten)
		assert.Empty(t, d.ReadErrors)
		assert.Equal(t, damage.ExitOK, damage.ExitCode(&d))
		var w bytes.Buffer
		damage.Warn(&w, "tool", &d)
		assert.Empty(t, w.String())

		d = readAll(t, tr.Cut)
		assert.False(t, d.Complete)
		assert.Equal(t, tr.Buffers/2, d.BuffersRead)
		assert.Equal(t, tr.Buffers, d.BuffersWritten)
		assert.Empty(t, d.ReadErrors)
		assert.Equal(t, damage.ExitPartial, damage.ExitCode(&d))
		w.Reset()
		damage.Warn(&w, "tool", &d)
		assert.Contains(t, w.String(), "tool: warning: partial result: read")

		d = readAll(t, tr.CircularCut)
		assert.True(t, d.Complete, "a circular file's BuffersWritten may count wrapped buffers: not evidence")
		assert.Equal(t, tr.Buffers/2, d.BuffersRead)
		assert.False(t, d.Missing())

		d = readAll(t, tr.BigHeader)
		assert.False(t, d.Complete)
		assert.Equal(t, 1, d.BuffersRead)
		require.NotEmpty(t, d.ReadErrors)
		assert.Equal(t, 0, d.ReadErrors[0].Buffer)

		d = readAll(t, tr.Corrupt)
		assert.False(t, d.Complete)
		require.Len(t, d.ReadErrors, 1)
		assert.Equal(t, 3, d.ReadErrors[0].Buffer)
		assert.GreaterOrEqual(t, d.ReadErrors[0].Offset, int64(3*damagetest.BufferSize))
		assert.Less(t, d.ReadErrors[0].Offset, int64(4*damagetest.BufferSize))
		w.Reset()
		damage.Warn(&w, "tool", &d)
		assert.Contains(t, w.String(), "tool: warning: etw: buffer 3")
	}
}

// TestStoppedReport: a read stopped on purpose is complete unless it met
// damage; the buffers left unread do not count.
func TestStoppedReport(t *testing.T) {
	tr := damagetest.Write(t, true)
	r, err := etw.Open(tr.Cut)
	require.NoError(t, err)
	defer r.Close()
	d := r.StoppedReport(nil)
	assert.True(t, d.Complete)
	assert.Empty(t, d.ReadErrors)
	fe := &etw.FormatError{Buffer: 2, Offset: 0x100, RecordOffset: -1, Msg: "x", Err: etw.ErrCorrupt}
	d = r.StoppedReport([]error{fe})
	assert.False(t, d.Complete)
	assert.Equal(t, []etw.ReadDamage{{Buffer: 2, Offset: 0x100, Error: fe.Error()}}, d.ReadErrors)
	assert.Equal(t, damage.ExitPartial, damage.ExitCode(&d))
}

// TestPartial: Partial is the last warning without its prefix, and empty
// for a trace read whole.
func TestPartial(t *testing.T) {
	tr := damagetest.Write(t, true)
	d := readAll(t, tr.Complete)
	assert.Empty(t, d.Partial())
	for _, path := range []string{tr.Cut, tr.Corrupt} {
		d := readAll(t, path)
		require.NotEmpty(t, d.Partial(), path)
		var w bytes.Buffer
		damage.Summarize(&w, "tool", &d)
		assert.Equal(t, "tool: warning: "+d.Partial()+"\n", w.String(), path)
	}
}
