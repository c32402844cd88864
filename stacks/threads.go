package stacks

import "github.com/etwkit/etwkit/etw"

// threadTimes maps thread IDs to a timestamp: an open-addressed table with
// linear probing, kept at most half full. Entries are never deleted one by
// one; the owner clears the whole table to bound it. A thread and its time
// share a slot, so that a lookup reads one cache line, not one in each of
// two arrays.
type threadTimes struct {
	slots []threadTime
	n     int
}

// threadTime is a slot of threadTimes.
type threadTime struct {
	key uint64 // thread ID + 1; 0 marks a free slot
	val int64
}

func threadSlot(tid etw.TID, mask int) int {
	h := uint64(tid) * 0x9E3779B97F4A7C15
	return int(h>>32) & mask
}

// find returns the slot of tid and true, or the free slot where tid would
// go and false. The table must have a free slot.
func (t *threadTimes) find(tid etw.TID) (int, bool) {
	mask := len(t.slots) - 1
	k := uint64(tid) + 1
	for i := threadSlot(tid, mask); ; i = (i + 1) & mask {
		switch t.slots[i].key {
		case k:
			return i, true
		case 0:
			return i, false
		}
	}
}

// get returns the time of tid and whether it has one. (Correlator.userAfter,
// which asks once per event released, does its lookup with find itself.)
func (t *threadTimes) get(tid etw.TID) (int64, bool) {
	if t.n == 0 {
		return 0, false
	}
	if i, ok := t.find(tid); ok {
		return t.slots[i].val, true
	}
	return 0, false
}

// set gives tid the time ts.
func (t *threadTimes) set(tid etw.TID, ts int64) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	i, ok := t.find(tid)
	if !ok {
		t.slots[i].key = uint64(tid) + 1
		t.n++
	}
	t.slots[i].val = ts
}

// raise gives tid the time ts unless it has a later or equal one, and
// reports whether it did. A thread new to a table that already holds limit
// threads empties the table first.
func (t *threadTimes) raise(tid etw.TID, ts int64, limit int) bool {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	i, ok := t.find(tid)
	switch {
	case ok && ts <= t.slots[i].val:
		return false
	case !ok && t.n >= limit:
		t.clear()
		t.set(tid, ts)
		return true
	case !ok:
		t.slots[i].key = uint64(tid) + 1
		t.n++
	}
	t.slots[i].val = ts
	return true
}

func (t *threadTimes) grow() {
	old := t.slots
	t.slots, t.n = make([]threadTime, max(64, 2*len(old))), 0
	for _, s := range old {
		if s.key != 0 {
			t.set(etw.TID(s.key-1), s.val)
		}
	}
}

// len returns the number of threads in the table.
func (t *threadTimes) len() int { return t.n }

// clear empties the table, keeping its memory.
func (t *threadTimes) clear() {
	clear(t.slots)
	t.n = 0
}
