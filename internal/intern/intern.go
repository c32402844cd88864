// Package intern is a small open-addressed hash table that numbers the
// distinct keys it is given: 0, 1, 2... in order of first sight. The
// owner keeps the values of each key in slices of its own, indexed by
// that number, so that the table holds no pointers to scan and a lookup
// costs one probe sequence over a slice of uint32.
//
// The caller computes each key's hash (well mixed in its low bits: the
// table masks them) once and passes it with the key; equal keys must have
// equal hashes. Collisions only cost probes: keys are compared.
package intern

// Table numbers distinct keys of type K. The zero Table is empty and
// ready to use.
type Table[K comparable] struct {
	slots  []uint32 // number+1 of a key; 0 marks a free slot
	keys   []K      // by number
	hashes []uint64 // by number: the key's hash, to grow and to compare cheaply
}

// Find returns the number of k, of hash h, and true, or -1 and false when
// k was never added.
func (t *Table[K]) Find(h uint64, k K) (int, bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		j := t.slots[i]
		if j == 0 {
			return -1, false
		}
		if t.hashes[j-1] == h && t.keys[j-1] == k {
			return int(j - 1), true
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
	i := h & mask
	for ; ; i = (i + 1) & mask {
		j := t.slots[i]
		if j == 0 {
			break
		}
		if t.hashes[j-1] == h && t.keys[j-1] == k {
			return int(j - 1), false
		}
	}
	n := len(t.keys)
	t.keys = append(t.keys, k)
	t.hashes = append(t.hashes, h)
	t.slots[i] = uint32(n + 1)
	return n, true
}

// grow doubles the slots (at least 64) and places the keys again.
func (t *Table[K]) grow() {
	size := max(64, 2*len(t.slots))
	t.slots = make([]uint32, size)
	mask := uint64(size - 1)
	for n, h := range t.hashes {
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = uint32(n + 1)
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
	t.slots = make([]uint32, size)
	t.keys = make([]K, 0, n)
	t.hashes = make([]uint64, 0, n)
}
