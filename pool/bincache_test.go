package pool

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBinCache checks the cached bin of the latest op against plain division
// through bin changes, out-of-order times and coarsening.
func TestBinCache(t *testing.T) {
	for _, opt := range []Options{
		{Resolution: 7, MaxBins: 4},
		{Resolution: 10, MaxCells: 8},
		{Resolution: 1, MaxBins: 1},
		{},
	} {
		rng := rand.New(rand.NewPCG(7, uint64(opt.Resolution)))
		l := NewLedger(opt)
		now := int64(1000)
		var times []int64
		for i := range 3000 {
			now += int64(rng.IntN(25)) - 3
			op := Op{Time: now, Kind: Alloc, Entry: uint64(i % 50), Tag: Tag(rng.IntN(3)), Size: 8}
			if i%3 == 0 {
				op.Kind = Free
			}
			l.Apply(&op)
			times = append(times, l.last)
			div := func(x int64) uint32 { return uint32((uint64(x) - uint64(l.start)) / l.width) }
			require.Equal(t, div(l.last), l.binOf(l.last), "op %d", i)
			for range 4 {
				x := times[rng.IntN(len(times))]
				if x >= l.start {
					require.Equal(t, div(x), l.binOf(x), "op %d time %d", i, x)
				}
			}
			for _, back := range []int64{1, int64(l.width) - 1, int64(l.width), int64(l.width) + 1, 2 * int64(l.width)} {
				if x := l.last - back; x >= l.start {
					require.Equal(t, div(x), l.binOf(x), "op %d time %d", i, x)
				}
			}
		}
	}
}
