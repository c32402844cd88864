package pool

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// genParams shape a random op stream.
type genParams struct {
	n        int     // true operations before damage
	addrs    int     // distinct addresses per space (small: forces reuse)
	dropP    float64 // probability of dropping an event
	skew     int64   // max per-processor clock skew in ticks
	maxStep  int64   // max ticks between true operations
	sessions bool    // use session pool too
	unsorted int     // if > 0, leave the merged stream unsorted within this many positions
	huge     bool    // sizes from 2^31-1 to 2^43 (a block table slot holds 32 bits)
}

var genTags = []Tag{MakeTag("Irp "), MakeTag("MmSt"), MakeTag("File"), MakeTag("Ntfx"), MakeTag("Se  ")}

// genStacks are the (pid, frames) stacks of the generator; interned in order
// they get IDs 1..n (kernel-only stacks ignore pid, so two entries share an ID).
var genStacks = []struct {
	pid    uint32
	frames []uint64
}{
	{4, []uint64{0xfffff80012340000, 0xfffff80012350000}},
	{100, []uint64{0xfffff80012340000, 0xfffff80012350000}}, // same kernel stack, other pid
	{100, []uint64{0xfffff80012340000, 0x7ff712340000, 0x77001000}},
	{200, []uint64{0xfffff80012340000, 0x7ff712340000, 0x77001000}}, // same frames, other process
	{200, []uint64{0xfffff80099990000}},
}

func internGenStacks(l *Ledger) []StackID {
	ids := make([]StackID, len(genStacks))
	for i, s := range genStacks {
		ids[i] = l.InternStack(s.pid, s.frames)
	}
	return ids
}

type cpuOp struct {
	op  Op
	cpu int
	seq int
}

// genStream produces a random stream as a trace reader would deliver it:
// true operations on 4 processors with per-processor clock skew, some events
// dropped, merged by timestamp (stable by processor, then sequence).
func genStream(rng *rand.Rand, p genParams, ids []StackID) []Op {
	type live struct {
		tag  Tag
		typ  uint32
		size uint64
	}
	type addrKey struct {
		session bool
		sid     uint32
		entry   uint64
	}
	lives := map[addrKey]live{}
	var liveKeys []addrKey
	skew := [4]int64{}
	for i := range skew {
		if p.skew > 0 {
			skew[i] = rng.Int64N(2*p.skew+1) - p.skew
		}
	}
	var out []cpuOp
	t := int64(1_000_000)
	types := []uint32{0, 1, 0x200, 5, uint32(TypeBigPool), uint32(TypeBigPool) | 1}
	for i := range p.n {
		t += 1 + rng.Int64N(p.maxStep)
		var op Op
		if len(liveKeys) > 0 && rng.IntN(2) == 0 {
			j := rng.IntN(len(liveKeys))
			k := liveKeys[j]
			liveKeys[j] = liveKeys[len(liveKeys)-1]
			liveKeys = liveKeys[:len(liveKeys)-1]
			lv := lives[k]
			delete(lives, k)
			op = Op{Kind: Free, Session: k.session, SessionID: k.sid, Entry: k.entry, Tag: lv.tag, Type: lv.typ}
			if rng.IntN(2) == 0 {
				op.Size = lv.size
			}
		} else {
			k := addrKey{entry: 0xffffa00000001000 + uint64(rng.IntN(p.addrs))*0x40}
			if p.sessions && rng.IntN(3) == 0 {
				k.session = true
				k.sid = uint32(rng.IntN(2))
			}
			if _, busy := lives[k]; busy {
				continue
			}
			lv := live{tag: genTags[rng.IntN(len(genTags))], typ: types[rng.IntN(len(types))], size: uint64(1 + rng.IntN(4096))}
			if p.huge {
				lv.size = lv.size<<31 - 1 // 2 gives 2^32-1, the first size kept out of the slot
			}
			if k.session {
				lv.typ |= uint32(TypeSession)
			}
			lives[k] = lv
			liveKeys = append(liveKeys, k)
			op = Op{Kind: Alloc, Session: k.session, SessionID: k.sid, Entry: k.entry, Tag: lv.tag, Type: lv.typ, Size: lv.size,
				PID: uint32(4 + rng.IntN(3)*96), TID: uint32(rng.IntN(10))}
			if rng.IntN(5) > 0 {
				op.Stack = ids[rng.IntN(len(ids))]
			}
		}
		cpu := rng.IntN(4)
		op.Time = t + skew[cpu]
		if rng.Float64() < p.dropP {
			continue
		}
		out = append(out, cpuOp{op: op, cpu: cpu, seq: i})
	}
	// Each processor's stream is in its own time order; the reader merges
	// by timestamp.
	slices.SortStableFunc(out, func(a, b cpuOp) int {
		if a.op.Time != b.op.Time {
			if a.op.Time < b.op.Time {
				return -1
			}
			return 1
		}
		return a.cpu - b.cpu
	})
	if p.unsorted > 0 {
		for i := range out {
			j := i + rng.IntN(p.unsorted)
			if j < len(out) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	ops := make([]Op, len(out))
	for i := range out {
		ops[i] = out[i].op
	}
	return ops
}

func runProperty(t *testing.T, seed uint64, p genParams, opt Options) {
	rng := rand.New(rand.NewPCG(seed, 0x9e37))
	probe := NewLedger(Options{})
	ids := internGenStacks(probe)
	ops := genStream(rng, p, ids)
	if len(ops) == 0 {
		return
	}
	// Declared windows at arbitrary ticks inside (and around) the trace.
	lo, hi := ops[0].Time, ops[len(ops)-1].Time
	for range 6 {
		a := lo - 5 + rng.Int64N(hi-lo+10)
		b := a + 1 + rng.Int64N(hi-lo+10)
		opt.Windows = append(opt.Windows, Window{a, b})
	}
	opt.Windows = append(opt.Windows, Window{lo, lo + 1}, Window{lo, hi + 1}, Window{hi, hi + 1})
	l := NewLedger(opt)
	require.Equal(t, ids, internGenStacks(l))
	m := newRefModel(opt.Start)
	for i := range ops {
		l.Apply(&ops[i])
		m.apply(ops[i])
	}
	r := l.Finish()
	checkReport(t, r)
	checkAgainstModel(t, r, m)

	for i, w := range opt.Windows {
		require.Equal(t, dump(m.window(w)), dump(classesOf(r.Windows[i].Tags)), "declared window %d %+v", i, w)
	}
	// Every pair of bin boundaries, plus ends outside the trace.
	nb := int64(r.End-r.Start)/r.BinTicks + 1
	t.Logf("seed %d: %d ops, %d bins of %d ticks, %d cells, anomalies %+v, aofo in windows %d", seed, len(ops), nb, r.BinTicks, len(l.cellVals), r.Anomalies, r.Windows[0].Totals.AOFO)
	var bounds []int64
	bounds = append(bounds, r.Start-7)
	for k := int64(0); k <= nb; k++ {
		bounds = append(bounds, r.Start+k*r.BinTicks)
	}
	bounds = append(bounds, r.End+1, r.End+1000)
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	for i, a := range bounds {
		for _, b := range bounds[i+1:] {
			w := Window{a, b}
			wr, err := l.Window(w)
			require.NoError(t, err, "window %+v", w)
			checkWindow(t, wr)
			require.Equal(t, dump(m.window(w)), dump(classesOf(wr.Tags)), "bin window %+v (bins of %d from %d)", w, r.BinTicks, r.Start)
		}
	}
}

func TestPropertyAgainstModel(t *testing.T) {
	cases := []struct {
		name string
		p    genParams
		opt  Options
	}{
		{"clean", genParams{n: 2000, addrs: 200, maxStep: 3}, Options{Resolution: 400}},
		{"drops", genParams{n: 3000, addrs: 40, dropP: 0.05, maxStep: 3}, Options{Resolution: 500}},
		{"skew", genParams{n: 3000, addrs: 40, dropP: 0.02, skew: 4, maxStep: 2, sessions: true}, Options{Resolution: 300}},
		{"reuse", genParams{n: 3000, addrs: 6, dropP: 0.1, skew: 2, maxStep: 2, sessions: true}, Options{Resolution: 250}},
		{"unsorted", genParams{n: 2000, addrs: 30, dropP: 0.05, skew: 3, maxStep: 3, sessions: true, unsorted: 5}, Options{Resolution: 200}},
		{"coarsen-bins", genParams{n: 3000, addrs: 50, dropP: 0.05, skew: 2, maxStep: 3, sessions: true}, Options{Resolution: 10, MaxBins: 8}},
		{"coarsen-cells", genParams{n: 3000, addrs: 50, dropP: 0.05, skew: 2, maxStep: 3, sessions: true}, Options{Resolution: 7, MaxCells: 64}},
		{"start-given", genParams{n: 1000, addrs: 50, dropP: 0.05, skew: 2, maxStep: 3}, Options{Start: 1_000_100, Resolution: 100}},
		{"huge-sizes", genParams{n: 3000, addrs: 20, dropP: 0.05, skew: 2, maxStep: 3, sessions: true, huge: true}, Options{Resolution: 300}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(6) {
				runProperty(t, seed, c.p, c.opt)
			}
		})
	}
}

func TestValidatorCleanStreamHasNoAnomalies(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 1))
		l := NewLedger(Options{})
		ids := internGenStacks(l)
		ops := genStream(rng, genParams{n: 1000, addrs: 30, maxStep: 3, sessions: true}, ids)
		var v validator
		for i := range ops {
			require.NoError(t, v.op(ops[i]))
			l.Apply(&ops[i])
		}
		r := l.Finish()
		require.Equal(t, Anomalies{}, r.Anomalies)

		// Damage: drop frees and skew clocks; the validator objects exactly
		// when the ledger counts an anomaly.
		ops = genStream(rng, genParams{n: 1000, addrs: 10, dropP: 0.1, skew: 3, maxStep: 2, sessions: true}, ids)
		v = validator{}
		var bad bool
		l = NewLedger(Options{})
		internGenStacks(l)
		for i := range ops {
			if v.op(ops[i]) != nil {
				bad = true
				v = validator{live: v.live, last: ops[i].Time, n: v.n}
				// resync the validator's view like the ledger does
				addr := refAddr{ops[i].Session, ops[i].SessionID, ops[i].Entry}
				if !ops[i].Session {
					addr.sid = 0
				}
				if ops[i].Kind == Alloc {
					v.live[addr] = tk{ops[i].Tag, KindOf(ops[i].Type, ops[i].Session)}
				}
			}
			l.Apply(&ops[i])
		}
		a := l.Finish().Anomalies
		require.Equal(t, bad, a.FreeWithoutAlloc+a.AllocOverOpenBlock+a.TagMismatch > 0)
	}
}
