// Package symtrace writes, for tests, a small kernel pool trace whose
// leaking stacks run through the committed test images with PDBs
// (testdata/symbols): the tag "Etwk" leaks steadily from driver.sys
// (DriverEntry+0x1c, a call on driver.c:37) on behalf of a WOW64 app's
// x86dll.dll (Accumulate+0x4b, a call on x86dll.c:38) and, for a fifth of
// its blocks, of a 64-bit svc.exe's x64dll.dll; a noisier tag "Nois" holds
// more bytes (one big jump, then churn) and ranks second. ntoskrnl.exe has
// no symbols on that path.
package symtrace

import (
	"os"
	"path/filepath"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/pe"
)

// Dir is testdata/symbols, the symbol path that symbolizes the trace.
var Dir = filepath.Join(corpus.ModuleRoot(), "testdata", "symbols")

// Bases of the modules with symbols, and the processes.
const (
	NT       = 0xfffff8057a200000 // ntoskrnl.exe (no symbols on Dir)
	Driver   = 0xfffff8058b000000 // driver.sys
	X86dll   = 0x10000000         // x86dll.dll, in the WOW64 app
	X64dll   = 0x7ff610000000     // x64dll.dll, in svc.exe
	PIDApp   = 700                // LeakApp.exe (WOW64)
	PIDSvc   = 800                // svc.exe
	appExe   = 0x00e10000
	ntdll64  = 0x7ffd1c2d0000
	wow64dll = 0x7ffd1a8b0000
	wow64cpu = 0x77b80000
	ntdll32  = 0x77c30000
	kb32     = 0x75e20000
	k32      = 0x76a10000
	kb64     = 0x7ffd19e80000
)

// Options vary the trace's form.
type Options struct {
	// StackKeys sends stacks through stack keys (KeyRundown definitions
	// at the end) instead of full stack walks.
	StackKeys bool
	// PoolHeader is the header form of the pool events (default SYSTEM).
	PoolHeader etltest.HeaderKind
}

// image is the identity of a test image, as a trace records it.
type image struct {
	size, tds uint32
	cv        pe.CodeView
}

func readImage(path string) (image, error) {
	f, err := os.Open(path)
	if err != nil {
		return image{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return image{}, err
	}
	img, err := pe.NewFile(f, st.Size())
	if err != nil {
		return image{}, err
	}
	cv, _, err := img.CodeView()
	return image{size: img.SizeOfImage, tds: img.TimeDateStamp, cv: cv}, err
}

// Write writes the trace to path.
func Write(path string, o Options) error {
	if o.PoolHeader == etltest.HeaderDefault {
		o.PoolHeader = etltest.HeaderSystem
	}
	var driver, x86, x64 image
	for _, im := range []struct {
		name string
		dst  *image
	}{{"driver.sys", &driver}, {"x86dll.dll", &x86}, {"x64dll.dll", &x64}} {
		var err error
		if *im.dst, err = readImage(filepath.Join(Dir, im.name)); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := etltest.NewWriter(f, etltest.Options{NumberOfProcessors: 2, BufferSize: 16 << 10})
	if err != nil {
		return err
	}
	const ptr = 8
	ts := int64(etltest.DefaultStartTicks) + 10
	next := func() int64 { ts++; return ts }
	var werr error
	rec := func(cpu int, at int64, b []byte) {
		if werr == nil {
			werr = w.WriteRecord(cpu, at, b)
		}
	}

	for _, p := range []struct {
		pid   uint32
		name  string
		flags uint32
	}{{4, "System", 0}, {PIDApp, "LeakApp.exe", etltest.ProcessFlagWOW64}, {PIDSvc, "svc.exe", 0}} {
		at := next()
		rec(0, at, etltest.Process(ptr, etltest.ProcessEvent{Meta: etltest.Meta{Timestamp: at}, Opcode: etltest.ProcessDCStart,
			UniqueProcessKey: 0xffffc20a00a00000 + uint64(p.pid)<<12, ProcessID: p.pid, Flags: p.flags, ImageFileName: p.name}))
	}
	load := func(pid uint32, base, size uint64, tds uint32, file string, cv *pe.CodeView) {
		at := next()
		rec(0, at, etltest.Image(ptr, etltest.ImageEvent{Meta: etltest.Meta{Timestamp: at}, Opcode: etltest.ImageDCStart,
			Base: base, Size: size, ProcessID: pid, TimeDateStamp: tds, DefaultBase: base, FileName: file}))
		if cv != nil {
			rec(0, at, etltest.DbgIDRSDS(ptr, etltest.RSDSEvent{Timestamp: at, ImageBase: base, ProcessID: pid,
				GUID: cv.GUID, Age: cv.Age, PDBFileName: cv.Path}))
		}
	}
	const sys32, wow = `\Device\HarddiskVolume3\Windows\System32\`, `\Device\HarddiskVolume3\Windows\SysWOW64\`
	load(0, NT, 0x1046000, 0x5f3a2b10, `\SystemRoot\system32\ntoskrnl.exe`, nil)
	load(0, Driver, uint64(driver.size), driver.tds, `\SystemRoot\system32\drivers\driver.sys`, &driver.cv)
	load(PIDApp, appExe, 0x1d000, 0x5f000000, `\Device\HarddiskVolume3\Tools\LeakApp\LeakApp.exe`, nil)
	load(PIDApp, ntdll64, 0x1f8000, 0x5f000001, sys32+`ntdll.dll`, nil)
	load(PIDApp, wow64dll, 0x59000, 0x5f000002, sys32+`wow64.dll`, nil)
	load(PIDApp, wow64cpu, 0xa000, 0x5f000003, sys32+`wow64cpu.dll`, nil)
	load(PIDApp, ntdll32, 0x1a3000, 0x5f000004, wow+`ntdll.dll`, nil)
	load(PIDApp, kb32, 0x214000, 0x5f000005, wow+`KernelBase.dll`, nil)
	load(PIDApp, k32, 0xf0000, 0x5f000006, wow+`kernel32.dll`, nil)
	load(PIDApp, X86dll, uint64(x86.size), x86.tds, `\Device\HarddiskVolume3\Tools\LeakApp\x86dll.dll`, &x86.cv)
	load(PIDSvc, ntdll64, 0x1f8000, 0x5f000001, sys32+`ntdll.dll`, nil)
	load(PIDSvc, kb64, 0x2cd000, 0x5f000007, sys32+`KernelBase.dll`, nil)
	load(PIDSvc, X64dll, uint64(x64.size), x64.tds, `\Device\HarddiskVolume3\svc\x64dll.dll`, &x64.cv)

	alloc := []uint64{NT + 0x3c1a5e, NT + 0x3c0f21} // the pool allocator
	leakKernel := append(append([]uint64{}, alloc...), Driver+0x101c, NT+0x6d02f5, NT+0x40c6b5)
	appUser := []uint64{ntdll64 + 0x9d4f4, wow64cpu + 0x1783, wow64dll + 0x7463, ntdll64 + 0x6b1fe,
		ntdll32 + 0x72e6c, kb32 + 0x11f76, X86dll + 0x111b, X86dll + 0x1160, appExe + 0x14e5,
		k32 + 0x1fa29, ntdll32 + 0x6c0be}
	svcUser := []uint64{ntdll64 + 0x9d4f4, kb64 + 0x5e3d1, X64dll + 0x10f1, ntdll64 + 0x52651}
	noisKernel := append(append([]uint64{}, alloc...), NT+0x5f1c02, NT+0x2b3a51, NT+0x40a8c6)

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
			if !o.StackKeys {
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
		rec(cpu, evTS, etltest.Pool(ptr, etltest.PoolEvent{Meta: etltest.Meta{Kind: o.PoolHeader, Timestamp: evTS, PID: pid, TID: tid},
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
			poolRec(1, evTS, PIDSvc, 0x804, etltest.PoolAlloc, 0x200, "Etwk", 2048, entry)
			stackRecs(1, evTS, PIDSvc, 0x804, leakKernel, svcUser)
		} else {
			poolRec(1, evTS, PIDApp, 0x704, etltest.PoolAlloc, 0x200, "Etwk", 2048, entry)
			stackRecs(1, evTS, PIDApp, 0x704, leakKernel, appUser)
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
	if werr != nil {
		return werr
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}
