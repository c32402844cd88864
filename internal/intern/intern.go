// Package intern is a small open-addressed hash table that numbers the
// distinct keys it is given: 0, 1, 2... in order of first sight. The
// owner keeps the values of each key in slices of its own, indexed by
// that number; a lookup is one probe sequence over slots that hold the
// keys.
//
// The caller computes each key's hash (well mixed in its high bits: the
// table uses the top ones, so a multiplicative hash will do) once and
// passes it with the key; equal keys must have
// equal hashes. Collisions only cost probes: keys are compared.
package intern

import "math/bits"

// Table numbers distinct keys of type K. The zero Table is empty and
// ready to use.
type Table[K comparable] struct {
	slots  []slot[K]
	keys   []K      // by number
	hashes []uint64 // by number: the key's hash, to grow
	shift  uint     // 64 - log2(len(slots)): a hash's first slot is h>>shift
}

// slot is a place of the table: a key and its number+1, 0 when free. The
// key is kept in the slot, so that a probe reads one place of memory.
type slot[K comparable] struct {
	n uint32
	k K
}

// Find returns the number of k, of hash h, and true, or -1 and false when
// k was never added.
func (t *Table[K]) Find(h uint64, k K) (int, bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.n == 0 {
			return -1, false
		}
		if s.k == k {
			return int(s.n - 1), true
		}
	}
}

// Add returns the number of k, of hash h, numbering it when it is new,
// and reports whether it was.
func (t *Table[K]) Add(h uint64, k K) (int, bool) {
	if 2*(len(t.keys)+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	i := h >> t.shift
	for ; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.n == 0 {
			break
		}
		if s.k == k {
			return int(s.n - 1), false
		}
	}
	n := len(t.keys)
	t.keys = append(t.keys, k)
	t.hashes = append(t.hashes, h)
	t.slots[i] = slot[K]{uint32(n + 1), k}
	return n, true
}

// grow doubles the slots (at least 64) and places the keys again.
func (t *Table[K]) grow() {
	t.setSize(max(64, 2*len(t.slots)))
	mask := uint64(len(t.slots) - 1)
	for n, h := range t.hashes {
		i := h >> t.shift
		for t.slots[i].n != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = slot[K]{uint32(n + 1), t.keys[n]}
	}
}

// Len returns the number of distinct keys.
func (t *Table[K]) Len() int { return len(t.keys) }

// Key returns the key numbered n.
func (t *Table[K]) Key(n int) K { return t.keys[n] }

// Keys returns the keys by number. The slice is the table's: do not
// modify it.
func (t *Table[K]) Keys() []K { return t.keys }

// Reset empties the table, with room for about n keys before it grows.
func (t *Table[K]) Reset(n int) {
	size := 64
	for size < 2*n {
		size *= 2
	}
	t.setSize(size)
	t.keys = make([]K, 0, n)
	t.hashes = make([]uint64, 0, n)
}

// setSize gives the table size free slots (a power of 2).
func (t *Table[K]) setSize(size int) {
	t.slots = make([]slot[K], size)
	t.shift = 64 - uint(bits.TrailingZeros(uint(size)))
}

// Clear empties the table, keeping its memory.
func (t *Table[K]) Clear() {
	clear(t.slots)
	t.keys, t.hashes = t.keys[:0], t.hashes[:0]
}
