package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
)

// TestDamageKnownAtOpen: damage found when the trace is opened (trailing
// bytes after the last buffer, a corrupt zip member) makes the run partial
// even when -limit stops it before the damage, and is printed once when
// the trace is read to the end.
func TestDamageKnownAtOpen(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	for _, keys := range []bool{false, true} {
		tr := damagetest.Write(t, keys)
		for _, name := range []string{tr.Trailing, tr.CorruptZip} {
			for _, args := range [][]string{{"-limit", "1"}, {"-limit", "1", "-file-order"}, {"-kinds", "pool"}, {"-traceevent"}} {
				var out, errOut bytes.Buffer
				assert.Equal(t, 3, run(append(args, name), &out, &errOut), "%v %s: %s", args, name, errOut.String())
				assert.NotEmpty(t, out.String())
				assert.Contains(t, errOut.String(), "etwdump: warning: partial result", "%v %s", args, name)
			}
			var out, errOut bytes.Buffer
			run([]string{"-limit", "1", name}, &out, &errOut)
			if name == tr.Trailing {
				assert.Equal(t, 1, strings.Count(errOut.String(), "trailing bytes are too short"), errOut.String())
				errOut.Reset()
				run([]string{name}, &out, &errOut)
				assert.Equal(t, 1, strings.Count(errOut.String(), "trailing bytes are too short"), "drained: reported once: %s", errOut.String())
			} else {
				assert.Equal(t, 1, strings.Count(errOut.String(), "inflating stopped"), errOut.String())
			}
		}
		var out, errOut bytes.Buffer
		assert.Equal(t, 0, run([]string{"-limit", "1", tr.Complete}, &out, &errOut), errOut.String())
		assert.Empty(t, errOut.String())
	}
}

// TestMemoryCeiling: events printed before a LimitError are a partial
// result (exit 3) whose warnings name the ceiling and how to raise it; a
// ceiling reached before any event is exit 1 with the same advice; the
// ceiling comes from -max-memory, else $ETWKIT_MAX_MEMORY, and a bad value
// is a usage error.
func TestMemoryCeiling(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	tr := damagetest.Write(t, true)
	for _, args := range [][]string{{}, {"-file-order"}, {"-traceevent"}} {
		var out, errOut bytes.Buffer
		args := append(args, "-max-memory", damagetest.LimitedMaxMemory, tr.Limited)
		assert.Equal(t, 3, run(args, &out, &errOut), "%v: %s", args, errOut.String())
		assert.NotEmpty(t, out.String())
		assert.Contains(t, errOut.String(), "over the ceiling of 32768 (Limits.MaxMemory)")
		assert.Contains(t, errOut.String(), "etwdump: warning: partial result: reading stopped at a resource limit")
		assert.Contains(t, errOut.String(), "raise it, e.g. with -max-memory 93K or ETWKIT_MAX_MEMORY=93K")
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 3, run([]string{"-kinds", "pool", "-max-memory", damagetest.LimitedMaxMemory, tr.Limited}, &out, &errOut))
	assert.Equal(t, damagetest.LimitedEvents, strings.Count(out.String(), "\n"))

	out.Reset()
	errOut.Reset()
	assert.Equal(t, 1, run([]string{"-max-memory", "1K", tr.Limited}, &out, &errOut), errOut.String())
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "etwdump: the memory ceiling is 1K; to read further, raise it, e.g. with -max-memory")

	t.Setenv(damage.MaxMemoryEnv, damagetest.LimitedMaxMemory)
	errOut.Reset()
	assert.Equal(t, 3, run([]string{tr.Limited}, &out, &errOut), errOut.String())
	assert.Equal(t, 0, run([]string{"-max-memory", "1M", tr.Limited}, &out, &errOut), "the flag wins")

	t.Setenv(damage.MaxMemoryEnv, "lots")
	errOut.Reset()
	assert.Equal(t, 2, run([]string{tr.Limited}, &out, &errOut))
	assert.Contains(t, errOut.String(), `$ETWKIT_MAX_MEMORY: size "lots"`)
	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-max-memory", "0", tr.Limited}, &out, &errOut))
	assert.Contains(t, errOut.String(), `-max-memory: size "0": want more than 0`)
}
