package pool

import (
	"errors"
	"fmt"
	"math"
)

// ErrWindow is returned (wrapped) by [Ledger.Window] for a window it cannot
// classify exactly.
var ErrWindow = errors.New("pool: window not classifiable")

// Window returns the classification of w. It is exact in two cases:
//
//   - w is one of [Options.Windows] (declared before the pass): exact at tick
//     granularity, because each free is classified as it is applied;
//   - both ends lie on bin boundaries (Start + k*[Report.BinTicks]); an end
//     before the trace start or after the last op also counts as a boundary.
//     The ledger keeps, per (tag, pool kind), a histogram of block lifetimes
//     over (alloc bin, free bin) plus the open blocks per alloc bin, which is
//     enough to count every class between bin boundaries after the pass.
//
// Any other window fails with an error wrapping [ErrWindow] that names the
// enclosing boundaries; [Ledger.SnapWindow] rounds a window outward to them.
// Trade-off: the histogram costs memory per distinct (tag, kind, alloc bin,
// free bin) rather than per event, bounded by [Options.MaxCells] by
// widening the bins; declared windows are exact at any time but must be known
// up front and cost O(windows) per event.
func (l *Ledger) Window(w Window) (*WindowReport, error) {
	if w.End <= w.Start {
		return nil, fmt.Errorf("%w: empty window [%d, %d)", ErrWindow, w.Start, w.End)
	}
	for i, d := range l.windows {
		if d == w {
			r := l.declaredWindow(i, w)
			return &r, nil
		}
	}
	a, aok := l.boundary(w.Start)
	b, bok := l.boundary(w.End)
	if !aok || !bok {
		s := l.SnapWindow(w)
		return nil, fmt.Errorf("%w: [%d, %d) is not on bin boundaries (bins are %d ticks from %d; nearest enclosing window [%d, %d))",
			ErrWindow, w.Start, w.End, l.width, l.start, s.Start, s.End)
	}
	r := l.binWindow(w, a, b)
	return &r, nil
}

// boundary converts a time to a bin index when it is a bin boundary. Times at
// or before the trace start map to 0; times after the last op map past the
// last bin.
func (l *Ledger) boundary(t int64) (uint64, bool) {
	if !l.started || t <= l.start {
		return 0, true
	}
	if t > l.last {
		return uint64(l.nbins()), true
	}
	d := uint64(t) - uint64(l.start)
	return d / l.width, d%l.width == 0
}

// SnapWindow rounds w outward to bin boundaries, so [Ledger.Window] accepts
// the result.
func (l *Ledger) SnapWindow(w Window) Window {
	if !l.started {
		return w
	}
	snap := func(t int64, up bool) int64 {
		if t <= l.start || t > l.last {
			return t
		}
		d := uint64(t) - uint64(l.start)
		k := d / l.width
		if up && d%l.width != 0 {
			k++
		}
		return int64(uint64(l.start) + k*l.width)
	}
	return Window{Start: snap(w.Start, false), End: snap(w.End, true)}
}

// SecondsWindow converts a window in seconds from the trace start to ticks.
func (l *Ledger) SecondsWindow(a, b float64) Window {
	conv := func(s float64) int64 {
		v := s * float64(l.freq)
		if !(v < math.MaxInt64/2) {
			return math.MaxInt64
		}
		if !(v > math.MinInt64/2) {
			return math.MinInt64
		}
		return l.start + int64(math.Round(v))
	}
	return Window{Start: conv(a), End: conv(b)}
}

func (c *classCounters) add(o *classCounters) {
	c.allocs += o.allocs
	c.frees += o.frees
	c.aifi += o.aifi
	c.aifo += o.aifo
	c.aofi += o.aofi
	c.aofo += o.aofo
	c.bAllocs += o.bAllocs
	c.bFrees += o.bFrees
	c.bAIFI += o.bAIFI
	c.bAIFO += o.bAIFO
	c.bAOFI += o.bAOFI
	c.bAOFO += o.bAOFO
}

func (l *Ledger) declaredWindow(i int, w Window) WindowReport {
	cs := make([]classCounters, len(l.tks))
	for j := range l.tks {
		cs[j] = l.tks[j].win[i]
	}
	return l.windowReport(w, "ticks", cs)
}

// binWindow classifies from the lifetime histogram for bins [a, b).
func (l *Ledger) binWindow(w Window, a, b uint64) WindowReport {
	cs := make([]classCounters, len(l.tks))
	for i, k := range l.cellKeys {
		c := &l.cellVals[i]
		x := &cs[k.tk]
		ka, kf := uint64(k.a), uint64(k.f)
		allocIn := ka >= a && ka < b
		switch k.cls {
		case cOpen:
			if allocIn {
				x.allocs += c.n
				x.bAllocs += c.bytes
				x.aifo += c.n
				x.bAIFO += c.bytes
			} else if ka < a {
				x.aofo += c.n
				x.bAOFO += c.bytes
			}
		case cReplaced:
			if allocIn {
				x.allocs += c.n
				x.bAllocs += c.bytes
			}
		case cUnmatched:
			if kf >= a && kf < b {
				x.frees += c.n
				x.bFrees += c.bytes
				x.aofi += c.n
				x.bAOFI += c.bytes
			}
		case cFreed:
			if allocIn {
				x.allocs += c.n
				x.bAllocs += c.bytes
			}
			if kf >= a && kf < b {
				x.frees += c.n
				x.bFrees += c.bytes
			}
			switch {
			case ka >= b:
			case allocIn && kf < b:
				x.aifi += c.n
				x.bAIFI += c.bytes
			case allocIn:
				x.aifo += c.n
				x.bAIFO += c.bytes
			case kf >= b:
				x.aofo += c.n
				x.bAOFO += c.bytes
			case kf >= a:
				x.aofi += c.n
				x.bAOFI += c.bytes
			}
		}
	}
	return l.windowReport(w, "bins", cs)
}

func (l *Ledger) windowReport(w Window, exact string, cs []classCounters) WindowReport {
	r := WindowReport{Window: w, Exact: exact, Tags: []TagStats{}}
	var tot classCounters
	for j := range cs {
		c := &cs[j]
		if *c == (classCounters{}) {
			continue
		}
		tot.add(c)
		r.Tags = append(r.Tags, TagStats{
			Tag: l.tks[j].tag, Pool: l.tks[j].kind,
			Allocs: c.allocs, Frees: c.frees,
			AIFI: c.aifi, AIFO: c.aifo, AOFI: c.aofi, AOFO: c.aofo,
			OutstandingCount: c.aifo + c.aofo, OutstandingBytes: c.bAIFO + c.bAOFO,
			BytesAllocated: c.bAllocs, BytesFreed: c.bFrees,
		})
	}
	r.Totals = Totals{Allocs: tot.allocs, Frees: tot.frees, AIFI: tot.aifi, AIFO: tot.aifo, AOFI: tot.aofi, AOFO: tot.aofo,
		OutstandingCount: tot.aifo + tot.aofo, OutstandingBytes: tot.bAIFO + tot.bAOFO,
		BytesAllocated: tot.bAllocs, BytesFreed: tot.bFrees}
	r.ClassBytes = ClassBytes{AIFI: tot.bAIFI, AIFO: tot.bAIFO, AOFI: tot.bAOFI, AOFO: tot.bAOFO}
	l.windowGrowth(&r)
	sortTags(r.Tags)
	return r
}

// windowGrowth fills the growth fields, Series and LeakRank of the tags of
// a window report from the bins of the report's outstanding-bytes series
// (the series [Report.Tags] carry, which a chart of the trace draws) that
// overlap the window, ranked among the window's tags.
func (l *Ledger) windowGrowth(r *WindowReport) {
	if len(r.Tags) == 0 {
		return
	}
	full := make([]TagStats, len(l.tks))
	for i := range l.tks {
		full[i].Tag, full[i].Pool = l.tks[i].tag, l.tks[i].kind
	}
	bt := l.series(full)
	if bt == 0 || bt >= 1<<62 {
		return
	}
	lo, hi := l.seriesBins(r.Window, bt)
	idx := make(map[uint64]int, len(full))
	for i := range full {
		idx[uint64(full[i].Tag)<<8|uint64(full[i].Pool)] = i
	}
	for i := range r.Tags {
		t := &r.Tags[i]
		s := full[idx[uint64(t.Tag)<<8|uint64(t.Pool)]].Series
		if h := min(hi, len(s)); lo < h {
			t.Series = s[lo:h]
		}
	}
	rankTags(r.Tags, float64(bt)/float64(l.freq))
}

// seriesBins returns the range [lo, hi) of series bins (bt ticks wide,
// from the trace start) that overlap w.
func (l *Ledger) seriesBins(w Window, bt uint64) (lo, hi int) {
	bin := func(t int64, up bool) int {
		if t <= l.start {
			return 0
		}
		d := uint64(t) - uint64(l.start)
		k := d / bt
		if up && d%bt != 0 {
			k++
		}
		return int(min(k, 1<<40))
	}
	return bin(w.Start, false), bin(w.End, true)
}
