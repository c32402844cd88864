package stacks

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/utf16le"
)

// CLR providers whose method events give the code ranges of JIT-compiled
// .NET methods, which have no image.
var (
	// CLRRuntimeGUID is Microsoft-Windows-DotNETRuntime: MethodLoadVerbose
	// (143) and MethodUnloadVerbose (144).
	CLRRuntimeGUID = etw.MustParseGUID("e13c0d23-ccbc-4e12-931b-d9cc2eee27e4")
	// CLRRundownGUID is Microsoft-Windows-DotNETRuntimeRundown:
	// MethodDCStartVerbose (143) and MethodDCEndVerbose (144).
	CLRRundownGUID = etw.MustParseGUID("a669021c-c450-4609-a035-5af59af4df18")
)

// Method is the code range of a JIT-compiled method.
type Method struct {
	Start     uint64
	Size      uint32
	Namespace string // declaring type, e.g. "System.IO.FileStream"
	Name      string // method name, e.g. "Read"
}

// FullName returns "Namespace.Name", the way PerfView shows managed frames.
func (m *Method) FullName() string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "." + m.Name
}

// Methods keeps the JIT-compiled method ranges of every process from the
// CLR's MethodLoad / MethodUnload (Verbose) and rundown MethodDCStart /
// MethodDCEnd (Verbose) events. Ranges are kept for the whole trace:
// JIT code is rarely freed, and a rundown at the end of a trace describes
// methods that ran before it. Where two events give the same start
// address in one process, the first is kept.
//
// A .NET process brings thousands of these events (a rundown lists every
// method compiled so far), and few of them are ever looked up. An event
// costs a 32-byte range, its method name in UTF-8 and, the first time it
// comes, its namespace (types have many methods); a [Method] is made when
// [Methods.Lookup] first returns it.
type Methods struct {
	procs map[etw.PID]*methodSpace
	// Events counts the method events used, by "runtime/143",
	// "rundown/144" and so on.
	Events map[string]int
	// Namespaces by their UTF-16LE bytes (nsKeys): the number of their
	// UTF-8 form in nsNames. Number 0 is the empty one, which lastID
	// starts at.
	nsIDs   map[string]uint32
	nsKeys  []string
	nsNames []string
	// The namespace number and the process space of the last event: a
	// rundown comes in long runs of one process, often of one type.
	lastID  uint32
	lastPID etw.PID
	last    *methodSpace
}

// methodSpace holds the methods of one process. Ranges arrive in blocks,
// and their names in chunks, which are never copied: fresh memory is most
// of what these events cost, and a slice grown by append is copied, and
// the copy's pages faulted in, at every growth (on a trace with a rundown
// of 17,000 methods, 2.3 MB for 0.5 MB of ranges). Blocks and chunks
// start small and double up to rangeBlock ranges and nameChunk bytes, so
// that a process with a few methods costs little. Lookup sorts the ranges
// into list, by start then order of arrival, and drops the later ranges
// of a start seen before.
type methodSpace struct {
	list    []methodRange      // sorted
	pending [][]methodRange    // arrived since the last sort
	chunks  [][]byte           // the ranges' method names, in UTF-8
	n       uint32             // ranges that arrived
	made    map[uint32]*Method // by seq: the Methods Lookup returned
}

// Sizes of the blocks of ranges and of the chunks of names: the first
// and the largest (a chunk is larger only for a longer name).
const (
	firstBlock = 8
	rangeBlock = 1024
	firstChunk = 256
	nameChunk  = 32 << 10
)

// methodRange is one method event's range, the number of its namespace
// (Methods.nsNames) and where its name is: chunks[chunk][off:off+name].
type methodRange struct {
	start            uint64
	size             uint32
	seq              uint32 // order of arrival in the space
	ns               uint32
	chunk, off, name uint32
}

// NewMethods returns an empty method map.
func NewMethods() *Methods {
	return &Methods{
		procs: map[etw.PID]*methodSpace{}, Events: map[string]int{},
		nsIDs: map[string]uint32{"": 0}, nsKeys: []string{""}, nsNames: []string{""},
	}
}

// Keys of Methods.Events, by provider (runtime, rundown) and event id
// (143, 144).
var methodEventKeys = [2][2]string{{"runtime/143", "runtime/144"}, {"rundown/143", "rundown/144"}}

// Event takes one event; others than the CLR method events are ignored.
func (ms *Methods) Event(ev *etw.Event) {
	if !ms.Uses(ev) {
		return
	}
	start, size, ns, name, ok := scanMethodVerbose(ev.Payload)
	if !ok {
		return
	}
	src, id := 0, 0
	if ev.Provider == CLRRundownGUID {
		src = 1
	}
	if ev.ID == 144 {
		id = 1
	}
	ms.Events[methodEventKeys[src][id]]++
	sp := ms.last
	if sp == nil || ms.lastPID != ev.PID {
		if sp = ms.procs[ev.PID]; sp == nil {
			sp = &methodSpace{}
			ms.procs[ev.PID] = sp
		}
		ms.last, ms.lastPID = sp, ev.PID
	}
	sp.add(start, size, ms.namespace(ev.Payload[methodNames:methodNames+ns]), ev.Payload[methodNames+ns+2:methodNames+ns+2+name])
}

// namespace returns the number of the namespace whose UTF-16LE bytes are
// b, numbering it if new.
func (ms *Methods) namespace(b []byte) uint32 {
	if string(b) == ms.nsKeys[ms.lastID] {
		return ms.lastID
	}
	id, ok := ms.nsIDs[string(b)]
	if !ok {
		id = uint32(len(ms.nsNames))
		key := string(b)
		ms.nsKeys = append(ms.nsKeys, key)
		ms.nsNames = append(ms.nsNames, utf16le.String(b))
		ms.nsIDs[key] = id
	}
	ms.lastID = id
	return id
}

// add appends a range, its namespace's number and its name, UTF-16LE
// bytes.
func (sp *methodSpace) add(start uint64, size, ns uint32, name []byte) {
	// UTF-8 takes at most 3 bytes for each UTF-16 unit.
	sp.chunks = room(sp.chunks, 3*len(name)/2, firstChunk, nameChunk)
	k := len(sp.chunks) - 1
	off := len(sp.chunks[k])
	sp.chunks[k] = utf16le.Append(sp.chunks[k], name)
	sp.pending = room(sp.pending, 1, firstBlock, rangeBlock)
	b := len(sp.pending) - 1
	sp.pending[b] = append(sp.pending[b], methodRange{
		start: start, size: size, seq: sp.n, ns: ns,
		chunk: uint32(k), off: uint32(off), name: uint32(len(sp.chunks[k]) - off),
	})
	sp.n++
}

// room returns blocks with room for need more elements in its last
// block, adding a block when it has not: of first elements, then of
// twice the last one's up to limit, or of need if that is more.
func room[T any](blocks [][]T, need, first, limit int) [][]T {
	k := len(blocks) - 1
	if k >= 0 && cap(blocks[k])-len(blocks[k]) >= need {
		return blocks
	}
	n := first
	if k >= 0 {
		n = min(2*cap(blocks[k]), limit)
	}
	return append(blocks, make([]T, 0, max(n, need)))
}

// Uses reports whether [Methods.Event] would use ev (the CLR runtime and
// rundown MethodLoadVerbose / MethodDCStartVerbose events, ids 143 and
// 144). It reads nothing but ev.
func (ms *Methods) Uses(ev *etw.Event) bool {
	return (ev.Header == etw.HeaderEvent32 || ev.Header == etw.HeaderEvent64) &&
		(ev.Provider == CLRRuntimeGUID || ev.Provider == CLRRundownGUID) &&
		(ev.ID == 143 || ev.ID == 144)
}

// methodNames is the offset of the namespace in a MethodLoadVerbose
// payload.
const methodNames = 36

// scanMethodVerbose reads a MethodLoadVerbose / MethodDCStartVerbose
// payload: u64 MethodID, u64 ModuleID, u64 MethodStartAddress, u32
// MethodSize, u32 MethodToken, u32 MethodFlags, then the UTF-16
// namespace, name and signature (the address fields are 64-bit in every
// process). It returns the start and size of the method and the byte
// lengths of its namespace and name, which start at methodNames, each
// followed by its 2-byte terminator; ok is false when the payload is too
// short, the namespace or the name has no terminator, or the size is 0.
func scanMethodVerbose(p []byte) (start uint64, size uint32, ns, name int, ok bool) {
	if len(p) < methodNames {
		return 0, 0, 0, 0, false
	}
	start, size = binary.LittleEndian.Uint64(p[16:]), binary.LittleEndian.Uint32(p[24:])
	if ns, ok = utf16le.Text(p[methodNames:]); !ok {
		return 0, 0, 0, 0, false
	}
	if name, ok = utf16le.Text(p[methodNames+ns+2:]); !ok {
		return 0, 0, 0, 0, false
	}
	return start, size, ns, name, size > 0
}

// Lookup returns the method of process pid whose code contains addr.
func (ms *Methods) Lookup(pid etw.PID, addr uint64) *Method {
	sp := ms.procs[pid]
	if sp == nil {
		return nil
	}
	sp.sort()
	i, _ := slices.BinarySearchFunc(sp.list, addr+1, func(r methodRange, t uint64) int {
		if r.start < t {
			return -1
		}
		return 1
	})
	// Ranges do not overlap in practice; look at a few candidates below.
	for j := i - 1; j >= 0 && j >= i-4; j-- {
		r := &sp.list[j]
		if addr >= r.start && addr-r.start < uint64(r.size) {
			return ms.method(sp, r)
		}
	}
	return nil
}

// sort orders the list by start address, keeping only the first range
// to arrive of those with the same start.
func (sp *methodSpace) sort() {
	if len(sp.pending) == 0 {
		return
	}
	n := len(sp.list)
	for _, b := range sp.pending {
		n += len(b)
	}
	sp.list = slices.Grow(sp.list, n-len(sp.list))
	for _, b := range sp.pending {
		sp.list = append(sp.list, b...)
	}
	sp.pending = nil
	slices.SortFunc(sp.list, func(a, b methodRange) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	sp.list = slices.CompactFunc(sp.list, func(a, b methodRange) bool { return a.start == b.start })
}

// method returns the Method of r, made on first use.
func (ms *Methods) method(sp *methodSpace, r *methodRange) *Method {
	if m := sp.made[r.seq]; m != nil {
		return m
	}
	m := &Method{Start: r.start, Size: r.size, Namespace: ms.nsNames[r.ns], Name: string(sp.chunks[r.chunk][r.off : r.off+r.name])}
	if sp.made == nil {
		sp.made = map[uint32]*Method{}
	}
	sp.made[r.seq] = m
	return m
}
