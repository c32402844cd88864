package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
)

// TestDamageLinesAreWarnings: after printing the events of a partial
// trace, every stderr line is a "etwdump: warning: " line, the read
// errors included, as poolleak, etlstat and poolwatch -replay print them.
func TestDamageLinesAreWarnings(t *testing.T) {
	tr := damagetest.Write(t, true)
	for _, partial := range []string{tr.Cut, tr.Corrupt, tr.BigHeader} {
		for _, args := range [][]string{{partial}, {"-traceevent", partial}} {
			var out, errOut bytes.Buffer
			assert.Equal(t, 3, run(args, &out, &errOut), args)
			lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
			assert.Greater(t, len(lines), 0, args)
			for _, l := range lines {
				assert.True(t, strings.HasPrefix(l, "etwdump: warning: "), "%v: %q", args, l)
			}
		}
	}
}

// TestFileOrderStacksIsUsage: -file-order with -stacks is a usage error
// found before the trace is opened, as the other flag errors are (it was
// exit 1, "no such file", for a path that does not exist).
func TestFileOrderStacksIsUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	missing := filepath.Join(t.TempDir(), "missing.etl")
	assert.Equal(t, 2, run([]string{"-file-order", "-stacks", missing}, &out, &errOut))
	assert.Equal(t, "etwdump: -stacks needs time order; drop -file-order\n", errOut.String())
}
