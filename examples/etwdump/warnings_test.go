package main

import (
	"bytes"
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
