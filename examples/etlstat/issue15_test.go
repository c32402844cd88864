package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
)

// TestExitCodes: 0 for a trace read whole, 3 with a warning for a census
// of a partial trace, 1 for a file that is no trace and for a folder
// without traces (issue 15: an empty folder printed nothing, exit 0).
func TestExitCodes(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			var out, errOut bytes.Buffer
			assert.Equal(t, 0, run([]string{tr.Complete}, &out, &errOut), errOut.String())
			assert.Empty(t, errOut.String())
			for _, partial := range []string{tr.Cut, tr.Corrupt, tr.BigHeader} {
				out.Reset()
				errOut.Reset()
				assert.Equal(t, 3, run([]string{"-json", partial}, &out, &errOut), partial)
				assert.NotEmpty(t, out.String(), "the census is printed")
				assert.Contains(t, errOut.String(), "etlstat: warning: partial result", partial)
			}
			assert.Equal(t, 1, run([]string{tr.Unreadable}, &out, &errOut))
			assert.Equal(t, 1, run([]string{tr.Cut, tr.Unreadable}, &out, &errOut), "unreadable wins over partial")
		})
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run([]string{t.TempDir()}, &out, &errOut))
	assert.Contains(t, errOut.String(), "no .etl or .zip traces in this folder")
	assert.Equal(t, 2, run([]string{"-bogus"}, &out, &errOut))
}
