package pool

import (
	"cmp"
	"math"
	"slices"
)

// MinSeriesBins is the fewest bins a series needs for a non-zero leak score:
// with two points every line fits perfectly.
const MinSeriesBins = 3

// LeakScore computes the growth figures of one tag from its series of
// outstanding bytes (one value per bin, binSeconds wide). The rule:
//
//   - slope is the least-squares slope of outstanding bytes over time, in
//     bytes per second, and r2 the coefficient of determination of that
//     line (0 when the series is constant or shorter than [MinSeriesBins]).
//   - jump is the largest single-bin increase divided by the sum of all
//     increases, both counted from the second bin on (the first bin is the
//     level the tag starts at: caches and big blocks filled at trace start).
//     It is 1 when all growth happened in one step, 1/n when it is spread
//     evenly over n bins, and 0 without growth.
//   - score = max(slope, 0) × r2 × (1 − jump), in bytes per second.
//
// So a tag scores high when it grows (positive slope), grows steadily (the
// line explains the series), and grows in many small steps rather than one
// jump. A tag that reaches its level in the first second and stays flat has
// slope ≈ 0; a tag that jumps once later has jump = 1; a churner has r2 ≈ 0.
// Each scores ≈ 0 however many bytes it holds, while a steady 16 KB/s grower
// scores ≈ 16 K. Ranking (see [Report]) orders by score, descending, then by
// outstanding bytes, descending, then by tag and pool kind, so tags with
// equal scores (typically 0) are ordered by what they hold. A tag that
// holds nothing at the end is not leaking, whatever its series did: the
// ranking counts its score as 0 (TagStats.LeakScore keeps the computed
// value).
func LeakScore(series []int64, binSeconds float64) (slope, r2, score float64) {
	n := len(series)
	if n < 2 || !(binSeconds > 0) {
		return 0, 0, 0
	}
	// x_i = (i+1)*binSeconds; work in bin units and scale at the end.
	var sx, sy float64
	for i, v := range series {
		sx += float64(i)
		sy += float64(v)
	}
	mx, my := sx/float64(n), sy/float64(n)
	var sxx, sxy, syy float64
	for i, v := range series {
		dx, dy := float64(i)-mx, float64(v)-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	b := sxy / sxx
	slope = b / binSeconds
	if syy > 0 && n >= MinSeriesBins {
		r2 = sxy * sxy / (sxx * syy)
		r2 = min(max(r2, 0), 1)
	}
	if !finite(slope) || !finite(r2) {
		return 0, 0, 0
	}
	if n < MinSeriesBins || slope <= 0 {
		return slope, r2, 0
	}
	var total, top float64
	for i := 1; i < n; i++ {
		if d := float64(series[i]) - float64(series[i-1]); d > 0 {
			total += d
			top = max(top, d)
		}
	}
	if total == 0 {
		return slope, r2, 0
	}
	score = slope * r2 * (1 - top/total)
	if !finite(score) {
		score = 0
	}
	return slope, r2, score
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// rankTags fills the growth fields and LeakRank of every tag.
func rankTags(tags []TagStats, binSeconds float64) {
	for i := range tags {
		t := &tags[i]
		t.GrowthBytesPerS, t.GrowthR2, t.LeakScore = LeakScore(t.Series, binSeconds)
	}
	order := make([]int, len(tags))
	for i := range order {
		order[i] = i
	}
	rankScore := func(t *TagStats) float64 {
		if t.OutstandingBytes == 0 {
			return 0
		}
		return t.LeakScore
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &tags[i], &tags[j]
		return cmp.Or(cmp.Compare(rankScore(b), rankScore(a)), cmp.Compare(b.OutstandingBytes, a.OutstandingBytes),
			cmp.Compare(a.Tag.String(), b.Tag.String()), cmp.Compare(a.Pool, b.Pool))
	})
	for rank, i := range order {
		tags[i].LeakRank = rank + 1
	}
}
