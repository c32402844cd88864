package etw_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compressedTrace writes a compressed trace of several processors in
// small buffers and returns it with its compressed buffers.
func compressedTrace(t *testing.T) ([]byte, []etw.BufferInfo) {
	sc := etltest.Scale(3, 20_000)
	o := sc.WriterOptions()
	o.Compress = true
	o.BufferSize = 8 << 10
	whole := scenarioBytes(t, sc, o)

	r, err := etw.NewReader(bytesReaderAt(whole), int64(len(whole)))
	require.NoError(t, err)
	var comp []etw.BufferInfo
	for _, b := range r.Buffers() {
		if b.Compressed() {
			comp = append(comp, b)
		}
	}
	require.Greater(t, len(comp), 40, "compressed buffers")
	procs := map[uint16]bool{}
	for _, b := range comp {
		procs[b.Processor] = true
	}
	require.Greater(t, len(procs), 1, "processors")

	return whole, comp
}

// TestDecompressAheadSameOutcome reads compressed traces, whole and
// damaged in several ways, with decompress-ahead and in step, in both
// orders: the events, the errors (buffer, offset, message), their
// interleaving and the statistics must be the same.
func TestDecompressAheadSameOutcome(t *testing.T) {
	whole, comp := compressedTrace(t)

	damage := map[string]func([]byte) []byte{
		"whole": func(b []byte) []byte { return b },
		"corrupt data": func(b []byte) []byte {
			for _, i := range []int{3, 10, 11, 25} {
				bi := comp[i]
				p := bi.FileOffset + etltest.BufferHeaderSize + int64(bi.Avail-etltest.BufferHeaderSize)/2
				for k := int64(0); k < 16; k++ {
					b[p+k] ^= 0xA5
				}
			}
			return b
		},
		"short data": func(b []byte) []byte {
			// A SavedOffset larger than what decompresses.
			bi := comp[7]
			binary.LittleEndian.PutUint32(b[bi.FileOffset+4:], bi.SavedOffset+64)
			return b
		},
		"implausible SavedOffset": func(b []byte) []byte {
			bi := comp[5]
			binary.LittleEndian.PutUint32(b[bi.FileOffset+4:], 60)
			return b
		},
		"truncated": func(b []byte) []byte {
			bi := comp[len(comp)-3]
			return b[:bi.FileOffset+int64(bi.Avail)/2]
		},
	}
	for name, damage := range damage {
		data := damage(append([]byte(nil), whole...))
		for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
			t.Run(name+"/"+orderName(order), func(t *testing.T) {
				ahead, st := readLog(t, data, order, false)
				inStep, st2 := readLog(t, data, order, true)
				require.Equal(t, len(inStep), len(ahead))
				for i := range inStep {
					if inStep[i] != ahead[i] {
						t.Fatalf("entry %d: in step %q, ahead %q", i, inStep[i], ahead[i])
					}
				}
				assert.Equal(t, st2, st)
				if name != "whole" {
					assert.Positive(t, st.Errors, "damage reported")
				}
			})
		}
	}
}

// readLog reads data and logs every event and error.
func readLog(t *testing.T, data []byte, order etw.Order, inStep bool) ([]string, etw.Stats) {
	return readLogFrom(t, bytesReaderAt(data), int64(len(data)), order, inStep)
}

// readLogFrom is readLog for an input of size bytes read through ra.
func readLogFrom(t *testing.T, ra io.ReaderAt, size int64, order etw.Order, inStep bool) ([]string, etw.Stats) {
	r, err := etw.NewReader(ra, size)
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(order))
	if inStep {
		etw.ReadInStep(r)
	} else {
		require.True(t, etw.DecompressesAhead(r), "decompress-ahead on")
	}
	var log []string
	for ev, err := range r.All() {
		if err != nil {
			log = append(log, "error: "+err.Error())
			continue
		}
		log = append(log, fmt.Sprintf("%d %d %d %x %x", ev.Buffer, ev.Offset, ev.Timestamp, ev.Hook, ev.Raw()))
	}
	require.NoError(t, r.Close())
	return log, r.Stats()
}

// TestDecompressAheadWorkersEnd checks that the goroutines that decompress
// ahead end when the reader reaches the end, when it is closed part way,
// and when it is dropped part way without Close.
func TestDecompressAheadWorkersEnd(t *testing.T) {
	whole, _ := compressedTrace(t)
	path := filepath.Join(t.TempDir(), "c.etl")
	require.NoError(t, os.WriteFile(path, whole, 0o644))
	settled := func(t *testing.T, base int, what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		require.LessOrEqual(t, runtime.NumGoroutine(), base, "goroutines left after %s", what)
	}
	readSome := func(t *testing.T, r *etw.Reader, order etw.Order, n int) {
		require.NoError(t, r.SetOrder(order))
		require.True(t, etw.DecompressesAhead(r), "decompress-ahead on")
		for range n {
			_, err := r.ReadEvent()
			require.NoError(t, err)
		}
	}
	for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
		t.Run(orderName(order), func(t *testing.T) {
			base := runtime.NumGoroutine()
			r, err := etw.Open(path)
			require.NoError(t, err)
			readSome(t, r, order, 3000)
			require.NoError(t, r.Close())
			settled(t, base, "Close")

			r, err = etw.NewReader(bytesReaderAt(whole), int64(len(whole)))
			require.NoError(t, err)
			readSome(t, r, order, 0)
			for _, err := range r.All() {
				require.NoError(t, err)
			}
			settled(t, base, "the end")
			runtime.KeepAlive(r)

			r, err = etw.NewReader(bytesReaderAt(whole), int64(len(whole)))
			require.NoError(t, err)
			readSome(t, r, order, 3000)
			r = nil
			settled(t, base, "dropping the reader")
		})
	}
}

// slowReaderAt is an input whose reads take a while, and which counts the
// reads in progress and those begun after it was marked closed.
type slowReaderAt struct {
	data     []byte
	inFlight atomic.Int32
	closed   atomic.Bool
	late     atomic.Int32
}

func (s *slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if s.closed.Load() {
		s.late.Add(1)
	}
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if len(p) > etltest.BufferHeaderSize {
		time.Sleep(200 * time.Microsecond)
	}
	return bytesReaderAt(s.data).ReadAt(p, off)
}

// TestDecompressAheadCloseWaits checks that the goroutines that decompress
// ahead, which read the input themselves, have stopped reading it when
// Close returns, so that a caller may then release what the input reads.
func TestDecompressAheadCloseWaits(t *testing.T) {
	whole, _ := compressedTrace(t)
	for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
		t.Run(orderName(order), func(t *testing.T) {
			for _, n := range []int{0, 1, 500, 3000} {
				in := &slowReaderAt{data: whole}
				r, err := etw.NewReader(in, int64(len(whole)))
				require.NoError(t, err)
				require.NoError(t, r.SetOrder(order))
				require.True(t, etw.DecompressesAhead(r), "decompress-ahead on")
				for range n {
					_, err := r.ReadEvent()
					require.NoError(t, err)
				}
				require.NoError(t, r.Close())
				assert.Zero(t, in.inFlight.Load(), "reads in progress after Close, %d events read", n)
				in.closed.Store(true)
				time.Sleep(5 * time.Millisecond)
				assert.Zero(t, in.late.Load(), "reads begun after Close, %d events read", n)
			}
		})
	}
}

// failingReaderAt fails the reads of the given buffers' bytes (not those
// of their headers, which the walk reads).
type failingReaderAt struct {
	data []byte
	bad  map[int64]bool
}

var errInjected = errors.New("injected read error")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > etltest.BufferHeaderSize && f.bad[off] {
		return 0, errInjected
	}
	return bytesReaderAt(f.data).ReadAt(p, off)
}

// TestDecompressAheadReadError checks that a buffer whose bytes cannot be
// read gives the same error, after the same events, with decompress-ahead
// (where a job reads them, ahead of need) as in step. An I/O error ends
// the read.
func TestDecompressAheadReadError(t *testing.T) {
	whole, comp := compressedTrace(t)
	bi := comp[len(comp)/2]
	in := failingReaderAt{data: whole, bad: map[int64]bool{bi.FileOffset: true}}
	for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
		t.Run(orderName(order), func(t *testing.T) {
			ahead, st := readLogFrom(t, in, int64(len(whole)), order, false)
			inStep, st2 := readLogFrom(t, in, int64(len(whole)), order, true)
			assert.Equal(t, inStep, ahead)
			assert.Equal(t, st2, st)
			failed := 0
			for _, e := range ahead {
				if strings.HasPrefix(e, "error: ") {
					failed++
				}
			}
			require.Equal(t, 1, failed, "errors reported")
			require.Greater(t, len(ahead), 1000, "events before the error")
			last := ahead[len(ahead)-1]
			assert.Contains(t, last, fmt.Sprintf("reading buffer %d ", bi.Index))
			assert.Contains(t, last, errInjected.Error())
		})
	}
}
