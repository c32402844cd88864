package pool

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// tableEntry is what a blockTable holds for an address.
type tableEntry struct {
	time  int64
	size  uint64
	group uint32
}

// find returns the slot index of addr, or -1: the lookup of remove, for
// the tests to inspect a slot without deleting it.
func (t *blockTable) find(addr uint64) int {
	if t.n == 0 {
		return -1
	}
	mask := len(t.slots) - 1
	for i := t.home(addr); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.ref == 0 {
			return -1
		}
		if s.addr == addr {
			return i
		}
	}
}

// deleteAt empties slot i, which must be occupied (remove does the work:
// addresses are unique in the table).
func (t *blockTable) deleteAt(i int) { t.remove(t.slots[i].addr) }

// checkBlockTable verifies t against a reference map: same count, every
// reference key found with its value, every occupied slot reachable from its
// home without crossing an empty slot, big sizes kept only for open blocks,
// and the capacity bound.
func checkBlockTable(t *testing.T, bt *blockTable, ref map[uint64]tableEntry) {
	t.Helper()
	require.Equal(t, len(ref), bt.n)
	for k, v := range ref {
		i := bt.find(k)
		require.GreaterOrEqual(t, i, 0, "key %#x missing", k)
		s := &bt.slots[i]
		require.Equal(t, v, tableEntry{s.time, bt.sizeOf(s), s.group()}, "key %#x", k)
	}
	used, big := 0, 0
	mask := len(bt.slots) - 1
	for i := range bt.slots {
		s := &bt.slots[i]
		if s.ref == 0 {
			require.Equal(t, blockSlot{}, *s, "empty slot %d not cleared", i)
			continue
		}
		used++
		if s.size == bigSize {
			big++
		}
		for j := bt.home(s.addr); j != i; j = (j + 1) & mask {
			require.NotZero(t, bt.slots[j].ref, "slot %d (key %#x) cut off from its home", i, s.addr)
		}
	}
	require.Equal(t, bt.n, used)
	require.Len(t, bt.big, big, "big sizes of blocks no longer open")
	if len(bt.slots) > 0 {
		require.LessOrEqual(t, len(bt.slots), max(minBlockSlots, 8*bt.n+8), "table too sparse: %d slots for %d keys", len(bt.slots), bt.n)
		require.LessOrEqual(t, bt.n*4, len(bt.slots)*3)
	}
}

func TestBlockTableAgainstMap(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		rng := rand.New(rand.NewPCG(seed, 99))
		var bt blockTable
		ref := map[uint64]tableEntry{}
		// A small key universe forces collisions, long probe runs and
		// wrap-around at the end of the slot array; 0 and MaxUint64 are
		// ordinary keys.
		keys := []uint64{0, math.MaxUint64, 1, math.MaxUint64 - 1, 1 << 63}
		for range 300 {
			keys = append(keys, rng.Uint64()&0xffff_8000_0000_fff0)
		}
		for step := range 20000 {
			k := keys[rng.IntN(len(keys))]
			switch {
			case rng.IntN(100) < 55:
				g := uint32(step)
				s, found := bt.slot(k, g)
				old, inRef := ref[k]
				require.Equal(t, inRef, found, "step %d key %#x", step, k)
				if !found {
					require.Equal(t, blockSlot{addr: k, ref: g + 1}, *s)
				} else {
					require.Equal(t, old.size, bt.sizeOf(s), "step %d key %#x", step, k)
				}
				// Sizes from 32 bits up: some in big, the limit included.
				size := uint64(step) * 3
				switch step % 5 {
				case 1:
					size = uint64(bigSize) - 1 + uint64(step%3)
				case 2:
					size = math.MaxUint64 - uint64(step)
				}
				bt.set(s, int64(step), size, g)
				ref[k] = tableEntry{int64(step), size, g}
			case rng.IntN(2) == 0:
				i := bt.find(k)
				_, inRef := ref[k]
				require.Equal(t, inRef, i >= 0, "step %d key %#x", step, k)
				if i >= 0 {
					bt.deleteAt(i)
					delete(ref, k)
				}
			default:
				tm, size, g, found := bt.remove(k)
				want, inRef := ref[k]
				require.Equal(t, inRef, found, "step %d key %#x", step, k)
				if found {
					require.Equal(t, want, tableEntry{tm, size, g}, "step %d key %#x", step, k)
					delete(ref, k)
				}
			}
			if step%97 == 0 {
				checkBlockTable(t, &bt, ref)
			}
		}
		checkBlockTable(t, &bt, ref)
	}
}

func TestBlockTableCollisions(t *testing.T) {
	// Keys chosen to share one home slot: every insert extends one probe run
	// and every delete must shift the rest of the run back.
	var bt blockTable
	bt.init(64)
	var same []uint64
	want := bt.home(0)
	for k := uint64(0); len(same) < 20; k++ {
		if bt.home(k) == want {
			same = append(same, k)
		}
	}
	ref := map[uint64]tableEntry{}
	for i, k := range same {
		s, found := bt.slot(k, 0)
		require.False(t, found)
		bt.set(s, 0, uint64(i), 0)
		ref[k] = tableEntry{size: uint64(i)}
	}
	checkBlockTable(t, &bt, ref)
	for _, k := range []uint64{same[0], same[10], same[19], same[5]} {
		i := bt.find(k)
		require.GreaterOrEqual(t, i, 0)
		bt.deleteAt(i)
		delete(ref, k)
		checkBlockTable(t, &bt, ref)
	}
	require.Equal(t, -1, bt.find(same[0]))
}

func TestBlockTableGrowAndShrink(t *testing.T) {
	var bt blockTable
	require.Equal(t, -1, bt.find(0), "empty table")
	ref := map[uint64]tableEntry{}
	const n = 100_000
	for k := range uint64(n) {
		s, _ := bt.slot(k*16, 0)
		bt.set(s, 0, k, 0)
		ref[k*16] = tableEntry{size: k}
	}
	checkBlockTable(t, &bt, ref)
	peak := len(bt.slots)
	require.LessOrEqual(t, peak, 4*n/3*2)
	for k := range uint64(n - 10) {
		bt.deleteAt(bt.find(k * 16))
		delete(ref, k*16)
	}
	checkBlockTable(t, &bt, ref)
	require.LessOrEqual(t, len(bt.slots), 128, "table did not shrink after the peak")
	for k := range uint64(n) {
		if i := bt.find(k * 16); i >= 0 {
			bt.deleteAt(i)
			delete(ref, k*16)
		}
	}
	checkBlockTable(t, &bt, ref)
	require.Equal(t, minBlockSlots, len(bt.slots))
}

// TestBlockTableStrides checks that aligned and strided addresses (pool
// blocks, pages, high bits only) spread over the table: no long probe runs.
func TestBlockTableStrides(t *testing.T) {
	for _, stride := range []uint64{1, 16, 4096, 1 << 32, 1 << 48, 1 << 63, 0x10001} {
		var bt blockTable
		for i := range uint64(20000) {
			bt.slot(0xffff800000000000+i*stride, 0)
		}
		mask := len(bt.slots) - 1
		longest := 0
		for i := range bt.slots {
			if s := &bt.slots[i]; s.ref != 0 {
				longest = max(longest, (i-bt.home(s.addr))&mask)
			}
		}
		require.Less(t, longest, 200, "stride %#x", stride)
	}
}
