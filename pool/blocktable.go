package pool

import "math/rand/v2"

// blockSlot is one slot of a blockTable: an open block stored inline with its
// address, in 24 bytes. ref is the block's group index plus one, and 0 in an
// empty slot: it tells an occupied slot from an empty one, so every uint64
// (address 0 included) is a valid key. size holds sizes below bigSize; a
// larger one (possible only in a crafted trace) is kept in blockTable.big.
type blockSlot struct {
	addr uint64
	time int64
	size uint32
	ref  uint32
}

// group returns the group index of an occupied slot.
func (s *blockSlot) group() uint32 { return s.ref - 1 }

// bigSize in blockSlot.size says that the block's size is in blockTable.big.
const bigSize = ^uint32(0)

// minBlockSlots is the smallest blockTable. The table grows (doubling) when
// an insert would take the load above 1/2 and halves when a delete leaves it
// below 1/8, so its slot count stays within max(minBlockSlots, 8*live+8):
// memory is proportional to the open blocks even after a peak. A slot is 24
// bytes, so a growing table costs about 48 to 96 bytes per open block.
//
// The load bound is the speed of the table: under 1/2 a lookup of an absent
// address (every allocation) probes about 1.9 slots on the pool streams of
// the generated scale traces and a delete scans about 1.7, against 3.9 and
// 3.7 under 3/4.
const minBlockSlots = 8

// blockTable maps block addresses to open blocks: open addressing with
// linear probing over a power-of-two slot array and backward-shift deletion
// (no tombstones, so probe sequences never degrade after many deletes).
// Addresses are mixed by a multiplicative hash before taking the top bits, so
// aligned or sequential addresses spread evenly; the hash is keyed by a
// random seed drawn at every (re)allocation, so input crafted to pile
// addresses into one probe run cannot be prepared in advance (Go maps, which
// this replaces, are seeded too). Slot order is never observable: nothing
// iterates the table except resize.
type blockTable struct {
	slots []blockSlot
	n     int    // occupied slots
	shift uint   // 64 - log2(len(slots))
	seed  uint64 // hash key, drawn by init
	// big holds the sizes of the open blocks of bigSize bytes or more, by
	// address: at most one entry per open block.
	big map[uint64]uint64
}

// home returns the preferred slot of addr.
func (t *blockTable) home(addr uint64) int { return homeOf(addr, t.seed, t.shift) }

// homeOf is home for a table of the given seed and shift.
func homeOf(addr, seed uint64, shift uint) int {
	// Fold the high half down before the first multiply: a multiply carries
	// bits only upward, so without it addresses that differ only in their
	// top 16 bits (stride 1<<48) reached the slot index through one fold
	// and piled into probe runs of 200-370 slots for about 1 seed in 70.
	h := addr ^ seed
	h ^= h >> 32
	h *= 0x9E3779B97F4A7C15
	h ^= h >> 32
	h *= 0xD6E8FEB86659FD93
	// shift is at most 61 (minBlockSlots): the mask spares the test Go
	// makes for a shift of 64 or more.
	return int(h >> (shift & 63))
}

// init allocates n slots (a power of two, at least minBlockSlots).
func (t *blockTable) init(n int) {
	t.slots = make([]blockSlot, n)
	t.n = 0
	t.seed = rand.Uint64()
	s := uint(64)
	for m := n; m > 1; m >>= 1 {
		s--
	}
	t.shift = s
}

// remove deletes addr and returns its block's fields; found is false, and
// the table unchanged, when addr is absent. It may shrink the table.
//
// The slot is emptied by backward-shift deletion: later entries of the
// probe run move back so that every remaining key stays reachable from its
// home slot without tombstones. Both steps are in this one function, with
// the slice and the hash parameters in locals: a call between them, and
// loading those again for every slot, cost 3% of the ledger's
// instructions.
func (t *blockTable) remove(addr uint64) (time int64, size uint64, group uint32, found bool) {
	if t.n == 0 {
		return 0, 0, 0, false
	}
	slots, seed, shift := t.slots, t.seed, t.shift
	mask := len(slots) - 1
	i := homeOf(addr, seed, shift)
	for {
		s := &slots[i]
		if s.ref == 0 {
			return 0, 0, 0, false
		}
		if s.addr == addr {
			time, size, group = s.time, uint64(s.size), s.group()
			if s.size == bigSize {
				size = t.big[addr]
				delete(t.big, addr)
			}
			break
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		s := &slots[j]
		if s.ref == 0 {
			break
		}
		// The entry at j may move to the hole at i only if its home is not
		// cyclically within (i, j]: otherwise i lies before its home.
		if (j-homeOf(s.addr, seed, shift))&mask < (j-i)&mask {
			continue
		}
		slots[i] = *s
		i = j
	}
	slots[i] = blockSlot{}
	t.n--
	if len(slots) > minBlockSlots && t.n*8 < len(slots) {
		t.resize(len(slots) / 2)
	}
	return time, size, group, true
}

// sizeOf returns the size of the block in slot s.
func (t *blockTable) sizeOf(s *blockSlot) uint64 {
	if s.size == bigSize {
		return t.big[s.addr]
	}
	return uint64(s.size)
}

// set stores an allocation in slot s (returned by slot): its time, size
// and group.
func (t *blockTable) set(s *blockSlot, time int64, size uint64, group uint32) {
	if s.size == bigSize {
		delete(t.big, s.addr)
	}
	s.time, s.ref = time, group+1
	if size < uint64(bigSize) {
		s.size = uint32(size)
		return
	}
	if t.big == nil {
		t.big = make(map[uint64]uint64)
	}
	t.big[s.addr] = size
	s.size = bigSize
}

// slot returns the slot of addr, claiming an empty one for group (time and
// size zero) if addr is absent; found reports whether it was present. The
// pointer is valid until the next insert or delete. group must be below
// ^uint32(0).
func (t *blockTable) slot(addr uint64, group uint32) (s *blockSlot, found bool) {
	if (t.n+1)*2 > len(t.slots) {
		t.resize(max(2*len(t.slots), minBlockSlots))
	}
	mask := len(t.slots) - 1
	for i := t.home(addr); ; i = (i + 1) & mask {
		s = &t.slots[i]
		if s.ref == 0 {
			t.n++
			// Field by field: a composite literal is built on the stack
			// and copied, which stalls on store forwarding.
			s.addr, s.time, s.size, s.ref = addr, 0, 0, group+1
			return s, false
		}
		if s.addr == addr {
			return s, true
		}
	}
}

// resize rehashes every entry into a table of n slots.
func (t *blockTable) resize(n int) {
	old := t.slots
	t.init(n)
	mask := n - 1
	for k := range old {
		o := &old[k]
		if o.ref == 0 {
			continue
		}
		i := t.home(o.addr)
		for t.slots[i].ref != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = *o
		t.n++
	}
}
