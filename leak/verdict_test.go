package leak

import (
	"slices"

	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/pooltag"
	"github.com/etwkit/etwkit/internal/symtrace"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

var symbolsDir = symtrace.Dir

// writeSymbolTrace writes the trace of package symtrace (see there) in a
// temporary folder.
func writeSymbolTrace(t *testing.T, keys bool) string {
	return writeSymbolTraceKind(t, keys, etltest.HeaderSystem)
}

func writeSymbolTraceKind(t *testing.T, keys bool, kind etltest.HeaderKind) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "symbols.etl")
	require.NoError(t, symtrace.Write(path, symtrace.Options{StackKeys: keys, PoolHeader: kind}))
	return path
}

func TestVerdictWithSymbols(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(map[bool]string{false: "stack walks", true: "stack keys"}[keys], func(t *testing.T) {
			path := writeSymbolTrace(t, keys)
			pt, err := pooltag.Parse(strings.NewReader("Etwk - driver.sys - etwkit test contexts\nNois - <unknown> - noise\n"))
			require.NoError(t, err)
			res, err := Run(path, Options{SymbolPath: symbolsDir, PoolTags: pt})
			require.NoError(t, err)
			tags := res.Report.Tags
			require.GreaterOrEqual(t, len(tags), 2)
			// The noisy tag holds most bytes, and leaks (rank 2, score > 0).
			assert.Equal(t, "Nois", tags[0].Tag.String())
			assert.Equal(t, 2, tags[0].LeakRank)
			assert.Positive(t, tags[0].LeakScore)
			v := res.Verdict
			require.NotNil(t, v)
			assert.Equal(t, "Etwk", v.Tag)
			assert.Equal(t, "nonpaged", v.Pool)
			assert.Equal(t, 1, v.LeakRank)
			assert.Equal(t, uint64(100), v.OutstandingCount)
			assert.Equal(t, uint64(204800), v.OutstandingBytes)
			assert.InDelta(t, 20480, v.GrowthBytesPerS, 500)
			assert.Equal(t, []VerdictProcess{{PID: symtrace.PIDApp, Name: "LeakApp.exe", OutstandingBytes: 80 * 2048},
				{PID: symtrace.PIDSvc, Name: "svc.exe", OutstandingBytes: 20 * 2048}}, v.Processes)
			assert.Equal(t, "driver.sys!DriverEntry+0x1c", v.Owner)
			assert.Equal(t, "/etwkit/testdata/symbols/driver.c:37", v.OwnerLine, "the line of the call, not of the return address")
			assert.Equal(t, "x86dll.dll!Accumulate+0x", v.Caller[:len("x86dll.dll!Accumulate+0x")])
			assert.Equal(t, "/etwkit/testdata/symbols/x86dll.c:38", v.CallerLine)
			assert.InDelta(t, 0.8, v.StackShare, 1e-9)
			assert.Equal(t, "etwkit test contexts (driver.sys)", v.Description)
			assert.Equal(t, []string{"driver.sys"}, v.TagInImages)
			require.NotNil(t, v.Stack)
			assert.Equal(t, stacks.Kernel, v.Stack.Resolved[v.OwnerFrame].Kind)
			assert.Equal(t, stacks.WOW64, v.Stack.Resolved[v.CallerFrame].Kind)
			lines := v.Lines()
			t.Log(strings.Join(lines, "\n"))
			assert.Contains(t, lines[0], `"Etwk" (etwkit test contexts (driver.sys)) leaks nonpaged pool: 100 blocks, 204800 bytes`)
			assert.Contains(t, strings.Join(lines, "\n"), "Allocated by driver.sys!DriverEntry+0x1c at /etwkit/testdata/symbols/driver.c:37, asked for by x86dll.dll!Accumulate+0x")
		})
	}
}

func TestVerdictWithoutSymbols(t *testing.T) {
	path := writeSymbolTrace(t, false)
	res, err := Run(path, Options{})
	require.NoError(t, err)
	v := res.Verdict
	require.NotNil(t, v)
	assert.Equal(t, "Etwk", v.Tag)
	assert.Equal(t, "driver.sys+0x101c", v.Owner)
	assert.Equal(t, "", v.OwnerLine)
	assert.Equal(t, "x86dll.dll+0x111b", v.Caller)
	assert.Equal(t, "", v.Description)
	assert.Empty(t, v.TagInImages)
	assert.InDelta(t, 0.8, v.StackShare, 1e-9)
}

// The shipped fixture: the Irp tag of the WOW64 ReadLeak.exe, whose
// kernel part is all ntoskrnl's (unsymbolized: the innermost frame).
func TestVerdictIrpLeak(t *testing.T) {
	res, err := Run(irpLeak, Options{})
	require.NoError(t, err)
	v := res.Verdict
	require.NotNil(t, v)
	assert.Equal(t, "Irp ", v.Tag)
	assert.Equal(t, "nonpaged", v.Pool)
	assert.Equal(t, 1, v.LeakRank)
	assert.Equal(t, uint64(156), v.OutstandingCount)
	assert.Equal(t, uint64(159744), v.OutstandingBytes)
	assert.Equal(t, []VerdictProcess{{PID: 6420, Name: "ReadLeak.exe", OutstandingBytes: 159744}}, v.Processes)
	assert.Equal(t, "ntoskrnl.exe+0x3c1a5e", v.Owner)
	assert.Equal(t, "ReadLeak.exe+0x11a3", v.Caller, "the first 32-bit frame outside the system DLLs")
	assert.Equal(t, 1.0, v.StackShare)

	// A tag that holds nothing does not leak: no verdict.
	res, err = Run(irpLeak, Options{Tag: "Even"})
	require.NoError(t, err)
	assert.Nil(t, res.Verdict)
	assert.Contains(t, res.Verdict.Lines()[0], "No tag leaks")
}

// TestVerdictWindow: with -window the verdict's tag, growth, R² and rank
// are the window's, as in the tag table (the verdict used the whole
// trace's figures, and named a leak for a window after the trace's end).
func TestVerdictWindow(t *testing.T) {
	res, err := Run(irpLeak, Options{Window: [2]float64{2, 8}, HasWindow: true})
	require.NoError(t, err)
	require.NotNil(t, res.Window)
	v := res.Verdict
	require.NotNil(t, v)
	i := slices.IndexFunc(res.Window.Tags, func(t pool.TagStats) bool { return t.LeakRank == 1 })
	require.GreaterOrEqual(t, i, 0)
	w := res.Window.Tags[i]
	assert.Equal(t, w.Tag.String(), v.Tag)
	assert.Equal(t, w.GrowthBytesPerS, v.GrowthBytesPerS)
	assert.Equal(t, w.GrowthR2, v.GrowthR2)
	assert.Equal(t, w.OutstandingBytes, v.OutstandingBytes)

	// A window after the trace's end holds no growth: no verdict.
	res, err = Run(irpLeak, Options{Window: [2]float64{20, 30}, HasWindow: true})
	require.NoError(t, err)
	assert.Nil(t, res.Verdict)
}

func sym(name string) *stacks.Symbol { return &stacks.Symbol{Name: name} }

// Owner and caller rules on hand-made frames.
func TestOwnerCallerFrames(t *testing.T) {
	nt := &stacks.Module{Name: "ntoskrnl.exe"}
	hal := &stacks.Module{Name: "hal.dll"}
	drv := &stacks.Module{Name: "leakdrv.sys"}
	ntdll := &stacks.Module{Name: "ntdll.dll"}
	kb := &stacks.Module{Name: "KERNELBASE.dll"}
	app := &stacks.Module{Name: "app.exe"}
	k := func(m *stacks.Module, s *stacks.Symbol) stacks.Frame {
		return stacks.Frame{Kind: stacks.Kernel, Module: m, Symbol: s}
	}
	// Kernel only ntoskrnl, symbolized: the first frame outside the allocator.
	frames := []stacks.Frame{k(nt, sym("ExAllocateHeapPool")), k(nt, sym("ExAllocatePoolWithTag")), k(nt, sym("IoAllocateIrpEx")),
		k(hal, sym("HalpX")), k(nt, sym("NtReadFile")),
		{Kind: stacks.User, Module: ntdll}, {Kind: stacks.User, Module: kb}, {Kind: stacks.User, Module: app}}
	assert.Equal(t, 2, OwnerFrame(frames))
	assert.Equal(t, 7, CallerFrame(frames))
	// A driver in the kernel part wins.
	frames[4] = k(drv, nil)
	assert.Equal(t, 4, OwnerFrame(frames))
	// Unsymbolized ntoskrnl only: the innermost kernel frame.
	assert.Equal(t, 0, OwnerFrame([]stacks.Frame{k(nt, nil), k(nt, nil)}))
	assert.Equal(t, -1, OwnerFrame([]stacks.Frame{{Kind: stacks.User, Module: app}}))
	// Only system DLLs: no caller.
	assert.Equal(t, -1, CallerFrame(frames[:7]))
	assert.Equal(t, -1, CallerFrame(nil))
}

// PERFINFO-header pool events carry no process or thread: the tag, its
// figures and the kernel owner hold all the same.
func TestVerdictPerfInfoHeaders(t *testing.T) {
	path := writeSymbolTraceKind(t, false, etltest.HeaderPerfInfo)
	res, err := Run(path, Options{SymbolPath: symbolsDir})
	require.NoError(t, err)
	v := res.Verdict
	require.NotNil(t, v)
	assert.Equal(t, "Etwk", v.Tag)
	assert.Equal(t, uint64(204800), v.OutstandingBytes)
	lines := strings.Join(v.Lines(), "\n")
	t.Log(lines)
	assert.NotContains(t, lines, "pid (pid")
	if v.Stack == nil {
		// Until PERFINFO pool events are attributed to their thread.
		assert.Zero(t, v.StackShare)
		assert.Contains(t, lines, "No stack is known")
	} else {
		assert.Equal(t, "driver.sys!DriverEntry+0x1c", v.Owner)
	}
}
