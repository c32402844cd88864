package export

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the real `go tool pprof` of the Go toolchain on exported
// profiles. They skip when no go command is found.

var pprofCmd struct {
	once sync.Once
	argv []string // command prefix running pprof
	err  error
}

// pprofArgv returns the command that runs pprof: the cached tool binary
// `go tool -n pprof` names (resolved once, with the normal environment, so
// the sandboxed runs below need no build cache), else `go tool pprof`.
func pprofArgv(t *testing.T) []string {
	t.Helper()
	pprofCmd.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			pprofCmd.err = err
			return
		}
		out, err := exec.Command(gobin, "tool", "-n", "pprof").Output()
		if p := strings.TrimSpace(string(out)); err == nil && p != "" && !strings.ContainsAny(p, " \n") {
			pprofCmd.argv = []string{p}
			return
		}
		pprofCmd.argv = []string{gobin, "tool", "pprof"}
	})
	if pprofCmd.err != nil {
		t.Skipf("no go command to run go tool pprof: %v", pprofCmd.err)
	}
	return pprofCmd.argv
}

// pprofWarnings matches what pprof prints when it tries, and fails, to
// symbolize a profile (internal/symbolizer and internal/driver).
var pprofWarnings = regexp.MustCompile(`(?i)symbolization failed|binary filenames? not available|unable to locate|build-id mismatch|Main binary filename not available|PPROF_BINARY_PATH`)

// writeProfile writes p as dir/name.pb.gz and returns its path.
func writeProfile(t *testing.T, dir, name string, p *profile.Profile) string {
	t.Helper()
	path := filepath.Join(dir, name+".pb.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, p.Write(f))
	require.NoError(t, f.Close())
	return path
}

// runPprof runs pprof with args in an environment where nothing local can
// be found by accident (HOME and PPROF_BINARY_PATH point to an empty
// directory) and returns stdout and stderr.
func runPprof(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	argv := pprofArgv(t)
	empty := t.TempDir()
	cmd := exec.Command(argv[0], append(argv[1:], args...)...)
	cmd.Env = append(os.Environ(),
		"HOME="+empty, "USERPROFILE="+empty, "PPROF_BINARY_PATH="+empty, "PPROF_TMPDIR="+empty, "TZ=UTC")
	if len(argv) > 1 {
		// `go tool pprof` may need the build cache, which lives under HOME
		// unless set explicitly.
		if c, err := exec.Command(argv[0], "env", "GOCACHE").Output(); err == nil {
			cmd.Env = append(cmd.Env, "GOCACHE="+strings.TrimSpace(string(c)))
		}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, err, "pprof %s failed: %s", strings.Join(args, " "), errb.String())
	return out.String(), errb.String()
}

// runPprofClean runs pprof and fails on any symbolization warning.
func runPprofClean(t *testing.T, args ...string) string {
	t.Helper()
	out, errs := runPprof(t, args...)
	assert.NotRegexp(t, pprofWarnings, errs, "pprof %s warned", strings.Join(args, " "))
	return out
}

// topRows returns the rows of a -top report: flat value and name.
func topRows(out string) [][2]string {
	var rows [][2]string
	in := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == "flat" {
			in = true
			continue
		}
		if in && len(f) >= 6 {
			rows = append(rows, [2]string{f[0], strings.Join(f[5:], " ")})
		}
	}
	return rows
}

type pprofFiles struct {
	whole, first, last, growth, diff, merged, fold, noModule string
}

func writeFixtureProfiles(t *testing.T) pprofFiles {
	t.Helper()
	dir := t.TempDir()
	build := func(half int, opts Options) *profile.Profile {
		return mustBuild(t, irpLeakWindow(half), irpLeakMeta(half), opts)
	}
	first, last := build(1, Options{}), build(2, Options{})
	growth, err := BuildGrowth(irpLeakWindow(0), irpLeakMeta(0), Options{})
	require.NoError(t, err)
	diff, err := Diff(first, last)
	require.NoError(t, err)
	merged, err := Merge(first, last)
	require.NoError(t, err)
	noModule := mustBuild(t, []Sample{{Frames: []Frame{{Address: 0xfffff80300001000}}, Tag: "None", InuseObjects: 1, InuseBytes: 16}}, Meta{}, Options{})
	return pprofFiles{
		whole:    writeProfile(t, dir, "whole", build(0, Options{})),
		first:    writeProfile(t, dir, "first", first),
		last:     writeProfile(t, dir, "last", last),
		growth:   writeProfile(t, dir, "growth", growth),
		diff:     writeProfile(t, dir, "diff", diff),
		merged:   writeProfile(t, dir, "merged", merged),
		fold:     writeProfile(t, dir, "fold", build(0, Options{FoldWOW64: true, QualifyNames: true})),
		noModule: writeProfile(t, dir, "nomodule", noModule),
	}
}

func TestPprof(t *testing.T) {
	pprofArgv(t)
	f := writeFixtureProfiles(t)

	t.Run("top", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", f.whole)
		assert.Contains(t, out, "Type: inuse_space")
		assert.Contains(t, out, "trace: irp-leak.etl")
		rows := topRows(out)
		require.NotEmpty(t, rows)
		assert.Equal(t, [2]string{"159744B", "IopAllocateIrpPrivate"}, rows[0])
		// Unsymbolized frames print as module+offset, frames outside every
		// module as their address.
		assert.Contains(t, out, "contoso.sys+0x1234")
		assert.Contains(t, out, "0xfffff80361234567")
	})
	t.Run("tagfocus", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", "-tagfocus=tag=Irp", f.whole)
		assert.Contains(t, out, "Showing nodes accounting for 159744B, 95.12% of 167936B total")
		assert.Equal(t, [][2]string{{"159744B", "IopAllocateIrpPrivate"}}, topRows(out)[:1])
		assert.NotContains(t, out, "ExAllocatePool2")
		out = runPprofClean(t, "-top", "-unit=B", "-tagfocus=pid=4242", "-tagfocus=pool=^nonpaged$", f.whole)
		assert.Contains(t, out, "Showing nodes accounting for 159744B")
	})
	t.Run("traces", func(t *testing.T) {
		out := runPprofClean(t, "-traces", f.whole)
		trace := traceOf(t, out, "leaky.exe")
		assert.Equal(t, []string{"IopAllocateIrpPrivate", "IoAllocateIrpEx", "NtReadFile", "KiSystemServiceCopyEnd",
			"NtReadFile", "whNtReadFile", "Wow64SystemServiceEx", "CpupSyscallStub", "TurboDispatchJumpAddressEnd",
			"RunCpuSimulation", "[wow64 transition]", "NtReadFile", "ReadFile", "ReadLoop", "WorkerThread",
			"BaseThreadInitThunk", "__RtlUserThreadStart", "RtlUserThreadStart"}, trace)
		assert.Contains(t, out, "tag:  Irp \n")
		out = runPprofClean(t, "-traces", f.fold)
		assert.Equal(t, []string{"ntoskrnl.exe!IopAllocateIrpPrivate", "ntoskrnl.exe!IoAllocateIrpEx", "ntoskrnl.exe!NtReadFile",
			"ntoskrnl.exe!KiSystemServiceCopyEnd", "[wow64 transition]", "ntdll.dll!NtReadFile", "KernelBase.dll!ReadFile",
			"leaky.exe!ReadLoop", "leaky.exe!WorkerThread", "kernel32.dll!BaseThreadInitThunk",
			"ntdll.dll!__RtlUserThreadStart", "ntdll.dll!RtlUserThreadStart"}, traceOf(t, out, "leaky.exe"))
	})
	t.Run("focus on the marker", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", "-sample_index=alloc_space", `-focus=\[wow64 transition\]`, f.whole)
		// leaky.exe's Irp stack and other.exe's Toke stack are WOW64.
		assert.Contains(t, out, "Showing nodes accounting for 325632B")
		// other.exe's Toke: the allocator frame (ExAllocatePool2) is
		// dropped, the allocation site is the innermost frame.
		assert.Contains(t, topRows(out), [2]string{"18432B", "SepDuplicateToken"})
		assert.NotContains(t, out, "MiCreateSegment", "the System stack is not WOW64")
		assert.NotContains(t, out, "CreateFileW", "explorer.exe is native")
	})
	t.Run("sample_index", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", "-sample_index=alloc_space", f.whole)
		assert.Contains(t, out, "Type: alloc_space")
		assert.Contains(t, out, "Showing nodes accounting for 440320B, 100% of 440320B total")
		assert.Equal(t, [2]string{"348160B", "IopAllocateIrpPrivate"}, firstRow(t, out))
		out = runPprofClean(t, "-top", "-inuse_objects", f.whole)
		assert.Equal(t, [2]string{"156", "IopAllocateIrpPrivate"}, firstRow(t, out))
	})
	t.Run("diff_base", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", "-diff_base="+f.first, f.last)
		rows := topRows(out)
		require.NotEmpty(t, rows)
		assert.Equal(t, [2]string{"79872B", "IopAllocateIrpPrivate"}, rows[0], "the leak grew by 78 blocks")
		assert.NotContains(t, out, "ExAllocatePool2", "unchanged stacks cancel")
		// The precomputed Diff shows the same.
		out = runPprofClean(t, "-top", "-unit=B", f.diff)
		assert.Equal(t, rows, topRows(out))
	})
	t.Run("growth", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", f.growth)
		assert.Contains(t, out, "Type: growth_space")
		rows := topRows(out)
		require.GreaterOrEqual(t, len(rows), 2)
		assert.Equal(t, [2]string{"159744B", "IopAllocateIrpPrivate"}, rows[0])
		assert.Equal(t, [2]string{"-16384B", "MiCreateSegment"}, rows[1], "negative growth is kept (at the allocation site)")
	})
	t.Run("merged", func(t *testing.T) {
		out := runPprofClean(t, "-top", "-unit=B", f.merged)
		assert.Contains(t, out, "window: first half\nwindow: last half\n")
		assert.Equal(t, [2]string{"239616B", "IopAllocateIrpPrivate"}, firstRow(t, out))
		// pprof merges several files itself too.
		out = runPprofClean(t, "-top", "-unit=B", f.first, f.last)
		assert.Equal(t, [2]string{"239616B", "IopAllocateIrpPrivate"}, firstRow(t, out))
	})
	t.Run("no module", func(t *testing.T) {
		out := runPprofClean(t, "-top", f.noModule)
		assert.Contains(t, out, "0xfffff80300001000")
	})
	t.Run("other reports", func(t *testing.T) {
		for _, args := range [][]string{
			{"-raw"}, {"-tags"}, {"-addresses", "-top"}, {"-lines", "-top"}, {"-dot"}, {"-symbolize=local", "-top"},
		} {
			runPprofClean(t, append(args, f.whole)...)
		}
	})
}

// firstRow returns the first row of a -top report.
func firstRow(t *testing.T, out string) [2]string {
	t.Helper()
	rows := topRows(out)
	require.NotEmpty(t, rows, "no rows in:\n%s", out)
	return rows[0]
}

// traceOf returns the function names of the -traces entry whose labels
// mention process.
func traceOf(t *testing.T, out, process string) []string {
	t.Helper()
	for _, block := range strings.Split(out, "-----------+") {
		if !strings.Contains(block, "process:  "+process+"\n") || !strings.Contains(block, "tag:  Irp ") {
			continue
		}
		var names []string
		for _, line := range strings.Split(block, "\n") {
			if strings.Contains(line, ":  ") || strings.HasPrefix(line, "---") || strings.TrimSpace(line) == "" {
				continue
			}
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			// The first stack line starts with the value.
			if len(names) == 0 && len(f) > 1 {
				f = f[1:]
			}
			names = append(names, strings.Join(f, " "))
		}
		return names
	}
	t.Fatalf("no Irp trace of %s in:\n%s", process, out)
	return nil
}

// TestPprofWarnsWithoutOurDesign pins the pprof behaviour the package
// design avoids: a mapping with has_functions unset and a real file name is
// symbolized locally, which fails and warns; so does a profile without any
// mapping. If this test starts failing, pprof changed and the package doc
// should be revisited.
func TestPprofWarnsWithoutOurDesign(t *testing.T) {
	pprofArgv(t)
	dir := t.TempDir()
	raw := mustBuild(t, irpLeakWindow(0), irpLeakMeta(0), Options{LeaveUnsymbolized: true})
	_, errs := runPprof(t, "-top", writeProfile(t, dir, "raw", raw))
	assert.Contains(t, errs, "Local symbolization failed for "+modFlt.Path)
	assert.NotContains(t, errs, modNt.Path, "has_functions set: not symbolized")
	assert.Contains(t, errs, "Some binary filenames not available")

	none := mustBuild(t, []Sample{{Frames: []Frame{{Address: 0xfffff80300001000}}, InuseObjects: 1}}, Meta{}, Options{})
	none.Mapping = nil // what Build avoids with its placeholder mapping
	_, errs = runPprof(t, "-top", writeProfile(t, dir, "none", none))
	assert.Contains(t, errs, "Main binary filename not available")
}

// Symbolized allocator frames are dropped by pprof, so -top shows the
// allocation site; the profile file keeps them, and KeepAllocatorFrames
// leaves them unmarked.
func TestPprofDropsAllocatorFrames(t *testing.T) {
	pprofArgv(t)
	dir := t.TempDir()
	stack := []Frame{
		fn(modNt, 0x9c2210, "ExAllocateHeapPool", Kernel),
		fn(modNt, 0x9c1010, "ExAllocatePoolWithTag", Kernel),
		raw(modContoso, 0x1234, Kernel),
		fn(modNt, 0x6b0c12, "NtDeviceIoControlFile", Kernel),
		fn(modNt, 0x42d8f5, "KiSystemServiceCopyEnd", Kernel),
		fn(modNtdll64, 0x9d0a4, "NtDeviceIoControlFile", User),
		raw(modExplorer, 0x3e7f0, User),
	}
	samples := []Sample{{Frames: stack, Tag: "Cnts", Pool: PoolNonPaged, Process: "explorer.exe", PID: 3100,
		AllocObjects: 4, AllocBytes: 4096, InuseObjects: 4, InuseBytes: 4096}}
	p := mustBuild(t, samples, Meta{Trace: "t.etl"}, Options{})
	assert.Equal(t, AllocatorFrames, p.DropFrames)
	for _, name := range []string{"ExAllocatePool2", "ExAllocatePoolWithTag", "ExAllocatePoolWithQuotaTag", "ExAllocateHeapPool",
		"ExpAllocateBigPool", "ntoskrnl.exe!ExAllocatePool2"} {
		assert.True(t, allocatorRx.MatchString(name), name)
	}
	for _, name := range []string{"IoAllocateIrpEx", "MyExAllocatePool", "ExFreePoolWithTag", "contoso.sys+0x1234"} {
		assert.False(t, allocatorRx.MatchString(name), name)
	}
	f := writeProfile(t, dir, "drop", p)
	out := runPprofClean(t, "-top", "-unit=B", f)
	assert.Equal(t, [2]string{"4096B", "contoso.sys+0x1234"}, firstRow(t, out))
	assert.NotContains(t, out, "ExAllocate")
	// The file keeps every frame; only the mark tells pprof to drop them.
	assert.Len(t, p.Sample[0].Location, len(stack))

	q := mustBuild(t, samples, Meta{}, Options{QualifyNames: true})
	out = runPprofClean(t, "-top", "-unit=B", writeProfile(t, dir, "qualified", q))
	assert.Equal(t, [2]string{"4096B", "contoso.sys+0x1234"}, firstRow(t, out))

	k := mustBuild(t, samples, Meta{}, Options{KeepAllocatorFrames: true})
	assert.Empty(t, k.DropFrames)
	out = runPprofClean(t, "-top", "-unit=B", writeProfile(t, dir, "keep", k))
	assert.Equal(t, [2]string{"4096B", "ExAllocateHeapPool"}, firstRow(t, out))

	// Unsymbolized allocator frames cannot be recognized: nothing to drop.
	u := mustBuild(t, []Sample{{Frames: []Frame{raw(modNt, 0x9c1010, Kernel)}, InuseObjects: 1, InuseBytes: 16}}, Meta{}, Options{})
	assert.Empty(t, u.DropFrames)
}
