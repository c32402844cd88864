package etw_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type firstEvent struct {
	Timestamp int64   `json:"timestamp"`
	Kind      string  `json:"kind"`
	Opcode    int     `json:"opcode"`
	PID       *uint32 `json:"pid"`
	TID       *uint32 `json:"tid"`
	CPU       int     `json:"cpu"`
	Record    string  `json:"record"`
	EventID   *int    `json:"event_id"`
}

// TestCorpusTimeOrder checks the first 50 events in time order against the
// merge of the independent reader recorded in expected/*.kernel.json, and
// that every trace reads to the end in time order without errors and
// without going backwards, delivering as many events as in file order.
func TestCorpusTimeOrder(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		t.Run(tr.Name, func(t *testing.T) {
			r, err := etw.Open(tr.Path)
			require.NoError(t, err)
			defer r.Close()
			var got []firstEvent
			var n int64
			var last int64
			backwards := 0
			for ev, err := range r.All() {
				require.NoError(t, err)
				if n > 0 && ev.Timestamp < last {
					backwards++
				}
				last = ev.Timestamp
				n++
				if len(got) < 50 {
					fe := firstEvent{Timestamp: ev.Timestamp, Opcode: int(ev.Opcode), CPU: int(ev.Processor), Record: kernelRecordKind(ev.Header)}
					if ev.IsKernel() {
						fe.Kind = ev.Hook.String()
					} else {
						fe.Kind = ev.Provider.String()
					}
					if ev.Header != etw.HeaderPerfInfo32 && ev.Header != etw.HeaderPerfInfo64 {
						pid, tid := uint32(ev.PID), uint32(ev.TID)
						fe.PID, fe.TID = &pid, &tid
					}
					if ev.Header == etw.HeaderEvent32 || ev.Header == etw.HeaderEvent64 {
						id := int(ev.ID)
						fe.EventID = &id
					}
					got = append(got, fe)
				}
			}
			assert.Zero(t, backwards, "events going back in time")
			assert.Equal(t, r.Stats().Events, n)

			fileOrder, err := etw.Open(tr.Path)
			require.NoError(t, err)
			defer fileOrder.Close()
			require.NoError(t, fileOrder.SetOrder(etw.FileOrder))
			var m int64
			for _, err := range fileOrder.All() {
				require.NoError(t, err)
				m++
			}
			assert.Equal(t, m, n, "time order and file order deliver the same number of events")

			data, err := os.ReadFile(tr.Expected + ".kernel.json")
			if errors.Is(err, os.ErrNotExist) {
				return
			}
			require.NoError(t, err)
			var want struct {
				FirstEvents []firstEvent `json:"first_events"`
			}
			require.NoError(t, json.Unmarshal(data, &want))
			if len(want.FirstEvents) == 0 {
				return
			}
			require.GreaterOrEqual(t, len(got), len(want.FirstEvents))
			for i, w := range want.FirstEvents {
				g := got[i]
				if w.Record != "perfinfo" && w.PID == nil {
					g.PID, g.TID = nil, nil
				}
				if w.EventID == nil {
					g.EventID = nil
				}
				assert.Equal(t, w, g, "first_events[%d]", i)
			}
		})
	}
}

// TestCorpusTruncation cuts real traces at every buffer boundary and in the
// middle of buffers: the reader must deliver every event of the intact
// buffers, report the damage as a FormatError naming a buffer, and never
// panic.
func TestCorpusTruncation(t *testing.T) {
	for _, name := range []string{"AMSITrace", "powershell", "lxcore_kernel", "sawbuck__image_data_32_v1", "SelfDescribingSingleEvent"} {
		tr := corpus.Find(t, name)
		data, err := os.ReadFile(tr.Path)
		require.NoError(t, err)
		full, err := etw.NewReader(bytesReaderAt(data), int64(len(data)))
		require.NoError(t, err)
		bufs := full.Buffers()
		for i := 1; i < len(bufs); i++ {
			off := bufs[i].FileOffset
			for _, cut := range []int64{off, off + 40, off + int64(bufs[i].Size)/2} {
				if cut >= int64(len(data)) {
					continue
				}
				r, err := etw.NewReader(bytesReaderAt(data[:cut]), cut)
				require.NoError(t, err)
				require.NoError(t, r.SetOrder(etw.FileOrder))
				events := 0
				var ferrs []*etw.FormatError
				for {
					ev, err := r.ReadEvent()
					if err == io.EOF {
						break
					}
					if err != nil {
						var fe *etw.FormatError
						require.ErrorAs(t, err, &fe)
						ferrs = append(ferrs, fe)
						continue
					}
					require.NotNil(t, ev)
					events++
				}
				want := countEventsBefore(t, data, i)
				assert.GreaterOrEqual(t, events, want, "%s cut at %d: events of intact buffers", tr.Name, cut)
				if cut > off {
					require.NotEmpty(t, ferrs, "%s cut at %d", tr.Name, cut)
					assert.Equal(t, i, ferrs[len(ferrs)-1].Buffer)
					assert.True(t, errors.Is(ferrs[len(ferrs)-1], etw.ErrTruncated), "%v", ferrs[len(ferrs)-1])
				}
			}
		}
	}
}

func countEventsBefore(t *testing.T, data []byte, buffer int) int {
	r, err := etw.NewReader(bytesReaderAt(data), int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(etw.FileOrder))
	n := 0
	for ev, err := range r.All() {
		require.NoError(t, err)
		if ev.Buffer < buffer {
			n++
		}
	}
	return n
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
