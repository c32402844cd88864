package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/pe"
	"github.com/etwkit/etwkit/internal/pooltag"
	"github.com/etwkit/etwkit/stacks"
)

var symbolsDir = filepath.Join(corpus.ModuleRoot(), "testdata", "symbols")

// testImage is the identity of one of the committed test images, as a
// trace records it.
type testImage struct {
	size, tds uint32
	cv        pe.CodeView
}

func readTestImage(t *testing.T, name string) testImage {
	t.Helper()
	f, err := os.Open(filepath.Join(symbolsDir, name))
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	img, err := pe.NewFile(f, st.Size())
	require.NoError(t, err)
	cv, ok, err := img.CodeView()
	require.NoError(t, err)
	require.True(t, ok)
	return testImage{size: img.SizeOfImage, tds: img.TimeDateStamp, cv: cv}
}

// Layout of the symbol trace (64-bit Windows, a WOW64 app).
const (
	symNT       = 0xfffff8057a200000 // ntoskrnl.exe (no symbols on the path)
	symDriver   = 0xfffff8058b000000 // driver.sys (testdata/symbols)
	symNtdll64  = 0x7ffd1c2d0000
	symWow64    = 0x7ffd1a8b0000
	symWow64cpu = 0x77b80000
	symNtdll32  = 0x77c30000
	symKB32     = 0x75e20000
	symK32      = 0x76a10000
	symX86dll   = 0x10000000 // x86dll.dll (testdata/symbols), in the WOW64 app
	symAppExe   = 0x00e10000
	symX64dll   = 0x7ff610000000 // x64dll.dll (testdata/symbols), in svc.exe
	symKB64     = 0x7ffd19e80000
	pidApp      = 700
	pidSvc      = 800
)

// writeSymbolTrace writes a 10-second trace in which the tag "Etwk"
// leaks steadily from driver.sys (owner DriverEntry+0x1c, the call on
// driver.c:37) on behalf of a WOW64 app's x86dll.dll (Accumulate+0x..., the
// call on x86dll.c:38) and, less, of a 64-bit svc.exe's x64dll.dll, while
// a noisier tag "Nois" holds more bytes: one big jump, then churn. With
// keys, stacks go through stack keys instead of full stack walks.
func writeSymbolTrace(t *testing.T, keys bool) string {
	return writeSymbolTraceKind(t, keys, etltest.HeaderSystem)
}

// writeSymbolTraceKind is writeSymbolTrace with pool events in the given
// header form.
func writeSymbolTraceKind(t *testing.T, keys bool, kind etltest.HeaderKind) string {
	t.Helper()
	driver, x86, x64 := readTestImage(t, "driver.sys"), readTestImage(t, "x86dll.dll"), readTestImage(t, "x64dll.dll")
	path := filepath.Join(t.TempDir(), "symbols.etl")
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := etltest.NewWriter(f, etltest.Options{NumberOfProcessors: 2, BufferSize: 16 << 10})
	require.NoError(t, err)
	const ptr = 8
	ts := int64(etltest.DefaultStartTicks) + 10
	next := func() int64 { ts++; return ts }
	rec := func(cpu int, at int64, b []byte) { require.NoError(t, w.WriteRecord(cpu, at, b)) }

	for _, p := range []struct {
		pid   uint32
		name  string
		flags uint32
	}{{4, "System", 0}, {pidApp, "LeakApp.exe", etltest.ProcessFlagWOW64}, {pidSvc, "svc.exe", 0}} {
		at := next()
		rec(0, at, etltest.Process(ptr, etltest.ProcessEvent{Meta: etltest.Meta{Timestamp: at}, Opcode: etltest.ProcessDCStart,
			UniqueProcessKey: 0xffffc20a00a00000 + uint64(p.pid)<<12, ProcessID: p.pid, Flags: p.flags, ImageFileName: p.name}))
	}
	image := func(pid uint32, base, size uint64, tds uint32, file string, cv *pe.CodeView) {
		at := next()
		rec(0, at, etltest.Image(ptr, etltest.ImageEvent{Meta: etltest.Meta{Timestamp: at}, Opcode: etltest.ImageDCStart,
			Base: base, Size: size, ProcessID: pid, TimeDateStamp: tds, DefaultBase: base, FileName: file}))
		if cv != nil {
			rec(0, at, etltest.DbgIDRSDS(ptr, etltest.RSDSEvent{Timestamp: at, ImageBase: base, ProcessID: pid,
				GUID: cv.GUID, Age: cv.Age, PDBFileName: cv.Path}))
		}
	}
	const sys32, wow = `\Device\HarddiskVolume3\Windows\System32\`, `\Device\HarddiskVolume3\Windows\SysWOW64\`
	image(0, symNT, 0x1046000, 0x5f3a2b10, `\SystemRoot\system32\ntoskrnl.exe`, nil)
	image(0, symDriver, uint64(driver.size), driver.tds, `\SystemRoot\system32\drivers\driver.sys`, &driver.cv)
	image(pidApp, symAppExe, 0x1d000, 0x5f000000, `\Device\HarddiskVolume3\Tools\LeakApp\LeakApp.exe`, nil)
	image(pidApp, symNtdll64, 0x1f8000, 0x5f000001, sys32+`ntdll.dll`, nil)
	image(pidApp, symWow64, 0x59000, 0x5f000002, sys32+`wow64.dll`, nil)
	image(pidApp, symWow64cpu, 0xa000, 0x5f000003, sys32+`wow64cpu.dll`, nil)
	image(pidApp, symNtdll32, 0x1a3000, 0x5f000004, wow+`ntdll.dll`, nil)
	image(pidApp, symKB32, 0x214000, 0x5f000005, wow+`KernelBase.dll`, nil)
	image(pidApp, symK32, 0xf0000, 0x5f000006, wow+`kernel32.dll`, nil)
	image(pidApp, symX86dll, uint64(x86.size), x86.tds, `\Device\HarddiskVolume3\Tools\LeakApp\x86dll.dll`, &x86.cv)
	image(pidSvc, symNtdll64, 0x1f8000, 0x5f000001, sys32+`ntdll.dll`, nil)
	image(pidSvc, symKB64, 0x2cd000, 0x5f000007, sys32+`KernelBase.dll`, nil)
	image(pidSvc, symX64dll, uint64(x64.size), x64.tds, `\Device\HarddiskVolume3\svc\x64dll.dll`, &x64.cv)

	alloc := []uint64{symNT + 0x3c1a5e, symNT + 0x3c0f21} // the pool allocator
	leakKernel := append(append([]uint64{}, alloc...), symDriver+0x101c, symNT+0x6d02f5, symNT+0x40c6b5)
	appUser := []uint64{symNtdll64 + 0x9d4f4, symWow64cpu + 0x1783, symWow64 + 0x7463, symNtdll64 + 0x6b1fe,
		symNtdll32 + 0x72e6c, symKB32 + 0x11f76, symX86dll + 0x111b, symX86dll + 0x1160, symAppExe + 0x14e5,
		symK32 + 0x1fa29, symNtdll32 + 0x6c0be}
	svcUser := []uint64{symNtdll64 + 0x9d4f4, symKB64 + 0x5e3d1, symX64dll + 0x10f1, symNtdll64 + 0x52651}
	noisKernel := append(append([]uint64{}, alloc...), symNT+0x5f1c02, symNT+0x2b3a51, symNT+0x40a8c6)

	freq := int64(etltest.DefaultPerfFreq)
	at := func(d time.Duration) int64 {
		return int64(etltest.DefaultStartTicks) + 1000 + int64(d.Seconds()*float64(freq))
	}
	var keyDefs []etltest.StackKeyDef
	keyOf := map[*uint64]uint64{}
	stackRecs := func(cpu int, evTS int64, pid etw.PID, tid etw.TID, frames ...[]uint64) {
		for i, fr := range frames {
			if len(fr) == 0 {
				continue
			}
			if !keys {
				rec(cpu, evTS+1+int64(i), etltest.StackWalk(ptr, etltest.Stack{Timestamp: evTS + 1 + int64(i), EventTimeStamp: evTS, PID: pid, TID: tid, Frames: fr}))
				continue
			}
			k, ok := keyOf[&fr[0]]
			if !ok {
				k = 0xffffc20af0000000 + uint64(len(keyDefs)+1)*0x40
				keyOf[&fr[0]] = k
				keyDefs = append(keyDefs, etltest.StackKeyDef{Opcode: etltest.StackKeyRundown, Key: k, Frames: fr})
			}
			rec(cpu, evTS+1+int64(i), etltest.StackKeyRef(ptr, etltest.StackKey{Timestamp: evTS + 1 + int64(i), EventTimeStamp: evTS,
				PID: pid, TID: tid, Key: k, User: i > 0}))
		}
	}
	poolRec := func(cpu int, evTS int64, pid etw.PID, tid etw.TID, op uint8, typ uint32, tag string, size, entry uint64) {
		rec(cpu, evTS, etltest.Pool(ptr, etltest.PoolEvent{Meta: etltest.Meta{Kind: kind, Timestamp: evTS, PID: pid, TID: tid},
			Opcode: op, PoolType: typ, Tag: etltest.Tag(tag), Size: size, Entry: entry}))
	}
	// Events of both CPUs in time order: the Etwk leak on CPU 1 every
	// 100 ms (every fifth from svc.exe), Nois on CPU 0.
	entry := uint64(0xffffc20a1c000000)
	nois := map[int]uint64{}
	for i := range 100 {
		evTS := at(time.Duration(i) * 100 * time.Millisecond)
		entry += 0x1000
		if i%5 == 4 {
			poolRec(1, evTS, pidSvc, 0x804, etltest.PoolAlloc, 0x200, "Etwk", 2048, entry)
			stackRecs(1, evTS, pidSvc, 0x804, leakKernel, svcUser)
		} else {
			poolRec(1, evTS, pidApp, 0x704, etltest.PoolAlloc, 0x200, "Etwk", 2048, entry)
			stackRecs(1, evTS, pidApp, 0x704, leakKernel, appUser)
		}
		// Nois: 400 blocks of 4 KiB at 1 s, then an alloc and a free of
		// the oldest every 100 ms, and a few frees at the end.
		nts := evTS + 500
		switch {
		case i == 10:
			for j := range 400 {
				entry += 0x2000
				nois[len(nois)] = entry
				poolRec(0, nts+int64(j*10), 4, 0x44, etltest.PoolAlloc, 1, "Nois", 4096, entry)
				stackRecs(0, nts+int64(j*10), 4, 0x44, noisKernel)
			}
		case i > 10 && i%2 == 0:
			entry += 0x2000
			nois[len(nois)] = entry
			poolRec(0, nts, 4, 0x44, etltest.PoolAlloc, 1, "Nois", 4096, entry)
			stackRecs(0, nts, 4, 0x44, noisKernel)
		case i > 10 && i%3 == 0:
			poolRec(0, nts, 4, 0x44, etltest.PoolFree, 1, "Nois", 4096, nois[i])
			stackRecs(0, nts, 4, 0x44, noisKernel)
		}
	}
	end := at(10 * time.Second)
	for i, d := range keyDefs {
		d.Timestamp = end + int64(i)
		rec(0, d.Timestamp, etltest.StackKeyDefinition(ptr, d))
	}
	require.NoError(t, w.Close())
	require.NoError(t, f.Close())
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
			assert.Equal(t, []VerdictProcess{{PID: pidApp, Name: "LeakApp.exe", OutstandingBytes: 80 * 2048},
				{PID: pidSvc, Name: "svc.exe", OutstandingBytes: 20 * 2048}}, v.Processes)
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
