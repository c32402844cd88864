package leak

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/stretchr/testify/require"
)

// TestStackRecordsAgree feeds random streams of pool events and StackWalk
// Stack records (every kernel header type, random lengths including
// short, empty, odd and very long ones, frames mostly drawn from a few
// lists so that many repeat, threads and timestamps that match and that
// do not) to two
// pipelines: one through Pipeline.Event, one through batches, as
// RunReader does. Both must find the same stacks and statistics.
func TestStackRecordsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	headers := []etw.HeaderType{etw.HeaderSystem32, etw.HeaderSystem64, etw.HeaderCompact32, etw.HeaderCompact64,
		etw.HeaderPerfInfo32, etw.HeaderPerfInfo64}
	var lists [][]uint64
	for range 12 {
		var l []uint64
		for j := range 1 + rng.IntN(12) {
			f := 0xfffff80000000000 + uint64(rng.IntN(1<<20))
			if j > 3 && rng.IntN(2) == 0 {
				f = 0x7ff800000000 + uint64(rng.IntN(1<<20)) // user frames after the kernel ones
			}
			l = append(l, f)
		}
		lists = append(lists, l)
	}
	for round := range 20 {
		ptr := 8
		if round%2 == 1 {
			ptr = 4
		}
		serial, err := New(nil, ptr, 0, Options{})
		require.NoError(t, err)
		batched, err := New(nil, ptr, 0, Options{})
		require.NoError(t, err)
		bt := newBatch()
		var evs []*etw.Event
		ts := int64(1000)
		var last *etw.Event // last pool event
		for range 5000 {
			ts += int64(rng.IntN(3))
			cpu := uint16(rng.IntN(3))
			var ev *etw.Event
			if last == nil || rng.IntN(3) == 0 {
				h := etw.HeaderSystem64
				if ptr == 4 {
					h = etw.HeaderSystem32
				}
				ev = &etw.Event{Header: h, Hook: 0x0E20, Provider: etw.PoolGUID, Opcode: 0x20, Version: 2,
					PID: etw.PID(rng.IntN(3) * 4), TID: etw.TID(rng.IntN(4)), Timestamp: ts, Processor: cpu,
					Payload: make([]byte, 24)}
				binary.LittleEndian.PutUint64(ev.Payload[16:], uint64(rng.IntN(64))*0x40)
				last = ev
			} else {
				h := headers[rng.IntN(len(headers))]
				size := h.PointerSize()
				l := lists[rng.IntN(len(lists))]
				if rng.IntN(40) == 0 {
					// A new list, sometimes longer than a batch takes
					// inline (maxListFrames), filling batch.frames.
					l = make([]uint64, 1+rng.IntN(1500))
					for i := range l {
						l[i] = 0xfffff80000000000 + uint64(rng.IntN(1<<30))
					}
				}
				p := make([]byte, 16+size*len(l)+rng.IntN(2)*rng.IntN(size+1))
				if rng.IntN(20) == 0 {
					p = p[:rng.IntN(20)] // short or empty
				}
				if len(p) >= 16 {
					evTS, tid, pid := last.Timestamp, uint32(last.TID), uint32(last.PID)
					if rng.IntN(5) == 0 {
						evTS -= int64(rng.IntN(3))
						tid = uint32(rng.IntN(4))
					}
					binary.LittleEndian.PutUint64(p, uint64(evTS))
					binary.LittleEndian.PutUint32(p[8:], pid)
					binary.LittleEndian.PutUint32(p[12:], tid)
					for i := range (len(p) - 16) / size {
						if size == 4 {
							binary.LittleEndian.PutUint32(p[16+4*i:], uint32(l[i%len(l)]))
						} else {
							binary.LittleEndian.PutUint64(p[16+8*i:], l[i%len(l)])
						}
					}
				}
				if rng.IntN(2) == 0 {
					cpu = last.Processor
				}
				ev = &etw.Event{Header: h, Hook: etw.HookStackWalk, Provider: etw.StackWalkGUID, Opcode: 32, Version: 2,
					PID: etw.NoPID, TID: etw.NoTID, Timestamp: ts, Processor: cpu, Payload: p}
			}
			evs = append(evs, ev)
		}
		kinds := map[uint8]int{}
		flush := func() {
			bt.seal()
			for _, r := range bt.recs {
				kinds[r.kind]++
			}
			batched.feed(bt)
			bt.reset()
		}
		for _, ev := range evs {
			serial.Event(ev)
			for !bt.add(batched.reading(), ev) {
				flush()
			}
		}
		flush()
		require.Positive(t, kinds[recStack], "round %d", round)
		require.Positive(t, kinds[recStackNew], "round %d", round)
		require.Positive(t, kinds[recPoolStack], "round %d", round)
		want, got := serial.Finish(), batched.Finish()
		require.Equal(t, want.StackStats, got.StackStats, "round %d", round)
		require.Equal(t, want.Report, got.Report, "round %d", round)
		require.Equal(t, want.Samples, got.Samples, "round %d", round)
		require.Positive(t, got.StackStats.Attached)
	}
}
