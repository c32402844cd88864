package stacks

import (
	"encoding/binary"
	"hash/maphash"
	"slices"

	"github.com/etwkit/etwkit/etw"
)

// KeyDefinitions holds the stack-key definitions of a whole trace, for a
// [Correlator] that must resolve key references as they come (a streaming
// tool such as etwdump) although the KeyDelete and KeyRundown records
// that define them come later, often at the very end of the trace. Feed
// every event of a first pass over the trace to [KeyDefinitions.Event],
// then pass it in Options.Keys to the correlator of the second pass.
//
// It follows the correlator's rules: a key's definition ends the
// generation of references made since its previous definition, so the
// same key value can stand for different stacks over a trace. Only
// definitions that some reference needs are kept, and equal frame lists
// are kept once: memory is bounded by the referenced key generations and
// their distinct stacks, not by the records of the trace.
type KeyDefinitions struct {
	state  [2]map[uint64]keyGen // per table (0 user, 1 kernel) and key
	defs   map[keyGenID]uint32  // referenced generation -> frames id
	frames [][]uint64           // id-1 -> frames
	index  map[uint64][]uint32  // frames hash -> ids
	seed   maphash.Seed
	buf    []uint64
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

// NewKeyDefinitions returns an empty set of definitions.
func NewKeyDefinitions() *KeyDefinitions {
	return &KeyDefinitions{
		state: [2]map[uint64]keyGen{{}, {}},
		defs:  map[keyGenID]uint32{},
		index: map[uint64][]uint32{},
		seed:  maphash.MakeSeed(),
	}
}

// Event takes one event of the first pass, in time order; only stack-key
// references (StackKeyKernel, StackKeyUser, extended-data stack keys) and
// definitions (KeyCreate, KeyDelete, KeyRundown) matter.
func (d *KeyDefinitions) Event(ev *etw.Event) {
	if ev.Provider != etw.StackWalkGUID {
		if xs, ok := ev.ExtStack(); ok && xs.IsKey {
			d.reference(false, xs.Key)
		}
		return
	}
	switch ev.Opcode {
	case 37, 38:
		k, err := etw.DecodeStackKey(ev)
		if err == nil {
			d.reference(k.Kernel, k.Key)
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

func (d *KeyDefinitions) reference(kernel bool, key uint64) {
	tab := d.state[tableOf(kernel)]
	if st := tab[key]; !st.referenced {
		st.referenced = true
		tab[key] = st
	}
}

// Len returns the number of referenced key generations that have a
// definition.
func (d *KeyDefinitions) Len() int {
	if d == nil {
		return 0
	}
	return len(d.defs)
}

// lookup returns the frames that define generation gen of a key, if the
// trace has them. d may be nil.
func (d *KeyDefinitions) lookup(kernel bool, key uint64, gen uint32) ([]uint64, bool) {
	if d == nil {
		return nil, false
	}
	id, ok := d.defs[keyGenID{key: key, gen: gen, kernel: kernel}]
	if !ok {
		return nil, false
	}
	return d.frames[id-1], true
}

func (d *KeyDefinitions) intern(frames []uint64) uint32 {
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
