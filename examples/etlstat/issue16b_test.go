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

// TestDamageKnownAtOpen: etlstat reads in file order to the end; damage
// found when the trace is opened is reported once, exit 3.
func TestDamageKnownAtOpen(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			for name, msg := range map[string]string{tr.Trailing: "trailing bytes are too short", tr.CorruptZip: "inflating stopped"} {
				var out, errOut bytes.Buffer
				assert.Equal(t, 3, run([]string{"-json", name}, &out, &errOut), errOut.String())
				assert.Equal(t, 1, strings.Count(out.String(), msg), "in the census's errors: %s", out.String())
				assert.Equal(t, 1, strings.Count(errOut.String(), msg), errOut.String())
				assert.Contains(t, errOut.String(), "etlstat: warning: partial result")
			}
		})
	}
}

// TestMemoryCeiling: a census stopped by the memory ceiling is printed,
// exit 3, with the LimitError among its errors and how to raise the
// ceiling; the ceiling comes from -max-memory or $ETWKIT_MAX_MEMORY, and a
// bad value is a usage error.
func TestMemoryCeiling(t *testing.T) {
	t.Setenv(damage.MaxMemoryEnv, "")
	tr := damagetest.Write(t, true)
	var out, errOut bytes.Buffer
	assert.Equal(t, 3, run([]string{"-json", "-max-memory", damagetest.LimitedMaxMemory, tr.Limited}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "(Limits.MaxMemory)")
	assert.Contains(t, errOut.String(), "etlstat: warning: partial result: reading stopped at a resource limit after 3 buffers")
	assert.Contains(t, errOut.String(), "etlstat: warning: the memory ceiling is 32K; to read further, raise it, e.g. with -max-memory 93K or ETWKIT_MAX_MEMORY=93K")

	errOut.Reset()
	assert.Equal(t, 0, run([]string{"-max-memory", "93K", tr.Limited}, &out, &errOut), errOut.String())
	t.Setenv(damage.MaxMemoryEnv, damagetest.LimitedMaxMemory)
	assert.Equal(t, 3, run([]string{tr.Limited}, &out, &errOut))
	t.Setenv(damage.MaxMemoryEnv, "x")
	errOut.Reset()
	assert.Equal(t, 2, run([]string{tr.Limited}, &out, &errOut))
	assert.Contains(t, errOut.String(), `etlstat: $ETWKIT_MAX_MEMORY: size "x"`)
}
