package leak

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"

	"github.com/etwkit/etwkit/etw"
)

// Traces without stack caching (xperf -stackwalk's default) follow every
// pool event with full StackWalk Stack records, and most of them repeat a
// stack seen before. The reading goroutine numbers the distinct frame
// lists of those records by the hash of their bytes (frameTable), and a
// record crosses to the pipeline as its number; only the first record of
// each list carries its frames, which the pipeline interns once
// (Pipeline.framesOf maps the reading goroutine's numbers to the
// correlator's).

// frameTable is the reading goroutine's table of the distinct frame lists
// (raw payload bytes and pointer size) of the Stack records seen so far,
// numbered from 1 in order of first sight. Its memory is that of the
// distinct lists, which the correlator keeps too.
type frameTable struct {
	seed  maphash.Seed
	idx   map[uint64]uint32 // hash → latest list with that hash
	prev  []uint32          // per list - 1: the previous list with the same hash
	ptr   []uint8           // per list - 1: pointer size
	off   []int             // list i's bytes are arena[off[i-1]:off[i]]
	arena []byte
	hot   [frameHotSize]hotList // recently seen lists, by hash
	// site guesses the kernel stack of a pool event from its tag, size
	// and operation: the list that followed the last pool event alike
	// (one call site allocates one tag at one size, mostly). A guess is
	// checked byte for byte, and spares the hash when right.
	site [frameHotSize]hotList
}

// hotList is an entry of frameTable.hot: a list's number (0: empty),
// pointer size and bytes (arena[off:end]), held in the entry so that a hit
// reads nothing else but the bytes.
type hotList struct {
	off, end int
	id       uint32
	ptr      uint8
}

// frameHotSize is the number of entries of frameTable.hot (a power of 2).
const frameHotSize = 1024

func newFrameTable() *frameTable {
	return &frameTable{seed: maphash.MakeSeed(), idx: map[uint64]uint32{}, off: []int{0}}
}

// find returns the number of the frame list b (of pointer size ptr),
// numbering it when it is new, and reports whether it was.
func (t *frameTable) find(b []byte, ptr int) (uint32, bool) {
	h := maphash.Bytes(t.seed, b)
	slot := &t.hot[h&(frameHotSize-1)]
	if t.holds(slot, b, ptr) {
		return slot.id, false
	}
	first := t.idx[h]
	for id := first; id != 0; id = t.prev[id-1] {
		if t.is(id, b, ptr) {
			*slot = t.entry(id)
			return id, false
		}
	}
	t.arena = append(t.arena, b...)
	t.off = append(t.off, len(t.arena))
	t.prev = append(t.prev, first)
	t.ptr = append(t.ptr, uint8(ptr))
	id := uint32(len(t.prev))
	t.idx[h] = id
	*slot = t.entry(id)
	return id, true
}

// findAfter is find for the Stack record that follows the pool event r.
func (t *frameTable) findAfter(r *rec, b []byte, ptr int) (uint32, bool) {
	h := (uint64(r.tag)|uint64(r.op)<<32)*0x9E3779B97F4A7C15 ^ r.size*0xBF58476D1CE4E5B9
	slot := &t.site[h>>54&(frameHotSize-1)]
	if t.holds(slot, b, ptr) {
		return slot.id, false
	}
	id, isNew := t.find(b, ptr)
	*slot = t.entry(id)
	return id, isNew
}

// holds reports whether the cache entry e holds list b of pointer size
// ptr.
func (t *frameTable) holds(e *hotList, b []byte, ptr int) bool {
	return e.id != 0 && int(e.ptr) == ptr && bytes.Equal(t.arena[e.off:e.end], b)
}

// entry returns the cache entry of list id.
func (t *frameTable) entry(id uint32) hotList {
	return hotList{off: t.off[id-1], end: t.off[id], id: id, ptr: t.ptr[id-1]}
}

// is reports whether list id is b with pointer size ptr.
func (t *frameTable) is(id uint32, b []byte, ptr int) bool {
	return int(t.ptr[id-1]) == ptr && bytes.Equal(t.arena[t.off[id-1]:t.off[id]], b)
}

// Frames a batch carries for the new frame lists of its stack records, and
// the longest list that goes that way (longer ones, which real traces do
// not have, cross as copied events).
const (
	batchFrames   = 16 << 10
	maxListFrames = 1 << 10
)

// reading is the state of the goroutine that fills batches: the frame
// table, the trace's pointer size and the pipeline, whose fixed parts
// Pipeline.uses reads. It is allocated apart from the Pipeline, whose
// fields the pipeline goroutine writes for every event: read from there
// for every Stack record, the table and the pointer size shared cache
// lines with those writes (false sharing between the two cores; on the
// 200 MB full-walk trace moving them here took poolleak from 460 to 370 ms
// of CPU, issue 19).
type reading struct {
	p   *Pipeline
	ptr int
	tab *frameTable
	// Padding to 128 bytes, a size class of its own lines.
	_ [128 - 24]byte
}

// reading returns the pipeline's batch-filling state, made on first use.
// Only the goroutine that fills batches calls it.
func (p *Pipeline) reading() *reading {
	if p.rd == nil {
		p.rd = &reading{p: p, ptr: p.ptr, tab: newFrameTable()}
	}
	return p.rd
}

// stackRecord adds a StackWalk Stack record of a kernel header as a
// recStack or recStackNew record and reports whether it did.
func stackRecord(rd *reading, ev *etw.Event, b *batch) bool {
	if ev.Hook != etw.HookStackWalk || !ev.IsKernel() || len(ev.Payload) < 16 {
		return false
	}
	ptr := ev.PointerSize()
	if ptr == 0 {
		return false
	}
	pl := ev.Payload
	n := (len(pl) - 16) / ptr
	if n > maxListFrames {
		return false
	}
	list := pl[16 : 16+n*ptr]
	if ptr == rd.ptr {
		// Most pool events are followed at once by their kernel stack:
		// one record then stands for both.
		if r := lastPool(b, ev.Processor, pl); r != nil {
			if kind, pid, tid := pairKind(r, pl, recPoolStack, recPoolStackNT); kind != 0 {
				id, isNew := rd.tab.findAfter(r, list, ptr)
				if !isNew {
					r.kind, r.pid, r.tid, r.ref, r.refTS = kind, pid, tid, uint64(id), ev.Timestamp
					return true
				}
				return stackRec(ev, b, id, isNew, n, ptr)
			}
		}
	}
	id, isNew := rd.tab.find(list, ptr)
	return stackRec(ev, b, id, isNew, n, ptr)
}

// stackRec adds the Stack record ev (n frames of ptr bytes, list id, new
// or not) as a recStack or recStackNew record.
func stackRec(ev *etw.Event, b *batch, id uint32, isNew bool, n, ptr int) bool {
	pl := ev.Payload
	r := b.next()
	r.kind, r.refTS, r.cpu, r.op, r.ref = recStack, ev.Timestamp, ev.Processor, uint8(ptr), uint64(id)
	r.ts, r.pid, r.tid = int64(binary.LittleEndian.Uint64(pl)), binary.LittleEndian.Uint32(pl[8:]), binary.LittleEndian.Uint32(pl[12:])
	if isNew {
		r.kind, r.session, r.size = recStackNew, uint32(len(b.frames)), uint64(n)
		for i := range n {
			if ptr == 4 {
				b.frames = append(b.frames, uint64(binary.LittleEndian.Uint32(pl[16+4*i:])))
			} else {
				b.frames = append(b.frames, binary.LittleEndian.Uint64(pl[16+8*i:]))
			}
		}
		b.limit()
	}
	return true
}

// stackRef feeds a recStack or recStackNew record to the correlator.
func (p *Pipeline) stackRef(b *batch, r *rec) {
	if r.kind == recStackNew {
		fid := p.corr.InternFrames(b.frames[r.session : r.session+uint32(r.size)])
		for uint64(len(p.framesOf)) <= r.ref {
			p.framesOf = append(p.framesOf, 0)
		}
		p.framesOf[r.ref] = fid
	}
	s := &p.stack
	s.EventTimeStamp, s.Process, s.Thread, s.PointerSize, s.Frames = r.ts, etw.PID(r.pid), etw.TID(r.tid), int(r.op), 0
	if r.ref < uint64(len(p.framesOf)) {
		s.Frames = p.framesOf[r.ref]
	}
	p.corr.StackReference(s, r.cpu, r.refTS)
}

// awaitStack feeds the Stack record of a recPoolStack or recPoolStackNT
// record, whose pool event (of process pid and thread tid) has just been
// queued, to the correlator.
func (p *Pipeline) awaitStack(r *rec, pid etw.PID, tid etw.TID) {
	s := &p.stack
	s.EventTimeStamp, s.Process, s.Thread, s.PointerSize, s.Frames = r.ts, etw.PID(r.pid), etw.TID(r.tid), p.ptr, 0
	if r.ref < uint64(len(p.framesOf)) {
		s.Frames = p.framesOf[r.ref]
	}
	p.corr.AwaitStack(r.ts, pid, tid, r.cpu, s, r.refTS)
}
