package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
)

// TestReplayDamageKnownAtOpen: trailing bytes and a corrupt zip member,
// found when the trace is opened, make the replay partial (exit 3), each
// reported once.
func TestReplayDamageKnownAtOpen(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			var out, errOut bytes.Buffer
			assert.Equal(t, 3, run([]string{"-replay", tr.Trailing, "-interval", "1h"}, &out, &errOut), errOut.String())
			assert.Contains(t, out.String(), "final")
			assert.Equal(t, 1, strings.Count(errOut.String(), "trailing bytes are too short"), errOut.String())
			assert.Contains(t, errOut.String(), "poolwatch: warning: partial result")
			out.Reset()
			errOut.Reset()
			assert.Equal(t, 3, run([]string{"-replay", tr.CorruptZip, "-interval", "1h"}, &out, &errOut), errOut.String())
			assert.Equal(t, 1, strings.Count(errOut.String(), "inflating stopped"), errOut.String())
		})
	}
}

// TestReplayMemoryCeiling: a LimitError after some events prints the
// tables of the part read (exit 3) and how to raise the ceiling; before
// any event it is exit 1 with the same advice; a bad ceiling is a usage
// error.
func TestReplayMemoryCeiling(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	tr := damagetest.Write(t, true)
	var out, errOut bytes.Buffer
	assert.Equal(t, 3, run([]string{"-replay", tr.Limited, "-interval", "1h", "-max-memory", damagetest.LimitedMaxMemory}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "final")
	assert.Contains(t, out.String(), "Lim ")
	assert.Contains(t, errOut.String(), "poolwatch: warning: etw: buffer 2 at offset")
	assert.Contains(t, errOut.String(), "poolwatch: warning: partial result: reading stopped at a resource limit")
	assert.Contains(t, errOut.String(), "raise it, e.g. with -max-memory 93K or ETWKIT_MAX_MEMORY=93K")

	out.Reset()
	errOut.Reset()
	assert.Equal(t, 0, run([]string{"-replay", tr.Limited, "-interval", "1h", "-max-memory", "93K"}, &out, &errOut), errOut.String())
	errOut.Reset()
	t.Setenv(damage.MaxMemoryEnv, "1K")
	assert.Equal(t, 1, run([]string{"-replay", tr.Limited, "-interval", "1h"}, &out, &errOut), errOut.String())
	assert.Contains(t, errOut.String(), "poolwatch: the memory ceiling is 1K; to read further, raise it, e.g. with -max-memory")
	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-replay", tr.Limited, "-max-memory", "1.5G"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `poolwatch: -max-memory: size "1.5G"`)
}
