package leak

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeScenario writes a pool scenario to a file in dir.
func writeScenario(t *testing.T, dir string, o etltest.ScenarioOptions) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("ptr%d-keys%v-header%d.etl", o.PointerSize, o.StackKeys, o.PoolHeader))
	sc := etltest.NewScenario(o)
	require.NoError(t, sc.WriteFile(path, sc.WriterOptions()))
	return path
}

// TestPerfInfoPoolHeaders runs the leak scenario with PoolTrace records
// written with SYSTEM headers and with PERFINFO headers (no process, no
// thread): the answer must be the same, outstanding stacks, their
// processes and WOW64 segments, the per-process table and the -pid
// filter, with full stack walks and with stack keys (defined at the end
// of the trace), in 64- and 32-bit traces.
func TestPerfInfoPoolHeaders(t *testing.T) {
	dir := t.TempDir()
	for _, ptr := range []int{8, 4} {
		for _, keys := range []bool{false, true} {
			t.Run(fmt.Sprintf("ptr%d/keys=%v", ptr, keys), func(t *testing.T) {
				o := etltest.ScenarioOptions{Seed: 7, Events: 1500, Leak: true, LeakCount: 40, StackKeys: keys, Damage: true, PointerSize: ptr}
				sys := writeScenario(t, dir, o)
				o.PoolHeader = etltest.HeaderPerfInfo
				perf := writeScenario(t, dir, o)

				want, err := Run(sys, Options{})
				require.NoError(t, err)
				got, err := Run(perf, Options{})
				require.NoError(t, err)
				assert.Zero(t, got.StackStats.ProcessUnknown, "pool events left without a process")
				assert.Equal(t, got.StackStats.Emitted, got.StackStats.ProcessFromStack, "every pool event gets its process from its stack")
				assert.Zero(t, got.StackStats.Unattached)
				assert.Equal(t, want.Report.Totals, got.Report.Totals)
				assert.Equal(t, want.Report.Tags, got.Report.Tags)
				assert.NotEmpty(t, got.Report.Processes)
				assert.Equal(t, want.Report.Processes, got.Report.Processes)
				require.Equal(t, len(want.Stacks), len(got.Stacks))
				for i := range want.Stacks {
					w, g := want.Stacks[i], got.Stacks[i]
					assert.Equal(t, w.Frames, g.Frames, "stack %d", i)
					assert.Equal(t, w.Segments, g.Segments, "stack %d", i)
					assert.Equal(t, w.PID, g.PID, "stack %d", i)
					assert.Equal(t, w.Process, g.Process, "stack %d", i)
					assert.Equal(t, w.Transition, g.Transition, "stack %d", i)
					assert.Equal(t, w.OutstandingBytes, g.OutstandingBytes, "stack %d", i)
				}
				require.NotEmpty(t, got.Stacks)
				irp := got.Stacks[0]
				assert.Equal(t, "Irp ", irp.Tag)
				assert.Equal(t, "ReadLeak.exe", irp.Process)
				if ptr == 8 {
					assert.True(t, irp.Transition, "the leak's WOW64 stack")
					assert.Positive(t, irp.Segments.WOW64)
				}
				for _, s := range got.Stacks {
					for _, f := range s.Frames {
						assert.NotContains(t, f, "stack key")
					}
				}

				// -pid keeps the leaking process's allocations.
				wantPID, err := Run(sys, Options{HasPID: true, PID: irp.PID})
				require.NoError(t, err)
				gotPID, err := Run(perf, Options{HasPID: true, PID: irp.PID})
				require.NoError(t, err)
				assert.Equal(t, wantPID.Report.Totals, gotPID.Report.Totals)
				assert.Positive(t, gotPID.Report.Totals.OutstandingCount)
			})
		}
	}
}
