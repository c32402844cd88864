package pool

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// refModel is the reference for property tests: it keeps every block's
// lifetime and classifies by brute force.
type refModel struct {
	start, last int64
	started     bool
	outOfOrder  uint64
	open        map[refAddr]int
	blocks      []refBlock
	unmatched   []refFree
}

type refAddr struct {
	session bool
	sid     uint32
	entry   uint64
}

type tk struct {
	tag  Tag
	kind Kind
}

const (
	stOpen = iota
	stFreed
	stReplaced
)

type refBlock struct {
	tk
	alloc, end int64 // end: free time, or replacement time
	state      int
	size       uint64
	pid        uint32
	stack      StackID
}

type refFree struct {
	tk
	time int64
	size uint64
}

func newRefModel(start int64) *refModel {
	return &refModel{start: start, open: map[refAddr]int{}}
}

func (m *refModel) apply(op Op) {
	if op.Kind != Alloc && op.Kind != Free {
		return
	}
	t := op.Time
	if !m.started {
		m.started = true
		if m.start == 0 {
			m.start = t
		}
		m.last = m.start
	}
	if t < m.last {
		m.outOfOrder++
		t = m.last
	}
	m.last = t
	addr := refAddr{op.Session, op.SessionID, op.Entry}
	if !op.Session {
		addr.sid = 0
	}
	key := tk{op.Tag, KindOf(op.Type, op.Session)}
	if op.Kind == Alloc {
		if i, ok := m.open[addr]; ok {
			m.blocks[i].state = stReplaced
			m.blocks[i].end = t
		}
		m.open[addr] = len(m.blocks)
		m.blocks = append(m.blocks, refBlock{tk: key, alloc: t, size: op.Size, pid: op.PID, stack: op.Stack})
		return
	}
	if i, ok := m.open[addr]; ok {
		delete(m.open, addr)
		m.blocks[i].state = stFreed
		m.blocks[i].end = t
		return
	}
	m.unmatched = append(m.unmatched, refFree{tk: key, time: t, size: op.Size})
}

// refClasses are the expected per-tag figures of one window.
type refClasses struct {
	allocs, frees, aifi, aifo, aofi, aofo, outN, outB, bA, bF uint64
}

// classify computes the classes of [a, b) by brute force. in(t) decides
// whether a time is inside, before(t) whether it is before the window.
func (m *refModel) classify(in, before func(int64) bool) map[tk]*refClasses {
	res := map[tk]*refClasses{}
	get := func(k tk) *refClasses {
		if res[k] == nil {
			res[k] = &refClasses{}
		}
		return res[k]
	}
	for _, b := range m.blocks {
		allocIn := in(b.alloc)
		if allocIn {
			c := get(b.tk)
			c.allocs++
			c.bA += b.size
		}
		if b.state == stReplaced {
			continue
		}
		freed := b.state == stFreed
		freeIn := freed && in(b.end)
		freeBefore := freed && (before(b.end) || in(b.end))
		if freeIn {
			c := get(b.tk)
			c.frees++
			c.bF += b.size
		}
		switch {
		case allocIn && freeIn:
			get(b.tk).aifi++
		case allocIn:
			c := get(b.tk)
			c.aifo++
			c.outN++
			c.outB += b.size
		case before(b.alloc) && freeIn:
			get(b.tk).aofi++
		case before(b.alloc) && !freeBefore:
			c := get(b.tk)
			c.aofo++
			c.outN++
			c.outB += b.size
		}
	}
	for _, f := range m.unmatched {
		if in(f.time) {
			c := get(f.tk)
			c.frees++
			c.bF += f.size
			c.aofi++
		}
	}
	for k, c := range res {
		if *c == (refClasses{}) {
			delete(res, k)
		}
	}
	return res
}

func (m *refModel) window(w Window) map[tk]*refClasses {
	return m.classify(func(t int64) bool { return t >= w.Start && t < w.End }, func(t int64) bool { return t < w.Start })
}

func classesOf(tags []TagStats) map[tk]*refClasses {
	res := map[tk]*refClasses{}
	for _, t := range tags {
		c := &refClasses{allocs: t.Allocs, frees: t.Frees, aifi: t.AIFI, aifo: t.AIFO, aofi: t.AOFI, aofo: t.AOFO,
			outN: t.OutstandingCount, outB: t.OutstandingBytes, bA: t.BytesAllocated, bF: t.BytesFreed}
		if *c != (refClasses{}) {
			res[tk{t.Tag, t.Pool}] = c
		}
	}
	return res
}

func dump(m map[tk]*refClasses) string {
	keys := make([]tk, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b tk) int { return cmp.Or(cmp.Compare(a.tag, b.tag), cmp.Compare(a.kind, b.kind)) })
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf("%q/%v: %+v\n", k.tag.String(), k.kind, *m[k])
	}
	return s
}

// checkAgainstModel compares a whole-trace report with the model.
func checkAgainstModel(t *testing.T, r *Report, m *refModel) {
	t.Helper()
	whole := m.classify(func(int64) bool { return true }, func(int64) bool { return false })
	require.Equal(t, dump(whole), dump(classesOf(r.Tags)), "whole-trace classes")

	// Per-tag anomalies and series.
	replaced := map[tk]uint64{}
	for _, b := range m.blocks {
		if b.state == stReplaced {
			replaced[b.tk]++
		}
	}
	var totalReplaced uint64
	nb := 0
	if m.started {
		nb = int((m.last-m.start)/r.BinTicks) + 1
	}
	for _, tg := range r.Tags {
		k := tk{tg.Tag, tg.Pool}
		require.Equal(t, replaced[k], tg.AllocOverOpenBlock, "replaced %v", k)
		totalReplaced += tg.AllocOverOpenBlock
		want := make([]int64, nb)
		for _, b := range m.blocks {
			if b.tk != k {
				continue
			}
			from := int((b.alloc - m.start) / r.BinTicks)
			to := nb
			if b.state != stOpen {
				to = int((b.end - m.start) / r.BinTicks)
			}
			for i := from; i < to; i++ {
				want[i] += int64(b.size)
			}
		}
		require.Equal(t, want, tg.Series, "series %v", k)
	}
	require.Equal(t, totalReplaced, r.Anomalies.AllocOverOpenBlock)
	require.Equal(t, uint64(len(m.unmatched)), r.Anomalies.FreeWithoutAlloc)
	require.Equal(t, m.outOfOrder, r.Anomalies.OutOfOrder)

	// Stacks and processes.
	type sk struct {
		tk
		stack StackID
	}
	wantStacks := map[sk][2]uint64{}
	type pk struct{ n, b, allocs, frees uint64 }
	wantProcs := map[uint32]pk{}
	for _, b := range m.blocks {
		p := wantProcs[b.pid]
		p.allocs++
		if b.state == stFreed {
			p.frees++
		}
		if b.state == stOpen {
			v := wantStacks[sk{b.tk, b.stack}]
			wantStacks[sk{b.tk, b.stack}] = [2]uint64{v[0] + 1, v[1] + b.size}
			p.n++
			p.b += b.size
		}
		wantProcs[b.pid] = p
	}
	gotStacks := map[sk][2]uint64{}
	for _, s := range r.Stacks {
		gotStacks[sk{tk{s.Tag, s.Pool}, s.Stack}] = [2]uint64{s.OutstandingCount, s.OutstandingBytes}
	}
	require.Equal(t, wantStacks, gotStacks, "stacks")
	gotProcs := map[uint32]pk{}
	for _, p := range r.Processes {
		gotProcs[p.PID] = pk{p.OutstandingCount, p.OutstandingBytes, p.Allocs, p.Frees}
	}
	require.Equal(t, wantProcs, gotProcs, "processes")
}

// checkReport is the test-only validator of report invariants (style lesson
// 9): it needs no model.
func checkReport(t *testing.T, r *Report) {
	t.Helper()
	var tot Totals
	ranks := make([]int, 0, len(r.Tags))
	for i, tg := range r.Tags {
		require.Equal(t, tg.Allocs, tg.AIFI+tg.AIFO+tg.AllocOverOpenBlock, "allocs identity %q", tg.Tag.String())
		require.Equal(t, tg.Frees, tg.AIFI+tg.AOFI, "frees identity")
		require.Equal(t, tg.AOFI, tg.FreeWithoutAlloc)
		require.Zero(t, tg.AOFO)
		require.Equal(t, tg.OutstandingCount, tg.AIFO)
		if len(tg.Series) > 0 {
			require.Equal(t, int64(tg.OutstandingBytes), tg.Series[len(tg.Series)-1], "series ends at outstanding")
		}
		require.GreaterOrEqual(t, tg.GrowthR2, 0.0)
		require.LessOrEqual(t, tg.GrowthR2, 1.0)
		if i > 0 {
			p := r.Tags[i-1]
			require.True(t, p.OutstandingBytes > tg.OutstandingBytes ||
				p.OutstandingBytes == tg.OutstandingBytes && (p.Tag.String() < tg.Tag.String() || p.Tag == tg.Tag && p.Pool < tg.Pool), "tags order")
		}
		ranks = append(ranks, tg.LeakRank)
		tot.Allocs += tg.Allocs
		tot.Frees += tg.Frees
		tot.AIFI += tg.AIFI
		tot.AIFO += tg.AIFO
		tot.AOFI += tg.AOFI
		tot.AOFO += tg.AOFO
		tot.OutstandingCount += tg.OutstandingCount
		tot.OutstandingBytes += tg.OutstandingBytes
		tot.BytesAllocated += tg.BytesAllocated
		tot.BytesFreed += tg.BytesFreed
	}
	require.Equal(t, tot, r.Totals)
	slices.Sort(ranks)
	for i, v := range ranks {
		require.Equal(t, i+1, v, "leak ranks are a permutation")
	}
	var sn, sb uint64
	for i, s := range r.Stacks {
		require.NotZero(t, s.OutstandingCount)
		require.Equal(t, len(s.Frames), s.Segments.Kernel+s.Segments.User+s.Segments.WOW64)
		if i > 0 {
			require.GreaterOrEqual(t, r.Stacks[i-1].OutstandingBytes, s.OutstandingBytes)
		}
		sn += s.OutstandingCount
		sb += s.OutstandingBytes
	}
	require.Equal(t, r.Totals.OutstandingCount, sn)
	require.Equal(t, r.Totals.OutstandingBytes, sb)
	var pn, pb uint64
	for _, p := range r.Processes {
		pn += p.OutstandingCount
		pb += p.OutstandingBytes
	}
	require.Equal(t, r.Totals.OutstandingCount, pn)
	require.Equal(t, r.Totals.OutstandingBytes, pb)
	for _, w := range r.Windows {
		checkWindow(t, &w)
	}
	_, err := json.Marshal(r)
	require.NoError(t, err)
}

// checkWindow checks the invariants of one window report.
func checkWindow(t *testing.T, w *WindowReport) {
	t.Helper()
	var cb ClassBytes
	for _, tg := range w.Tags {
		require.Equal(t, tg.OutstandingCount, tg.AIFO+tg.AOFO)
		require.LessOrEqual(t, tg.AIFI+tg.AIFO, tg.Allocs, "classified allocs <= allocs")
		require.Equal(t, tg.Frees, tg.AIFI+tg.AOFI, "frees in window are AIFI or AOFI")
	}
	_ = cb
}

// validator checks a stream of ops for the invariants of an undamaged
// trace: non-decreasing times, every free matches a live alloc with the same
// tag and pool kind, and no alloc lands on a live block. Tests use it to show
// that the ledger reports no anomaly exactly when the stream is clean.
type validator struct {
	last int64
	live map[refAddr]tk
	n    int
}

func (v *validator) op(op Op) error {
	if v.live == nil {
		v.live = map[refAddr]tk{}
	}
	v.n++
	if v.n > 1 && op.Time < v.last {
		return fmt.Errorf("op %d: time %d before %d", v.n, op.Time, v.last)
	}
	v.last = op.Time
	addr := refAddr{op.Session, op.SessionID, op.Entry}
	if !op.Session {
		addr.sid = 0
	}
	k := tk{op.Tag, KindOf(op.Type, op.Session)}
	switch op.Kind {
	case Alloc:
		if _, ok := v.live[addr]; ok {
			return fmt.Errorf("op %d: alloc over live block at %#x", v.n, op.Entry)
		}
		v.live[addr] = k
	case Free:
		got, ok := v.live[addr]
		if !ok {
			return fmt.Errorf("op %d: free of %#x without live alloc", v.n, op.Entry)
		}
		if got.tag != k.tag {
			return fmt.Errorf("op %d: free of %#x with tag %q, allocated as %q", v.n, op.Entry, k.tag.String(), got.tag.String())
		}
		delete(v.live, addr)
	default:
		return fmt.Errorf("op %d: invalid kind %d", v.n, op.Kind)
	}
	return nil
}
