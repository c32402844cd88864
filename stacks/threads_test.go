package stacks

import (
	"math/rand/v2"
	"testing"

	"github.com/etwkit/etwkit/etw"
)

// TestThreadTimes checks the thread table against a Go map under random
// sets, lookups and clears, thread IDs 0 and 0xFFFFFFFF included.
func TestThreadTimes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tt threadTimes
	ref := map[etw.TID]int64{}
	for i := range 200_000 {
		tid := etw.TID(rng.IntN(3000))
		switch rng.IntN(8) {
		case 0:
			tid = 0
		case 1:
			tid = 0xFFFFFFFF
		}
		switch rng.IntN(6) {
		case 0:
			tt.set(tid, int64(i))
			ref[tid] = int64(i)
		case 1:
			// raise with a time that may be earlier than the one held.
			ts := int64(i) - int64(rng.IntN(20_000))
			old, had := ref[tid]
			want := !had || ts > old
			if !had && len(ref) >= 2500 {
				clear(ref)
			}
			if want {
				ref[tid] = ts
			}
			if got := tt.raise(tid, ts, 2500); got != want {
				t.Fatalf("op %d: raise(%d, %d) = %v, want %v", i, tid, ts, got, want)
			}
		}
		got, ok := tt.get(tid)
		want, wok := ref[tid]
		if ok != wok || got != want {
			t.Fatalf("op %d: get(%d) = %d, %v; want %d, %v", i, tid, got, ok, want, wok)
		}
		if tt.len() != len(ref) {
			t.Fatalf("op %d: len %d, want %d", i, tt.len(), len(ref))
		}
		if rng.IntN(50_000) == 0 {
			tt.clear()
			clear(ref)
		}
	}
}

// BenchmarkThreadTimes measures the thread table as the correlator uses
// it: for each stack, a lookup and a raise of one of a few hundred
// threads, in random order. One op is one lookup and one raise.
func BenchmarkThreadTimes(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	tids := make([]etw.TID, 4096)
	for i := range tids {
		tids[i] = etw.TID(4 * (1 + rng.IntN(300)))
	}
	var tt threadTimes
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tid := tids[i&4095]
		tt.get(tid)
		tt.raise(tid, int64(i), maxThreadsTracked)
	}
}
