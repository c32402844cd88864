package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
)

// TestReplayExitCodes: -replay exits 0 on a trace read whole, 3 with a
// warning after printing its tables from a partial one, 1 on a file that
// is no trace; bad -tag and -top are usage errors; a symbol folder that
// does not exist is warned about.
func TestReplayExitCodes(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			var out, errOut bytes.Buffer
			assert.Equal(t, 0, run([]string{"-replay", tr.Complete, "-interval", "1h"}, &out, &errOut), errOut.String())
			assert.NotContains(t, errOut.String(), "warning")
			for _, partial := range []string{tr.Cut, tr.Corrupt, tr.BigHeader} {
				out.Reset()
				errOut.Reset()
				assert.Equal(t, 3, run([]string{"-replay", partial, "-interval", "1h"}, &out, &errOut), partial)
				assert.Contains(t, out.String(), "final", partial)
				assert.Contains(t, errOut.String(), "poolwatch: warning: partial result", partial)
			}
			assert.Equal(t, 1, run([]string{"-replay", tr.Unreadable}, &out, &errOut))
			assert.Equal(t, 2, run([]string{"-replay", tr.Complete, "-tag", "ThisIsLong"}, &out, &errOut))
			assert.Equal(t, 2, run([]string{"-replay", tr.Complete, "-top", "-2"}, &out, &errOut))
		})
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run([]string{"-replay", irpLeak, "-interval", "1h", "-tag", "irp"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `poolwatch: warning: -tag "irp" matched no pool event; close matches: "Irp "`)
	missing := filepath.Join(t.TempDir(), "nonexistent")
	assert.Equal(t, 0, run([]string{"-replay", irpLeak, "-interval", "1h", "-symbols", missing}, &out, &errOut))
	assert.Contains(t, errOut.String(), "poolwatch: warning: symbol path: folder "+missing+" does not exist")
}
