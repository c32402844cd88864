package stacks

import (
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/etwkit/etwkit/etw"
)

// Lookahead holds what a first pass over a trace tells a [Correlator]
// that must emit events as they come (a streaming tool such as etwdump)
// about records that come after the events they belong to: the stack-key
// definitions, which KeyDelete and KeyRundown records give late, often at
// the very end of the trace, and the user-mode stack fragments logged
// later than the correlator's wait (a thread returns to user mode long
// after its event). Feed every event of the first pass to
// [Lookahead.Event], then pass it in Options.Lookahead to the correlator
// of the second pass.
//
// It follows the correlator's rules: a key's definition ends the
// generation of references made since its previous definition, so the
// same key value can stand for different stacks over a trace. Only
// definitions that some reference needs are kept, and equal frame lists
// are kept once: memory is bounded by the referenced key generations,
// their distinct stacks and the late fragments, not by the records of the
// trace.
type Lookahead struct {
	state  [2]map[uint64]keyGen // per table (0 user, 1 kernel) and key
	defs   map[keyGenID]uint32  // referenced generation -> frames id
	frames [][]uint64           // id-1 -> frames
	index  map[uint64][]uint32  // frames hash -> ids
	seed   maphash.Seed
	buf    []uint64
	wait   int64
	ptr    int
	late   map[eventRef]int64 // user fragments later than wait -> record time
}

// eventRef names an event by raw timestamp and thread.
type eventRef struct {
	ts  int64
	tid etw.TID
}

// keyGen is the current generation of a key and whether it was referenced
// in it.
type keyGen struct {
	gen        uint32
	referenced bool
}

type keyGenID struct {
	key    uint64
	gen    uint32
	kernel bool
}

// NewLookahead returns an empty Lookahead for a correlator whose
// Options.Wait is wait (0: the correlator's default) on a trace of the
// given pointer size.
func NewLookahead(wait int64, ptrSize int) *Lookahead {
	if wait == 0 {
		wait = defaultWait
	}
	return &Lookahead{
		state: [2]map[uint64]keyGen{{}, {}},
		defs:  map[keyGenID]uint32{},
		index: map[uint64][]uint32{},
		seed:  maphash.MakeSeed(),
		wait:  wait,
		ptr:   ptrSize,
		late:  map[eventRef]int64{},
	}
}

// Event takes one event of the first pass, in time order; only StackWalk
// records and extended-data stack keys matter.
func (d *Lookahead) Event(ev *etw.Event) {
	if ev.Provider != etw.StackWalkGUID {
		if xs, ok := ev.ExtStack(); ok && xs.IsKey {
			d.reference(false, xs.Key)
		}
		return
	}
	switch ev.Opcode {
	case 32:
		s, err := etw.DecodeStack(ev)
		if err != nil || s.Len() == 0 {
			return
		}
		ptr := ev.PointerSize()
		if ptr == 0 {
			ptr = d.ptr
		}
		if !IsKernelAddress(s.Frame(s.Len()-1), ptr) {
			d.userFragment(s.EventTimeStamp, s.Thread, ev.Timestamp)
		}
	case 37, 38:
		k, err := etw.DecodeStackKey(ev)
		if err == nil {
			d.reference(k.Kernel, k.Key)
			if !k.Kernel {
				d.userFragment(k.EventTimeStamp, k.Thread, ev.Timestamp)
			}
		}
	case 34, 35, 36:
		var kernel, ok bool
		var key uint64
		d.buf, kernel, key, ok = decodeKeyDef(ev, d.buf[:0])
		if !ok {
			return
		}
		tab := d.state[tableOf(kernel)]
		st := tab[key]
		if st.referenced {
			d.defs[keyGenID{key: key, gen: st.gen, kernel: kernel}] = d.intern(d.buf)
		}
		tab[key] = keyGen{gen: st.gen + 1}
	}
}

// userFragment notes a user-mode stack fragment of the event at ts of
// thread tid, logged at raw time at, when it comes later than the wait.
func (d *Lookahead) userFragment(ts int64, tid etw.TID, at int64) {
	if at-ts > d.wait && len(d.late) < maxLateFragments {
		d.late[eventRef{ts, tid}] = at
	}
}

// maxLateFragments bounds the late user fragments a Lookahead keeps (a
// crafted trace could make every fragment late); events of the others go
// without their user part, as without a Lookahead.
const maxLateFragments = 1 << 20

// lateUser returns when the user fragment of the event at ts of thread tid
// is logged, if that is later than the wait. d may be nil.
func (d *Lookahead) lateUser(ts int64, tid etw.TID) (int64, bool) {
	if d == nil || len(d.late) == 0 {
		return 0, false
	}
	at, ok := d.late[eventRef{ts, tid}]
	return at, ok
}

func (d *Lookahead) reference(kernel bool, key uint64) {
	tab := d.state[tableOf(kernel)]
	if st := tab[key]; !st.referenced {
		st.referenced = true
		tab[key] = st
	}
}

// Definitions returns the number of referenced key generations that have
// a definition.
func (d *Lookahead) Definitions() int { return len(d.defs) }

// LateFragments returns the number of user-mode stack fragments logged
// later than the wait after their event.
func (d *Lookahead) LateFragments() int { return len(d.late) }

// lookup returns the frames that define generation gen of a key, if the
// trace has them. d may be nil.
func (d *Lookahead) lookup(kernel bool, key uint64, gen uint32) ([]uint64, bool) {
	if d == nil {
		return nil, false
	}
	id, ok := d.defs[keyGenID{key: key, gen: gen, kernel: kernel}]
	if !ok {
		return nil, false
	}
	return d.frames[id-1], true
}

func (d *Lookahead) intern(frames []uint64) uint32 {
	h := hashFrames(d.seed, frames)
	for _, id := range d.index[h] {
		if slices.Equal(d.frames[id-1], frames) {
			return id
		}
	}
	d.frames = append(d.frames, slices.Clone(frames))
	id := uint32(len(d.frames))
	d.index[h] = append(d.index[h], id)
	return id
}

// hashFrames hashes a frame list.
func hashFrames(seed maphash.Seed, frames []uint64) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var b [8]byte
	for _, f := range frames {
		binary.LittleEndian.PutUint64(b[:], f)
		h.Write(b[:])
	}
	return h.Sum64()
}
