package pool

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeakScoreSeries(t *testing.T) {
	const n = 60
	steady := make([]int64, n)
	jumpFirst := make([]int64, n)
	jumpMid := make([]int64, n)
	churn := make([]int64, n)
	flat := make([]int64, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		steady[i] = int64(i+1) * 16384
		jumpFirst[i] = 10 << 20
		if i >= n/2 {
			jumpMid[i] = 10 << 20
		}
		churn[i] = 5<<20 + rng.Int64N(1<<20)
		flat[i] = 4096
	}
	s, r2, score := LeakScore(steady, 1)
	assert.InDelta(t, 16384, s, 1e-6)
	assert.InDelta(t, 1, r2, 1e-12)
	assert.InDelta(t, 16384*(1-1.0/59), score, 1e-6)

	_, _, jf := LeakScore(jumpFirst, 1)
	assert.Zero(t, jf, "flat after the first second: no growth")
	sm, r2m, jm := LeakScore(jumpMid, 1)
	assert.Greater(t, sm, 0.0)
	assert.Greater(t, r2m, 0.5)
	assert.Zero(t, jm, "one jump is not a leak")
	_, _, sc := LeakScore(churn, 1)
	assert.Less(t, sc, score/10)
	_, r2f, sf := LeakScore(flat, 1)
	assert.Zero(t, r2f)
	assert.Zero(t, sf)

	// Two steps: half the growth is in one step.
	two := make([]int64, n)
	for i := range n {
		two[i] = int64(i/20) * 1 << 20
	}
	_, _, st := LeakScore(two, 1)
	assert.Greater(t, st, 0.0)

	// Bin width scales the slope.
	s2, _, _ := LeakScore(steady, 2)
	assert.InDelta(t, 8192, s2, 1e-6)

	// Degenerate input.
	for _, c := range [][]int64{nil, {5}, {1, 2}} {
		_, r2, sc := LeakScore(c, 1)
		assert.Zero(t, sc)
		assert.Zero(t, r2)
	}
	_, _, sc = LeakScore(steady, 0)
	assert.Zero(t, sc)
	_, _, sc = LeakScore([]int64{math.MinInt64, math.MaxInt64, math.MinInt64}, 1)
	assert.False(t, math.IsNaN(sc))
}

// TestLeakRankThroughLedger feeds four synthetic tags for 60 s and checks
// the ranking: the steady grower first, although others hold more bytes.
func TestLeakRankThroughLedger(t *testing.T) {
	const freq = 1000 // ms ticks
	l := NewLedger(Options{Frequency: freq})
	grow, jump, churn, big := MakeTag("Grow"), MakeTag("Jump"), MakeTag("Chrn"), MakeTag("BigC")
	addr := uint64(0x10000)
	next := func() uint64 { addr += 0x10; return addr }
	rng := rand.New(rand.NewPCG(3, 4))
	var bigLive []uint64
	var churnLive []uint64
	for ms := int64(0); ms < 60_000; ms += 10 {
		// Steady grower: 16 KB/s in 160-byte blocks every 10 ms.
		l.Apply(&Op{Time: ms, Kind: Alloc, Tag: grow, Entry: next(), Size: 160})
		// Jump: 10 MB in the first second, then nothing.
		if ms < 1000 {
			l.Apply(&Op{Time: ms, Kind: Alloc, Tag: jump, Entry: next(), Size: 100 << 10})
		}
		// Churner: random allocs/frees around a level.
		if len(churnLive) < 50 || rng.IntN(2) == 0 {
			a := next()
			churnLive = append(churnLive, a)
			l.Apply(&Op{Time: ms, Kind: Alloc, Tag: churn, Entry: a, Size: 8192})
		} else {
			i := rng.IntN(len(churnLive))
			l.Apply(&Op{Time: ms, Kind: Free, Tag: churn, Entry: churnLive[i]})
			churnLive = append(churnLive[:i], churnLive[i+1:]...)
		}
		// Big churn: 20 blocks of 1 MB reached in the first second, then
		// replaced one at a time (free then alloc).
		if len(bigLive) < 20 {
			a := next()
			bigLive = append(bigLive, a)
			l.Apply(&Op{Time: ms, Kind: Alloc, Tag: big, Entry: a, Size: 1 << 20})
		} else if ms%100 == 0 {
			l.Apply(&Op{Time: ms, Kind: Free, Tag: big, Entry: bigLive[0]})
			a := next()
			bigLive = append(bigLive[1:], a)
			l.Apply(&Op{Time: ms, Kind: Alloc, Tag: big, Entry: a, Size: 1 << 20})
		}
	}
	r := l.Finish()
	checkReport(t, r)
	rank := map[string]TagStats{}
	for _, tg := range r.Tags {
		rank[tg.Tag.String()] = tg
	}
	require.Len(t, rank, 4)
	assert.Equal(t, 1, rank["Grow"].LeakRank)
	assert.InDelta(t, 16000, rank["Grow"].GrowthBytesPerS, 100)
	assert.Greater(t, rank["BigC"].OutstandingBytes, rank["Grow"].OutstandingBytes)
	assert.Greater(t, rank["Jump"].OutstandingBytes, rank["Grow"].OutstandingBytes)
	for _, name := range []string{"Jump", "BigC", "Chrn"} {
		assert.Less(t, rank[name].LeakScore, rank["Grow"].LeakScore/10, name)
	}
	assert.Equal(t, "BigC", r.Tags[0].Tag.String(), "tags are sorted by outstanding bytes")
}

// TestRankIgnoresTagsHoldingNothing: a tag whose series rose and fell back
// to zero holds nothing at the end and ranks below every tag that still
// holds bytes.
func TestRankIgnoresTagsHoldingNothing(t *testing.T) {
	tags := []TagStats{
		{Tag: MakeTag("Gone"), Series: []int64{0, 100, 200, 300, 400, 0}, OutstandingBytes: 0},
		{Tag: MakeTag("Held"), Series: []int64{500, 500, 500, 500, 500, 500}, OutstandingBytes: 500},
	}
	rankTags(tags, 1)
	assert.Equal(t, 1, tags[1].LeakRank)
	assert.Equal(t, 2, tags[0].LeakRank)
}
