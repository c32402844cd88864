package etltest

import (
	"hash/fnv"

	"github.com/etwkit/etwkit/etw"
)

// module is an image mapped in the simulated system.
type module struct {
	path     string
	base     uint64
	size     uint64
	checksum uint32
	tds      uint32
	pdb      string
	guid     etw.GUID
	age      uint32
}

// at returns the address of offset off inside the module.
func (m *module) at(off uint64) uint64 { return m.base + off%m.size }

func newModule(path string, base, size uint64, pdb string) *module {
	h := fnv.New128a()
	h.Write([]byte(path))
	sum := h.Sum(nil)
	m := &module{path: path, base: base, size: size, pdb: pdb, age: 1 + uint32(sum[15]%3)}
	m.guid = etw.GUIDFromBytes(sum)
	m.checksum = uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])
	m.tds = 0x5f000000 + uint32(sum[3])<<16 + uint32(sum[4])<<8
	return m
}

// process is a simulated process with its images and threads.
type process struct {
	pid       uint32
	parent    uint32
	session   uint32
	name      string
	cmdline   string
	flags     uint32
	key       uint64 // EPROCESS
	dtb       uint64
	sid       []byte
	images    []*module
	threads   []*thread
	startedAt int64 // 0 for processes running before the trace
}

// thread is a simulated thread.
type thread struct {
	tid       uint32
	proc      *process
	cpu       int
	stackBase uint64
	teb       uint64
	start     uint64
	alive     bool // running (app threads start during the trace)
	// deferred is a user-mode stack fragment not logged yet: the kernel
	// logs it when the thread returns to user mode, so before the thread's
	// next event.
	deferred deferredStack
}

// deferredStack is a delayed user-mode stack fragment of a thread.
type deferredStack struct {
	active bool
	evTS   int64
	stack  []uint64
}

// world is the simulated machine: kernel modules and processes, laid out
// for a pointer size.
type world struct {
	ptr     int
	kernel  []*module
	procs   []*process
	sys     *process // System, PID 4
	svc     *process // svchost.exe
	expl    *process // explorer.exe (session 1)
	app     *process // the leaking app (WOW64 in 64-bit traces)
	nt      *module  // ntoskrnl.exe
	drivers map[string]*module
	// user modules of the app
	appExe, ntdll64, wow64, wow64cpu, wow64win, ntdll32, k32, kb32 *module
	// user modules of native processes
	ntdll, kernel32, kernelbase, svchostExe, rpcrt4, explorerExe, user32 *module
}

const (
	sysRoot   = `\SystemRoot\system32\`
	volPrefix = `\Device\HarddiskVolume3\Windows\`
)

// newWorld lays out the simulated system. Addresses are realistic for
// Windows 10 x64 (ptr 8) or a 32-bit Windows (ptr 4).
func newWorld(ptr int) *world {
	w := &world{ptr: ptr, drivers: map[string]*module{}}
	k := func(name string, base, size uint64) *module {
		path := sysRoot + `drivers\` + name
		if name == "ntoskrnl.exe" || name == "hal.dll" {
			path = sysRoot + name
		}
		m := newModule(path, base, size, pdbName(name))
		w.kernel = append(w.kernel, m)
		w.drivers[name] = m
		return m
	}
	u := func(path string, base, size uint64) *module {
		return newModule(path, base, size, pdbName(baseName(path)))
	}
	if ptr == 8 {
		w.nt = k("ntoskrnl.exe", 0xfffff8057a200000, 0x1046000)
		k("hal.dll", 0xfffff8057a0c0000, 0x6a000)
		k("fltmgr.sys", 0xfffff8057d1a0000, 0x7c000)
		k("Ntfs.sys", 0xfffff8057e4b0000, 0x2a9000)
		k("tcpip.sys", 0xfffff8057e9c0000, 0x2e6000)
		k("afd.sys", 0xfffff8058a1c0000, 0xa9000)
		k("win32kbase.sys", 0xfffff1b3b2e00000, 0x29e000)
		k("win32kfull.sys", 0xfffff1b3b3200000, 0x38d000)
		w.ntdll = u(volPrefix+`System32\ntdll.dll`, 0x7ffd1c2d0000, 0x1f8000)
		w.kernel32 = u(volPrefix+`System32\kernel32.dll`, 0x7ffd1b6a0000, 0xbd000)
		w.kernelbase = u(volPrefix+`System32\KernelBase.dll`, 0x7ffd19e80000, 0x2cd000)
		w.rpcrt4 = u(volPrefix+`System32\rpcrt4.dll`, 0x7ffd1b460000, 0x125000)
		w.user32 = u(volPrefix+`System32\user32.dll`, 0x7ffd1bd60000, 0x19e000)
		w.svchostExe = u(volPrefix+`System32\svchost.exe`, 0x7ff6e3b40000, 0xe000)
		w.explorerExe = u(volPrefix+`explorer.exe`, 0x7ff7c1a30000, 0x4ae000)
		w.ntdll64 = w.ntdll
		// Windows 10 maps wow64.dll and wow64win.dll high and wow64cpu.dll
		// below 4 GiB (its far jump must be reachable from 32-bit code).
		w.wow64 = u(volPrefix+`System32\wow64.dll`, 0x7ffd1a8b0000, 0x59000)
		w.wow64win = u(volPrefix+`System32\wow64win.dll`, 0x7ffd1a7f0000, 0xba000)
		w.wow64cpu = u(volPrefix+`System32\wow64cpu.dll`, 0x77b80000, 0xa000)
		w.ntdll32 = u(volPrefix+`SysWOW64\ntdll.dll`, 0x77c30000, 0x1a3000)
		w.k32 = u(volPrefix+`SysWOW64\kernel32.dll`, 0x76a10000, 0xf0000)
		w.kb32 = u(volPrefix+`SysWOW64\KernelBase.dll`, 0x75e20000, 0x214000)
		w.appExe = u(`\Device\HarddiskVolume3\Tools\ReadLeak\ReadLeak.exe`, 0x00e10000, 0x1d000)
	} else {
		w.nt = k("ntoskrnl.exe", 0x81e0a000, 0x6bd000)
		k("hal.dll", 0x81dab000, 0x5f000)
		k("fltmgr.sys", 0x8a234000, 0x5e000)
		k("Ntfs.sys", 0x8a4c0000, 0x1ce000)
		k("tcpip.sys", 0x8a6a2000, 0x1f8000)
		k("afd.sys", 0x8b02e000, 0x6d000)
		k("win32kbase.sys", 0x9a600000, 0x1f0000)
		k("win32kfull.sys", 0x9a800000, 0x2a2000)
		w.ntdll = u(volPrefix+`System32\ntdll.dll`, 0x77c30000, 0x19c000)
		w.kernel32 = u(volPrefix+`System32\kernel32.dll`, 0x76a10000, 0xf0000)
		w.kernelbase = u(volPrefix+`System32\KernelBase.dll`, 0x75e20000, 0x1fe000)
		w.rpcrt4 = u(volPrefix+`System32\rpcrt4.dll`, 0x76120000, 0xbe000)
		w.user32 = u(volPrefix+`System32\user32.dll`, 0x75a80000, 0x19a000)
		w.svchostExe = u(volPrefix+`System32\svchost.exe`, 0x00b70000, 0xb000)
		w.explorerExe = u(volPrefix+`explorer.exe`, 0x00f60000, 0x3c2000)
		w.appExe = u(`\Device\HarddiskVolume3\Tools\ReadLeak\ReadLeak.exe`, 0x00e10000, 0x1d000)
		w.ntdll32, w.k32, w.kb32 = w.ntdll, w.kernel32, w.kernelbase
	}
	sid := SID(5, 21, 3623811015, 3361044348, 30300820, 1001)
	w.sys = &process{pid: 4, name: "System", key: w.kaddr(0x4a6040), dtb: 0x1ad000}
	w.svc = &process{pid: 1148, parent: 716, name: "svchost.exe", cmdline: `C:\Windows\system32\svchost.exe -k netsvcs -p`,
		key: w.kaddr(0x8e2080), dtb: 0x2b7c5000, sid: SID(5, 18),
		images: []*module{w.svchostExe, w.ntdll, w.kernel32, w.kernelbase, w.rpcrt4}}
	w.expl = &process{pid: 5012, parent: 4876, session: 1, name: "explorer.exe", cmdline: `C:\Windows\Explorer.EXE`,
		key: w.kaddr(0x9b3080), dtb: 0x4e1d2000, sid: sid,
		images: []*module{w.explorerExe, w.ntdll, w.kernel32, w.kernelbase, w.user32}}
	w.app = &process{pid: 6420, parent: 5012, session: 1, name: "ReadLeak.exe", cmdline: `"C:\Tools\ReadLeak\ReadLeak.exe" \\?\C:\Data\big.bin`,
		key: w.kaddr(0xa1c080), dtb: 0x6f0a3000, sid: sid}
	if ptr == 8 {
		w.app.flags = ProcessFlagWOW64
		w.app.images = []*module{w.appExe, w.ntdll64, w.wow64, w.wow64win, w.wow64cpu, w.ntdll32, w.k32, w.kb32}
	} else {
		w.app.images = []*module{w.appExe, w.ntdll, w.kernel32, w.kernelbase}
	}
	w.procs = []*process{w.sys, w.svc, w.expl, w.app}
	tid := uint32(0x40)
	mk := func(p *process, n int, cpu0 int) {
		for i := 0; i < n; i++ {
			t := &thread{tid: tid, proc: p, cpu: cpu0 + i}
			tid += 4
			if p == w.sys {
				t.stackBase = w.kaddr(0x1a3c6000 + uint64(i)*0x6000)
				t.start = w.nt.at(0x2c1a30)
			} else {
				t.stackBase = w.kaddr(0x2c8e1000 + uint64(tid)*0x6000)
				t.teb = w.uaddr(0x2e1000 + uint64(i)*0x2000)
				t.start = p.userStart(w)
			}
			p.threads = append(p.threads, t)
		}
	}
	mk(w.sys, 4, 0)
	tid = 0x1a24
	mk(w.svc, 3, 1)
	tid = 0x2b10
	mk(w.expl, 2, 2)
	tid = 0x1c90
	mk(w.app, 2, 3)
	return w
}

func (p *process) userStart(w *world) uint64 {
	if len(p.images) > 0 {
		return p.images[0].at(0x1f30)
	}
	return 0
}

// kaddr returns a kernel-space address at offset off of a pool-like region.
func (w *world) kaddr(off uint64) uint64 {
	if w.ptr == 8 {
		return 0xffffc20a00000000 + off
	}
	return 0x84000000 + off%0x0c000000
}

// uaddr returns a user-space data address.
func (w *world) uaddr(off uint64) uint64 {
	if w.ptr == 8 {
		return 0x000000b5c0000000 + off
	}
	return 0x00300000 + off%0x0f000000
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' {
			return p[i+1:]
		}
	}
	return p
}

func pdbName(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			name = name[:i]
			break
		}
	}
	switch name {
	case "ntoskrnl":
		return "ntkrnlmp.pdb"
	case "ReadLeak":
		return `C:\src\ReadLeak\Release\ReadLeak.pdb`
	}
	return toLower(name) + ".pdb"
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
