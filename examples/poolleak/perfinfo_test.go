package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPerfInfoPoolHeaders runs poolleak on the irp-leak scenario written
// with SYSTEM-headed and with PERFINFO-headed pool events: the text report
// (tags, stacks with their process and WOW64 segments) and the -pid view
// of the leaking process are the same but for the file name.
func TestPerfInfoPoolHeaders(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, h etltest.HeaderKind) string {
		path := filepath.Join(dir, name)
		sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 1, Events: 2000, Leak: true, StackKeys: true, Damage: true, PoolHeader: h})
		require.NoError(t, sc.WriteFile(path, sc.WriterOptions()))
		return path
	}
	sys := write("sys.etl", etltest.HeaderDefault)
	perf := write("sys.etl.perfinfo", etltest.HeaderPerfInfo)
	report := func(args ...string) string {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, run(args, &out, &errOut), errOut.String())
		return strings.ReplaceAll(out.String(), "sys.etl.perfinfo", "sys.etl")
	}
	want := report(sys)
	assert.Contains(t, want, `"Irp " nonpaged: 156 blocks, 159744 bytes (156.0 KiB), ReadLeak.exe (pid 6420); frames 6 kernel, 9 user, 8 wow64`)
	assert.Equal(t, want, report(perf))
	assert.Equal(t, report("-json", sys), report("-json", perf))
	byPID := report("-pid", "6420", perf)
	assert.Contains(t, byPID, "outstanding 156 blocks, 159744 bytes")
	assert.Equal(t, report("-pid", "6420", sys), byPID)
}
