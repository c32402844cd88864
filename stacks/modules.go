package stacks

import (
	"math"
	"path"
	"slices"
	"strings"

	"github.com/etwkit/etwkit/etw"
)

// Always is the time bound of a mapping that is open at that end: a module
// mapped by a rundown (DCStart) is mapped from Always's negation, one never
// unloaded until Always.
const Always = math.MaxInt64

// PDB identifies the program database of an image, from a KernelTraceControl
// DbgID_RSDS event or from the image's own debug directory.
type PDB struct {
	GUID etw.GUID
	Age  uint32
	Name string // PDB file name or path as recorded
}

// BuildID returns the PDB's symbol-store key: the GUID as 32 lowercase hex
// digits followed by the age in hex.
func (p *PDB) BuildID() string {
	b := p.GUID.Bytes()
	// Symbol-server order: Data1, Data2, Data3 as numbers, Data4 as bytes.
	g := p.GUID
	var out []byte
	out = appendHex(out, uint64(g.Data1), 8)
	out = appendHex(out, uint64(g.Data2), 4)
	out = appendHex(out, uint64(g.Data3), 4)
	for _, c := range b[8:] {
		out = appendHex(out, uint64(c), 2)
	}
	return string(out) + strings.ToLower(hexNoPad(uint64(p.Age)))
}

func appendHex(b []byte, v uint64, n int) []byte {
	const digits = "0123456789abcdef"
	for i := n - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

func hexNoPad(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append(b, "0123456789abcdef"[v&0xf])
		v >>= 4
	}
	slices.Reverse(b)
	return string(b)
}

// Module is one mapping of an image in a process over an interval of trace
// time [Loaded, Unloaded).
type Module struct {
	PID           etw.PID
	Base          uint64
	Size          uint64
	Path          string // as logged (NT path)
	Name          string // file name, as logged ("ntdll.dll")
	Checksum      uint32
	TimeDateStamp uint32
	// PDB is the image's PDB identity when the trace (or the image file)
	// gave one.
	PDB *PDB
	// Loaded and Unloaded bound the mapping in raw trace time; -Always and
	// Always mean "before the trace" and "still mapped at its end".
	Loaded, Unloaded int64
	// Origin says what opened the mapping: "DCStart", "Load",
	// "Unload-only" or "DCEnd-only".
	Origin string
	// Bits is 32 for a 32-bit image inside a WOW64 process, else 64 (or
	// the trace's pointer size for 32-bit traces).
	Bits int
}

// Contains reports whether addr lies in the module's address range.
func (m *Module) Contains(addr uint64) bool { return addr >= m.Base && addr-m.Base < m.Size }

// Live reports whether the module is mapped at raw time ts.
func (m *Module) Live(ts int64) bool { return m.Loaded <= ts && ts < m.Unloaded }

// Process describes a process seen in the trace.
type Process struct {
	PID       etw.PID
	Parent    etw.PID
	Name      string // ImageFileName
	Command   string
	WOW64     bool
	WOW64From string // "flags" or "images" (Process events before version 4 have no flags)
	Flags     etw.ProcessFlags
	HasFlags  bool
	Start     int64 // raw timestamps; -Always / Always when outside the trace
	End       int64
	Events    []string // Process event names seen, in order
}

// addrSpace is the module list of one process.
type addrSpace struct {
	mods    []*Module // in insertion order
	byBase  []*Module // sorted by Base, rebuilt lazily
	dirty   bool
	maxSize uint64
	open    map[uint64]*Module // open mapping by base
}

func (a *addrSpace) add(m *Module) {
	a.mods = append(a.mods, m)
	a.dirty = true
	if m.Size > a.maxSize {
		a.maxSize = m.Size
	}
}

// find returns the module containing addr at time ts, and otherwise one
// that contains it at another time (with live false).
func (a *addrSpace) find(addr uint64, ts int64) (m *Module, live bool) {
	if a == nil || len(a.mods) == 0 {
		return nil, false
	}
	if a.dirty {
		a.byBase = append(a.byBase[:0], a.mods...)
		slices.SortStableFunc(a.byBase, func(x, y *Module) int {
			switch {
			case x.Base < y.Base:
				return -1
			case x.Base > y.Base:
				return 1
			}
			return 0
		})
		a.dirty = false
	}
	i, _ := slices.BinarySearchFunc(a.byBase, addr+1, func(m *Module, t uint64) int {
		if m.Base < t {
			return -1
		}
		return 1
	})
	var other *Module
	for j := i - 1; j >= 0; j-- {
		c := a.byBase[j]
		if addr-c.Base >= a.maxSize {
			break
		}
		if c.Contains(addr) {
			if c.Live(ts) {
				return c, true
			}
			if other == nil {
				other = c
			}
		}
	}
	return other, false
}

// Modules keeps the module maps of every process over time, from Image,
// Process and KernelTraceControl DbgID events. Kernel modules live in the
// map of PID 0 and are shared by all processes. Feed it every event in time
// order with [Modules.Event]; lookups work at any time after.
type Modules struct {
	ptrSize  int
	spaces   map[etw.PID]*addrSpace
	procs    map[etw.PID]*Process
	pending  map[dbgKey]*PDB          // DbgID seen before its image
	recent   map[dbgKey]*Module       // images by (timestamp, base) for late DbgIDs
	threads  map[etw.TID][]threadSpan // owners of each thread over time, see ProcessOf
	recentTS int64
	// Anomalies counts map-building exceptions by description.
	Anomalies map[string]int
	// Hypercall is the Hyper-V hypercall page address (Image 0x1422),
	// 0 when the trace has none.
	Hypercall uint64
	// KernelBase is the kernel's base address (Image 0x1421), or 0.
	KernelBase uint64
}

type dbgKey struct {
	ts   int64
	base uint64
}

// NewModules returns empty module maps for a trace of the given pointer
// size (4 or 8).
func NewModules(ptrSize int) *Modules {
	return &Modules{
		ptrSize:   ptrSize,
		spaces:    map[etw.PID]*addrSpace{},
		procs:     map[etw.PID]*Process{},
		pending:   map[dbgKey]*PDB{},
		recent:    map[dbgKey]*Module{},
		Anomalies: map[string]int{},
	}
}

func (ms *Modules) space(pid etw.PID) *addrSpace {
	a := ms.spaces[pid]
	if a == nil {
		a = &addrSpace{open: map[uint64]*Module{}}
		ms.spaces[pid] = a
	}
	return a
}

// Process returns what is known of a process, or nil.
func (ms *Modules) Process(pid etw.PID) *Process { return ms.procs[pid] }

// Processes returns every process seen, by PID order.
func (ms *Modules) Processes() []*Process {
	out := make([]*Process, 0, len(ms.procs))
	for _, p := range ms.procs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Process) int { return int(int64(a.PID) - int64(b.PID)) })
	return out
}

// ModulesOf returns every mapping of a process (PID 0: kernel modules) in
// the order they were opened.
func (ms *Modules) ModulesOf(pid etw.PID) []*Module {
	if a := ms.spaces[pid]; a != nil {
		return a.mods
	}
	return nil
}

// PIDs returns the processes that have module maps, in PID order.
func (ms *Modules) PIDs() []etw.PID {
	out := make([]etw.PID, 0, len(ms.spaces))
	for p := range ms.spaces {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// IsKernelAddress reports whether addr is a kernel-space address for the
// given pointer size: at or above 0x800000000000 for 64-bit, 0x80000000
// for 32-bit records.
func IsKernelAddress(addr uint64, ptrSize int) bool {
	if ptrSize == 4 {
		return addr >= 0x80000000 && addr <= 0xFFFFFFFF
	}
	return addr >= 0x0000800000000000
}

// Lookup returns the module that contains addr in process pid at raw time
// ts. Kernel addresses resolve in the kernel map (PID 0) and user addresses
// only in the process's own map. When no module is mapped there at ts but
// one is at another time, it is returned with live false.
func (ms *Modules) Lookup(pid etw.PID, addr uint64, ts int64) (m *Module, live bool) {
	if IsKernelAddress(addr, ms.ptrSize) {
		return ms.spaces[0].find(addr, ts)
	}
	return ms.spaces[pid].find(addr, ts)
}

// Event updates the maps from one event; other events are ignored. Events
// must come in time order.
func (ms *Modules) Event(ev *etw.Event) {
	switch moduleEventOf(ev) {
	case moduleImage:
		ms.image(ev)
	case moduleProcess:
		ms.process(ev)
	case moduleDbgID:
		ms.dbgID(ev)
	case moduleThread:
		ms.thread(ev)
	}
}

// Uses reports whether [Modules.Event] would use ev (image, process,
// image-identity and Thread Start/End/DCStart/DCEnd events); a caller that filters a stream may pass only
// these. It reads nothing but ev, so it may be called from another
// goroutine than the one feeding the map.
func (ms *Modules) Uses(ev *etw.Event) bool { return moduleEventOf(ev) != moduleNone }

// Kinds of events a module map takes.
const (
	moduleNone = iota
	moduleImage
	moduleProcess
	moduleDbgID
	moduleThread
)

func moduleEventOf(ev *etw.Event) int {
	switch {
	case ev.IsKernel() && (ev.Hook == etw.HookImageLoad || ev.Group() == etw.GroupImage) ||
		!ev.IsKernel() && ev.Provider == etw.ImageGUID:
		return moduleImage
	case ev.IsKernel() && ev.Group() == etw.GroupProcess ||
		!ev.IsKernel() && ev.Provider == etw.ProcessGUID:
		return moduleProcess
	case ev.Provider == etw.KernelTraceControlGUID && (ev.Opcode == 36):
		return moduleDbgID
	case ev.Opcode >= 1 && ev.Opcode <= 4 && (ev.IsKernel() && ev.Group() == etw.GroupThread ||
		!ev.IsKernel() && ev.Provider == etw.ThreadGUID):
		return moduleThread
	}
	return moduleNone
}

func (ms *Modules) image(ev *etw.Event) {
	switch ev.Opcode {
	case 0x21: // KernelBase
		if p := ev.Payload; len(p) >= ev.PointerSize() && ev.PointerSize() > 0 {
			ms.KernelBase = readPtr(p, ev.PointerSize())
		}
		return
	case 0x22: // HypercallPage
		if p := ev.Payload; len(p) >= ev.PointerSize() && ev.PointerSize() > 0 {
			ms.Hypercall = readPtr(p, ev.PointerSize())
		}
		return
	}
	im, err := etw.DecodeImage(ev)
	if err != nil {
		return
	}
	pid := im.ProcessID
	if IsKernelAddress(im.ImageBase, ms.ptrSizeOf(ev)) {
		pid = 0
	}
	a := ms.space(pid)
	switch im.Opcode {
	case 3, 10: // DCStart, Load
		m := &Module{PID: pid, Base: im.ImageBase, Size: im.ImageSize, Path: im.FileName, Name: baseName(im.FileName),
			Checksum: im.ImageChecksum, TimeDateStamp: im.TimeDateStamp, Unloaded: Always}
		if im.Opcode == 3 {
			m.Loaded, m.Origin = -Always, "DCStart"
		} else {
			m.Loaded, m.Origin = ev.Timestamp, "Load"
		}
		if old := a.open[m.Base]; old != nil && old.Unloaded == Always {
			if im.Opcode == 3 {
				return // duplicate rundown
			}
			old.Unloaded = ev.Timestamp
		}
		a.open[m.Base] = m
		a.add(m)
		k := dbgKey{ev.Timestamp, m.Base}
		if pdb := ms.pending[k]; pdb != nil {
			m.PDB = pdb
			delete(ms.pending, k)
		}
		ms.remember(k, m)
		ms.setBits(m)
	case 2, 4: // UnLoad, DCEnd
		m := a.open[im.ImageBase]
		if m == nil || m.Unloaded != Always {
			origin := "Unload-only"
			if im.Opcode == 4 {
				origin = "DCEnd-only"
			}
			ms.Anomalies[origin+" mapping (no open Load or DCStart)"]++
			m = &Module{PID: pid, Base: im.ImageBase, Size: im.ImageSize, Path: im.FileName, Name: baseName(im.FileName),
				Checksum: im.ImageChecksum, TimeDateStamp: im.TimeDateStamp, Loaded: -Always, Unloaded: Always, Origin: origin}
			a.add(m)
			ms.setBits(m)
			k := dbgKey{ev.Timestamp, m.Base}
			if pdb := ms.pending[k]; pdb != nil {
				m.PDB = pdb
				delete(ms.pending, k)
			}
			ms.remember(k, m)
		} else if im.Opcode == 4 && !strings.EqualFold(m.Path, im.FileName) {
			ms.Anomalies["DCEnd spells the path differently"]++
		}
		if im.Opcode == 2 {
			m.Unloaded = ev.Timestamp
			delete(a.open, im.ImageBase)
		}
	}
}

func (ms *Modules) ptrSizeOf(ev *etw.Event) int {
	if p := ev.PointerSize(); p != 0 {
		return p
	}
	return ms.ptrSize
}

// remember keeps images by (timestamp, base) for a short while so that a
// DbgID event logged after its image finds it.
func (ms *Modules) remember(k dbgKey, m *Module) {
	if k.ts != ms.recentTS {
		clear(ms.recent)
		ms.recentTS = k.ts
	}
	ms.recent[k] = m
}

func (ms *Modules) dbgID(ev *etw.Event) {
	d, err := etw.DecodeDbgID(ev)
	if err != nil {
		return
	}
	pdb := &PDB{GUID: d.GUID, Age: d.Age, Name: d.PDBFileName}
	k := dbgKey{ev.Timestamp, d.ImageBase}
	if m := ms.recent[k]; m != nil && ms.recentTS == ev.Timestamp {
		if m.PDB == nil {
			m.PDB = pdb
		}
		return
	}
	if len(ms.pending) > 1<<16 {
		clear(ms.pending) // bound memory on traces whose DbgIDs never match
	}
	ms.pending[k] = pdb
}

func (ms *Modules) process(ev *etw.Event) {
	if ev.Opcode == 0x0A { // Image Load is handled above; nothing else here
		return
	}
	p, err := etw.DecodeProcess(ev)
	if err != nil {
		return
	}
	pr := ms.procs[p.ProcessID]
	if pr == nil {
		pr = &Process{PID: p.ProcessID, Start: -Always, End: Always}
		ms.procs[p.ProcessID] = pr
	}
	name := map[uint8]string{1: "Start", 2: "End", 3: "DCStart", 4: "DCEnd", 39: "Defunct"}[p.Opcode]
	pr.Events = append(pr.Events, name)
	if p.ImageFileName != "" {
		pr.Name = p.ImageFileName
	}
	if p.CommandLine != "" {
		pr.Command = p.CommandLine
	}
	pr.Parent = p.ParentID
	if ev.Version >= 4 {
		pr.Flags, pr.HasFlags = p.Flags, true
		pr.WOW64, pr.WOW64From = p.IsWOW64(), "flags"
	}
	switch p.Opcode {
	case 1:
		pr.Start = ev.Timestamp
	case 2:
		pr.End = ev.Timestamp
		// Process End closes whatever is still mapped.
		if a := ms.spaces[p.ProcessID]; a != nil {
			for base, m := range a.open {
				if m.Unloaded == Always {
					m.Unloaded = ev.Timestamp
				}
				delete(a.open, base)
			}
		}
	}
	ms.reclassify(pr)
}

// Finish settles what can only be decided with the whole trace: processes
// without WOW64 flags (Windows 7 traces) count as WOW64 when wow64.dll or
// wow64cpu.dll is mapped in them, and image bitness follows.
func (ms *Modules) Finish() {
	for pid, a := range ms.spaces {
		pr := ms.procs[pid]
		if pr == nil {
			pr = &Process{PID: pid, Start: -Always, End: Always}
			ms.procs[pid] = pr
		}
		if !pr.HasFlags && pid != 0 {
			for _, m := range a.mods {
				n := strings.ToLower(m.Name)
				if n == "wow64.dll" || n == "wow64cpu.dll" {
					pr.WOW64, pr.WOW64From = true, "images"
					break
				}
			}
			if pr.WOW64From == "" {
				pr.WOW64From = "images"
			}
		}
		ms.reclassify(pr)
	}
}

func (ms *Modules) reclassify(pr *Process) {
	a := ms.spaces[pr.PID]
	if a == nil {
		return
	}
	for _, m := range a.mods {
		ms.setBitsFor(m, pr)
	}
}

func (ms *Modules) setBits(m *Module) { ms.setBitsFor(m, ms.procs[m.PID]) }

func (ms *Modules) setBitsFor(m *Module, pr *Process) {
	m.Bits = ms.ptrSize * 8
	if pr != nil && pr.WOW64 && m.PID != 0 {
		m.Bits = ImageBits(m.Path, m.Base)
	}
}

// ImageBits decides whether an image mapped in a WOW64 process is 32- or
// 64-bit, by the first rule that matches: a path through \SysWOW64\ or
// \Program Files (x86)\ is 32-bit; a path through \System32\ is 64-bit
// (file-system redirection sends the 32-bit process's own loads to
// SysWOW64); the WOW64 layer's own DLLs (wow64, wow64win, wow64cpu,
// wow64base, wow64con, xtajit) are 64-bit; an image mapped at or above 4 GiB
// is 64-bit; anything else is 32-bit. An address test alone fails: the
// WOW64 DLLs are mapped below 4 GiB on Windows 7 and 8.
func ImageBits(path string, base uint64) int {
	p := strings.ToLower(path)
	switch {
	case strings.Contains(p, `\syswow64\`) || strings.Contains(p, `\program files (x86)\`):
		return 32
	case strings.Contains(p, `\system32\`):
		return 64
	}
	switch baseName(p) {
	case "wow64.dll", "wow64win.dll", "wow64cpu.dll", "wow64base.dll", "wow64con.dll", "xtajit.dll", "xtajit64.dll":
		return 64
	}
	if base >= 1<<32 {
		return 64
	}
	return 32
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return path.Base(p)
}

func readPtr(p []byte, size int) uint64 {
	if size == 4 {
		return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}
