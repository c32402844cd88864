package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
)

// TestExitCodes: 0 for a trace read whole (or up to -limit), 3 after
// printing the events of a partial trace (issue 15: it was 1, as for a
// file it could not read), 1 for a file that is no trace, 2 for bad flags.
func TestExitCodes(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			var out, errOut bytes.Buffer
			assert.Equal(t, 0, run([]string{"-kinds", "pool", tr.Complete}, &out, &errOut), errOut.String())
			assert.Empty(t, errOut.String())
			for _, partial := range []string{tr.Cut, tr.Corrupt, tr.BigHeader} {
				out.Reset()
				errOut.Reset()
				assert.Equal(t, 3, run([]string{partial}, &out, &errOut), partial)
				assert.NotEmpty(t, out.String(), partial)
				assert.Contains(t, errOut.String(), "etwdump: warning: partial result", partial)
			}
			// Stopped by -limit before the damage: nothing is missing.
			errOut.Reset()
			assert.Equal(t, 0, run([]string{"-limit", "5", tr.Cut}, &out, &errOut), errOut.String())
			assert.Equal(t, 1, run([]string{tr.Unreadable}, &out, &errOut))
		})
	}
}

// TestFlagErrors: a negative -limit and -kinds stack with -stacks are
// usage errors that say why (issue 15: -limit -5 meant no limit, and
// -kinds stack -stacks printed nothing).
func TestFlagErrors(t *testing.T) {
	leak := filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run([]string{"-limit", "-5", leak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "-limit -5")
	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-kinds", "stack", "-stacks", leak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "attaches each StackWalk record to its event")
	assert.Empty(t, out.String())

	errOut.Reset()
	assert.Equal(t, 0, run([]string{"-kinds", "pool,stack", "-stacks", "-limit", "3", leak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "-kinds stack adds nothing")
	assert.Equal(t, 3, strings.Count(out.String(), "\n"))

	errOut.Reset()
	missing := filepath.Join(t.TempDir(), "nonexistent")
	assert.Equal(t, 0, run([]string{"-stacks", "-symbols", missing, "-limit", "1", leak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "etwdump: warning: symbol path: folder "+missing+" does not exist")
}
