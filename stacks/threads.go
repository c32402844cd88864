package stacks

import "github.com/etwkit/etwkit/etw"

// threadTimes maps thread IDs to a timestamp: an open-addressed table with
// linear probing, kept at most half full. Entries are never deleted one by
// one; the owner clears the whole table to bound it.
type threadTimes struct {
	keys []uint64 // thread ID + 1; 0 marks a free slot
	vals []int64
	n    int
}

func threadSlot(tid etw.TID, mask int) int {
	h := uint64(tid) * 0x9E3779B97F4A7C15
	return int(h>>32) & mask
}

// find returns the slot of tid and true, or the free slot where tid would
// go and false. The table must have a free slot.
func (t *threadTimes) find(tid etw.TID) (int, bool) {
	mask := len(t.keys) - 1
	k := uint64(tid) + 1
	for i := threadSlot(tid, mask); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return i, true
		case 0:
			return i, false
		}
	}
}

// get returns the time of tid and whether it has one.
func (t *threadTimes) get(tid etw.TID) (int64, bool) {
	if t.n == 0 {
		return 0, false
	}
	if i, ok := t.find(tid); ok {
		return t.vals[i], true
	}
	return 0, false
}

// set gives tid the time ts.
func (t *threadTimes) set(tid etw.TID, ts int64) {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	i, ok := t.find(tid)
	if !ok {
		t.keys[i] = uint64(tid) + 1
		t.n++
	}
	t.vals[i] = ts
}

// raise gives tid the time ts unless it has a later or equal one, and
// reports whether it did. A thread new to a table that already holds limit
// threads empties the table first.
func (t *threadTimes) raise(tid etw.TID, ts int64, limit int) bool {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	i, ok := t.find(tid)
	switch {
	case ok && ts <= t.vals[i]:
		return false
	case !ok && t.n >= limit:
		t.clear()
		t.set(tid, ts)
		return true
	case !ok:
		t.keys[i] = uint64(tid) + 1
		t.n++
	}
	t.vals[i] = ts
	return true
}

func (t *threadTimes) grow() {
	keys, vals := t.keys, t.vals
	size := max(64, 2*len(keys))
	t.keys, t.vals, t.n = make([]uint64, size), make([]int64, size), 0
	for i, k := range keys {
		if k != 0 {
			t.set(etw.TID(k-1), vals[i])
		}
	}
}

// len returns the number of threads in the table.
func (t *threadTimes) len() int { return t.n }

// clear empties the table, keeping its memory.
func (t *threadTimes) clear() {
	clear(t.keys)
	t.n = 0
}
