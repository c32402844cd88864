package pool_test

import (
	"bytes"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/pool"
)

var replayRecords = flag.Int("pool.replay-records", 300_000, "records of the generated scale traces replayed by BenchmarkLedgerReplay")

// replayStream is the pool op stream of a generated scale trace, in the
// order and with the options the poolleak pipeline gives the ledger.
type replayStream struct {
	opt     pool.Options
	ops     []pool.Op
	maxOpen int // peak of open blocks over the stream
}

var (
	replayOnce    sync.Once
	replayStreams map[string]*replayStream
	replayErr     error
)

// replayOps decodes the pool events of the scale scenario in both stack
// shapes (full stack walks, stack keys). Each allocation's Key is a dense
// ID of its kernel stack (the frames of the StackWalk Stack record, or the
// StackKeyKernel key, logged by the same thread at the same time), as the
// pipeline's correlator IDs group allocations.
func replayOps(b *testing.B) map[string]*replayStream {
	replayOnce.Do(func() {
		replayStreams = map[string]*replayStream{}
		for _, shape := range []string{"full", "keys"} {
			sc := etltest.ScaleFull(1, *replayRecords)
			if shape == "keys" {
				sc = etltest.Scale(1, *replayRecords)
			}
			data, err := sc.Bytes(sc.WriterOptions())
			if err != nil {
				replayErr = err
				return
			}
			s, err := decodeReplay(data)
			if err != nil {
				replayErr = fmt.Errorf("%s: %w", shape, err)
				return
			}
			replayStreams[shape] = s
		}
	})
	if replayErr != nil {
		b.Fatal(replayErr)
	}
	return replayStreams
}

func decodeReplay(data []byte) (*replayStream, error) {
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &replayStream{opt: pool.Options{
		Frequency: r.Clock().Frequency, Start: r.HeaderEvent().Timestamp, PointerSize: r.PointerSize(),
	}}
	type when struct {
		t   int64
		tid uint32
	}
	pending := map[when]int{} // allocation awaiting its stack → index in ops
	keys := map[string]uint64{}
	keyOf := func(k string) uint64 {
		id, ok := keys[k]
		if !ok {
			id = uint64(len(keys)) + 1
			keys[k] = id
		}
		return id
	}
	open := map[[2]uint64]bool{}
	for ev, err := range r.All() {
		if err != nil {
			return nil, err
		}
		if st, err := etw.DecodeStack(ev); err == nil {
			w := when{st.EventTimeStamp, uint32(st.Thread)}
			if i, ok := pending[w]; ok {
				var buf []byte
				for f := range st.Frames() {
					buf = fmt.Appendf(buf, "%x,", f)
				}
				s.ops[i].Key = keyOf(string(buf))
				delete(pending, w)
			}
			continue
		}
		if sk, err := etw.DecodeStackKey(ev); err == nil {
			w := when{sk.EventTimeStamp, uint32(sk.Thread)}
			if i, ok := pending[w]; ok && sk.Kernel {
				s.ops[i].Key = keyOf(fmt.Sprint(sk.Key))
				delete(pending, w)
			}
			continue
		}
		p, err := etw.DecodePool(ev)
		if err != nil || !(p.IsAlloc() || p.IsFree()) {
			continue
		}
		op := pool.Op{Time: ev.Timestamp, Kind: pool.Free, Session: p.IsSession(), SessionID: p.SessionID,
			Type: uint32(p.Type), Tag: p.Tag, Size: p.NumberOfBytes, Entry: p.Entry,
			PID: uint32(ev.PID), TID: uint32(ev.TID)}
		space := [2]uint64{p.Entry, 0}
		if op.Session {
			space[1] = uint64(p.SessionID) + 1
		}
		if p.IsAlloc() {
			op.Kind = pool.Alloc
			pending[when{ev.Timestamp, op.TID}] = len(s.ops)
			open[space] = true
		} else {
			delete(open, space)
		}
		s.maxOpen = max(s.maxOpen, len(open))
		s.ops = append(s.ops, op)
	}
	return s, nil
}

// BenchmarkLedgerReplay replays the pool op stream of a generated scale
// trace (see replayOps) into a fresh ledger: one op is the whole stream, as
// the poolleak pipeline applies it to one trace. ns/event and cpu-ns/event
// are per pool event; -pool.replay-records sets the trace length.
func BenchmarkLedgerReplay(b *testing.B) {
	streams := replayOps(b)
	for _, shape := range []string{"full", "keys"} {
		s := streams[shape]
		b.Run(shape, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				c0 := pool.CPUTime()
				l := pool.NewLedger(s.opt)
				for i := range s.ops {
					l.Apply(&s.ops[i])
				}
				cpu += pool.CPUTime() - c0
				runtime.KeepAlive(l)
			}
			n := float64(b.N) * float64(len(s.ops))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/event")
			}
			b.ReportMetric(float64(len(s.ops)), "events")
			b.ReportMetric(float64(s.maxOpen), "peak-open")
		})
	}
}
