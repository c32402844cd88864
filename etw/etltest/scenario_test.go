package etltest_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledger replays pool events read back from a trace.
type ledger struct {
	live        map[uint64]poolBlock
	outstanding map[uint32]etltest.TagTotal
	unmatched   int
	allocs      int
	frees       int
	stacks      int
	keyRefs     int
	keyDefs     int
	reused      int // allocations at an address freed earlier in the trace
	freed       map[uint64]bool
}

type poolBlock struct {
	tag  uint32
	size uint64
}

func newLedger() *ledger {
	return &ledger{live: map[uint64]poolBlock{}, outstanding: map[uint32]etltest.TagTotal{}, freed: map[uint64]bool{}}
}

func (l *ledger) event(t testing.TB, ev *etw.Event) {
	switch ev.Group() {
	case etw.GroupPool:
		p := ev.Payload
		ptr := ev.PointerSize()
		require.GreaterOrEqual(t, len(p), 8+2*ptr)
		rd := func(off int) uint64 {
			if ptr == 4 {
				return uint64(binary.LittleEndian.Uint32(p[off:]))
			}
			return binary.LittleEndian.Uint64(p[off:])
		}
		tag := binary.LittleEndian.Uint32(p[4:])
		size, addr := rd(8), rd(8+ptr)
		switch ev.Opcode {
		case etltest.PoolAlloc, etltest.PoolAllocSession:
			l.allocs++
			_, dup := l.live[addr]
			require.False(t, dup, "double allocation at %#x", addr)
			l.live[addr] = poolBlock{tag, size}
			if l.freed[addr] {
				l.reused++
			}
			tt := l.outstanding[tag]
			tt.Blocks++
			tt.Bytes += size
			l.outstanding[tag] = tt
		case etltest.PoolFree, etltest.PoolFreeSession:
			l.frees++
			b, ok := l.live[addr]
			if !ok {
				l.unmatched++
				return
			}
			delete(l.live, addr)
			l.freed[addr] = true
			tt := l.outstanding[b.tag]
			tt.Blocks--
			tt.Bytes -= b.size
			if tt.Blocks == 0 {
				delete(l.outstanding, b.tag)
			} else {
				l.outstanding[b.tag] = tt
			}
		}
	case etw.GroupStackWalk:
		switch ev.Opcode {
		case etltest.StackWalkStack:
			l.stacks++
		case etltest.StackKeyKernelRef, etltest.StackKeyUserRef:
			l.keyRefs++
		case etltest.StackKeyDelete, etltest.StackKeyRundown:
			l.keyDefs++
		}
	}
}

type scenarioCase struct {
	ptr, cpus, bufSize int
	order              etltest.FlushOrder
	orderName          string
	compress           bool
	keys, damage       bool
	seed               uint64
}

func (c scenarioCase) String() string {
	return fmt.Sprintf("ptr%d-cpu%d-buf%d-%s-comp%v-seed%d", c.ptr, c.cpus, c.bufSize, c.orderName, c.compress, c.seed)
}

// TestScenarioRoundTrip writes random scenarios and checks that the reader
// delivers exactly the generated records, in the generated time order,
// and that a ledger over them agrees with the scenario's ground truth.
func TestScenarioRoundTrip(t *testing.T) {
	orders := []struct {
		name string
		o    etltest.FlushOrder
	}{{"completion", etltest.Completion}, {"inorder", etltest.InOrder}, {"interleaved", etltest.Interleaved},
		{"reversed", etltest.Reversed}, {"random", etltest.Random(7)}}
	rng := rand.New(rand.NewPCG(1, 2))
	comp := compressionAvailable()
	var cases []scenarioCase
	for i := 0; i < 24; i++ {
		o := orders[i%len(orders)]
		c := scenarioCase{
			ptr:       []int{4, 8}[i%2],
			cpus:      []int{1, 2, 3, 4, 8, 13, 32, 64}[i%8],
			bufSize:   []int{1024, 4096, 8192, 65536}[rng.IntN(4)],
			order:     o.o,
			orderName: o.name,
			compress:  comp && i%3 == 0,
			keys:      rng.IntN(2) == 0,
			damage:    rng.IntN(2) == 0,
			seed:      rng.Uint64(),
		}
		cases = append(cases, c)
	}
	cases = append(cases, scenarioCase{ptr: 8, cpus: 64, bufSize: 1024, order: etltest.Random(3), orderName: "random", compress: comp, keys: true, damage: true, seed: 99})
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: c.seed, PointerSize: c.ptr, Processors: c.cpus,
				Events: 600, Leak: true, LeakCount: 20, StackKeys: c.keys, Damage: c.damage})
			var want []rec
			var recs []etltest.Record
			for r := range sc.All() {
				recs = append(recs, r)
				if r.Lost == 0 {
					want = append(want, rec{raw: string(r.Data), cpu: uint16(r.CPU), ts: r.Timestamp, hook: hookOf(r.Data)})
				}
			}
			sum := sc.Summary()
			wo := sc.WriterOptions()
			wo.BufferSize = c.bufSize
			wo.FlushOrder = c.order
			wo.FlushWindow = 3
			wo.Compress = c.compress
			var out etltest.MemFile
			w, err := etltest.NewWriter(&out, wo)
			require.NoError(t, err)
			require.NoError(t, w.WriteRecords(recs))
			require.NoError(t, w.Close())

			r, err := etw.NewReader(bytes.NewReader(out.Bytes()), out.Size())
			require.NoError(t, err)
			require.Equal(t, uint32(c.ptr), r.Header().PointerSize)
			require.Equal(t, uint32(w.BuffersWritten()), r.Header().BuffersWritten)
			require.Equal(t, len(r.Buffers()), w.BuffersWritten())
			require.Equal(t, sum.LostEvents, r.Header().EventsLost)
			require.Equal(t, c.compress, r.Header().Compressed())
			checkBuffers(t, r, c)
			l := newLedger()
			var got []rec
			first := true
			for ev, err := range r.All() {
				require.NoError(t, err)
				if first {
					require.Equal(t, etw.HookHeader, ev.Hook)
					first = false
				}
				if ev.Buffer == 0 {
					continue
				}
				got = append(got, rec{raw: string(ev.Raw()), cpu: ev.Processor, ts: ev.Timestamp, hook: ev.Hook})
				l.event(t, ev)
			}
			equalRecs(t, want, got)
			require.Equal(t, sum.PoolAllocs, l.allocs)
			require.Equal(t, sum.PoolFrees, l.frees)
			require.Equal(t, sum.UnmatchedFrees, l.unmatched)
			require.Equal(t, sum.Stacks, l.stacks)
			require.Equal(t, sum.StackKeyRefs, l.keyRefs)
			require.Equal(t, sum.KeyDefinitions, l.keyDefs)
			require.Equal(t, sum.Outstanding, l.outstanding)
			require.Equal(t, etltest.TagTotal{Blocks: 20, Bytes: 20 * 1024}, sum.Outstanding[etltest.Tag("Irp ")])
		})
	}
}

func hookOf(rec []byte) etw.HookID {
	if etw.HeaderType(rec[2]).IsKernel() {
		return etw.HookID(binary.LittleEndian.Uint16(rec[6:]))
	}
	return 0
}

// checkBuffers verifies the buffer-level invariants of a written file.
func checkBuffers(t *testing.T, r *etw.Reader, c scenarioCase) {
	t.Helper()
	bufs := r.Buffers()
	seen := map[int64]bool{}
	lastSeq := map[uint16]int64{}
	for i, b := range bufs {
		require.False(t, seen[b.Sequence], "sequence %d repeated", b.Sequence)
		seen[b.Sequence] = true
		if i == 0 {
			require.Equal(t, etw.BufferHeader, b.Type)
			require.Zero(t, b.Sequence)
			continue
		}
		require.Equal(t, etw.BufferGeneric, b.Type)
		require.Less(t, int(b.Processor), c.cpus)
		require.Equal(t, c.compress, b.Compressed())
		require.Zero(t, b.SavedOffset%8, "records are 8-byte aligned")
		if !c.compress {
			require.Equal(t, uint32(c.bufSize), b.Size)
		}
		require.Equal(t, i == len(bufs)-1, b.Flags&etw.BufferFlushMarker != 0, "flush marker on buffer %d", i)
		if c.orderName == "inorder" {
			require.Equal(t, int64(i), b.Sequence)
		}
		if c.orderName == "completion" {
			// A processor's buffers reach the file in sequence order.
			require.Greater(t, b.Sequence, lastSeq[b.Processor])
		}
		lastSeq[b.Processor] = b.Sequence
	}
	for i := range int64(len(bufs)) {
		require.True(t, seen[i], "sequence numbers are 0..N-1")
	}
}

// TestScenarioBytesWriteFile checks that Bytes and WriteFile give the file
// a Writer gives, and report bad options and a file that cannot be made.
func TestScenarioBytesWriteFile(t *testing.T) {
	o := etltest.ScenarioOptions{Seed: 4, Events: 500, Leak: true, StackKeys: true}
	sc := etltest.NewScenario(o)
	var f etltest.MemFile
	w, err := etltest.NewWriter(&f, sc.WriterOptions())
	require.NoError(t, err)
	require.NoError(t, etltest.NewScenario(o).WriteTo(w))

	got, err := etltest.NewScenario(o).Bytes(sc.WriterOptions())
	require.NoError(t, err)
	require.Equal(t, f.Bytes(), got)

	path := filepath.Join(t.TempDir(), "s.etl")
	require.NoError(t, etltest.NewScenario(o).WriteFile(path, sc.WriterOptions()))
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, f.Bytes(), onDisk)

	_, err = etltest.NewScenario(o).Bytes(etltest.Options{BufferSize: 1000})
	assert.Error(t, err, "a buffer size that is not a multiple of 1024")
	assert.Error(t, etltest.NewScenario(o).WriteFile(filepath.Join(t.TempDir(), "no", "s.etl"), sc.WriterOptions()))
}
