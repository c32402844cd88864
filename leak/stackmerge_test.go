package leak

import (
	"math/rand/v2"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mergeFrames returns frames of every form of stacks.Frame.String, with
// modules, symbols and methods that are distinct objects but print the
// same text (the same DLL in two processes).
func mergeFrames() []stacks.Frame {
	var out []stacks.Frame
	for _, pid := range []uint64{4, 700} {
		nt := &stacks.Module{Name: "ntoskrnl.exe", Base: 0xfffff80000000000 + pid<<20}
		dll := &stacks.Module{Name: "x86dll.dll", Base: 0x10000000 + pid<<16}
		sym := &stacks.Symbol{Name: "Accumulate", RVA: 0x1000}
		m := &stacks.Method{Namespace: "System.IO", Name: "Read", Start: 0x7000 + pid}
		for _, off := range []uint64{0x10, 0x4b} {
			out = append(out,
				stacks.Frame{Kind: stacks.Kernel, Addr: nt.Base + off, Module: nt},
				stacks.Frame{Kind: stacks.WOW64, Addr: dll.Base + sym.RVA + off, Module: dll, Symbol: sym},
				stacks.Frame{Kind: stacks.User, Addr: m.Start + off, Method: m},
				stacks.Frame{Kind: stacks.Kernel, Addr: 0x1000 + off, Special: "[hypercall page]+0x3"},
				stacks.Frame{Kind: stacks.User, Addr: 0x5000 + off},
				stacks.Frame{Kind: stacks.Marker, Text: "[wow64 transition]"},
			)
		}
	}
	return out
}

// TestFrameIdent checks that two frames have the same identity exactly
// when they print the same text.
func TestFrameIdent(t *testing.T) {
	fs := mergeFrames()
	for i := range fs {
		for j := range fs {
			assert.Equal(t, fs[i].String() == fs[j].String(), identOf(&fs[i]) == identOf(&fs[j]), "%s / %s", fs[i].String(), fs[j].String())
		}
	}
}

// TestStackMerger checks the merger against a map keyed by the joined
// text of the frames, the way stacks used to be merged: random stacks
// drawn from frames that often print alike must merge into the same
// groups, in the same order.
func TestStackMerger(t *testing.T) {
	fs := mergeFrames()
	rng := rand.New(rand.NewPCG(1, 2))
	m := newStackMerger()
	var out []Stack
	byText := map[string]int{}
	for range 5000 {
		st := Stack{Tag: []string{"Irp ", "Toke"}[rng.IntN(2)], Pool: []string{"paged", "nonpaged"}[rng.IntN(2)]}
		for range rng.IntN(4) {
			st.Resolved = append(st.Resolved, fs[rng.IntN(len(fs))])
		}
		key := st.Tag + "\x00" + st.Pool
		for i := range st.Resolved {
			key += "\x00" + st.Resolved[i].String()
		}
		want, ok := byText[key]
		if !ok {
			want = -1
			byText[key] = len(out)
		}
		got := m.find(out, &st)
		require.Equal(t, want, got, key)
		if got < 0 {
			out = append(out, st)
		}
	}
	assert.Len(t, out, len(byText))
}

// BenchmarkResolveStacks measures the resolution and merging of a result's
// stacks (Pipeline.resolveStacks, run once by Finish), on the scale trace
// of BenchmarkPipeline (300,000 records) in both shapes. One op resolves
// and merges every stack of the report.
func BenchmarkResolveStacks(b *testing.B) {
	for _, shape := range []string{"keys", "full"} {
		b.Run(shape, func(b *testing.B) {
			path, _ := scaleTrace(b, 300_000, shape)
			r, err := etw.Open(path)
			require.NoError(b, err)
			defer r.Close()
			p, err := New(r.Clock(), r.PointerSize(), r.HeaderEvent().Timestamp, Options{})
			require.NoError(b, err)
			defer p.Close()
			for ev, err := range r.All() {
				if err == nil {
					p.Event(ev)
				}
			}
			res := p.Finish()
			b.ReportAllocs()
			for b.Loop() {
				p.resolveStacks(res.Report)
			}
			b.ReportMetric(float64(len(res.Report.Stacks)), "stacks")
		})
	}
}
