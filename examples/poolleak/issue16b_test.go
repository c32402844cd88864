package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDamageKnownAtOpen: trailing bytes after the last buffer and a
// corrupt zip member are damage found at open; the report says so once.
func TestDamageKnownAtOpen(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			rep, stderr := runJSON(t, 3, tr.Trailing)
			assert.False(t, *rep.Trace.Complete)
			require.Len(t, rep.Trace.ReadErrors, 1)
			assert.Contains(t, *rep.Trace.ReadErrors[0].Error, "trailing bytes")
			assert.Contains(t, stderr, "poolleak: warning: partial result")
			assert.NotZero(t, rep.Trace.PoolEvents)

			rep, stderr = runJSON(t, 3, tr.CorruptZip)
			assert.False(t, *rep.Trace.Complete)
			require.NotEmpty(t, rep.Trace.ReadErrors)
			assert.Contains(t, *rep.Trace.ReadErrors[len(rep.Trace.ReadErrors)-1].Error, "inflating stopped")
			assert.Contains(t, stderr, "poolleak: warning: partial result")
		})
	}
}

// TestMemoryCeiling: a LimitError after some events gives the report of
// the part read (exit 3) with the error in read_errors and a warning that
// names the ceiling and how to raise it; before any event it is exit 1
// with the same advice; a bad ceiling is a usage error.
func TestMemoryCeiling(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	tr := damagetest.Write(t, true)
	rep, stderr := runJSON(t, 3, "-max-memory", damagetest.LimitedMaxMemory, tr.Limited)
	assert.False(t, *rep.Trace.Complete)
	assert.Equal(t, uint64(damagetest.LimitedEvents), rep.Trace.PoolEvents)
	require.Len(t, rep.Trace.ReadErrors, 1)
	e := rep.Trace.ReadErrors[0]
	assert.Equal(t, 2, *e.Buffer)
	assert.NotEqual(t, int64(-1), *e.Offset)
	assert.Contains(t, *e.Error, "over the ceiling of 32768 (Limits.MaxMemory)")
	require.Len(t, rep.Tags, 1)
	assert.Equal(t, "Lim ", rep.Tags[0].Tag)
	assert.Equal(t, uint64(damagetest.LimitedEvents), rep.Tags[0].Allocs)
	assert.Contains(t, stderr, "poolleak: warning: partial result: reading stopped at a resource limit after 3 buffers")
	assert.Contains(t, stderr, "poolleak: warning: the memory ceiling is 32K; to read further, raise it, e.g. with -max-memory 93K or ETWKIT_MAX_MEMORY=93K")

	var out, errOut bytes.Buffer
	assert.Equal(t, 3, run([]string{"-max-memory", damagetest.LimitedMaxMemory, tr.Limited}, &out, &errOut))
	assert.Contains(t, out.String(), "partial   read 3 of")

	rep, _ = runJSON(t, 0, "-max-memory", "93K", tr.Limited)
	assert.Equal(t, uint64(4000), rep.Trace.PoolEvents)

	t.Setenv(damage.MaxMemoryEnv, damagetest.LimitedMaxMemory)
	runJSON(t, 3, tr.Limited)
	out.Reset()
	errOut.Reset()
	assert.Equal(t, 1, run([]string{"-max-memory", "1K", tr.Limited}, &out, &errOut))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "poolleak: the memory ceiling is 1K; to read further, raise it, e.g. with -max-memory")

	t.Setenv(damage.MaxMemoryEnv, "1Q")
	errOut.Reset()
	assert.Equal(t, 2, run([]string{tr.Limited}, &out, &errOut))
	assert.Contains(t, errOut.String(), `poolleak: $ETWKIT_MAX_MEMORY: size "1Q"`)
}
