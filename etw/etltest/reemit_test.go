package etltest_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/require"
)

// loadTrace returns the bytes of a corpus trace (zip members included).
func loadTrace(t testing.TB, path string) []byte {
	t.Helper()
	if i := strings.Index(path, "!"); i >= 0 {
		zr, err := zip.OpenReader(path[:i])
		require.NoError(t, err)
		defer zr.Close()
		f, err := zr.Open(path[i+1:])
		require.NoError(t, err)
		defer f.Close()
		b, err := io.ReadAll(f)
		require.NoError(t, err)
		return b
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// rec is what a round trip must preserve of an event.
type rec struct {
	raw  string
	cpu  uint16
	ts   int64
	hook etw.HookID
}

func (r rec) String() string {
	return fmt.Sprintf("cpu %d ts %d hook %v len %d", r.cpu, r.ts, r.hook, len(r.raw))
}

// readEvents reads every event of data in the given order; format errors
// fail the test unless tolerate is set, in which case they are counted.
func readEvents(t testing.TB, data []byte, order etw.Order, tolerate bool) ([]rec, int) {
	t.Helper()
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(order))
	var out []rec
	errs := 0
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *etw.FormatError
			if tolerate && errors.As(err, &fe) {
				errs++
				continue
			}
			require.NoError(t, err)
		}
		out = append(out, rec{raw: string(ev.Raw()), cpu: ev.Processor, ts: ev.Timestamp, hook: ev.Hook})
	}
	return out, errs
}

// maskHeaderEvent clears LogFileMode and BuffersWritten of a logfile
// header event.
func maskHeaderEvent(r rec) rec {
	if r.hook != etw.HookHeader || len(r.raw) < 72 {
		return r
	}
	b := []byte(r.raw)
	clear(b[64:72])
	r.raw = string(b)
	return r
}

// equalRecs reports the first difference between two event lists.
func equalRecs(t testing.TB, want, got []rec) {
	t.Helper()
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			w, g := want[i].raw, got[i].raw
			j := 0
			for j < min(len(w), len(g)) && w[j] == g[j] {
				j++
			}
			t.Fatalf("event %d differs at byte %d:\nwant %v\n got %v", i, j, want[i], got[i])
		}
	}
	require.Equal(t, len(want), len(got), "event count")
}

// Volatile byte ranges of a buffer header: ReferenceCount, the
// ClockType/Frequency union at 0x20 and the ReferenceTime union at 0x38.
var volatile = [][2]int{{0x0C, 0x10}, {0x20, 0x28}, {0x38, 0x48}}

func maskVolatile(h []byte) []byte {
	c := append([]byte(nil), h...)
	for _, r := range volatile {
		clear(c[r[0]:r[1]])
	}
	return c
}

func TestReemitCorpus(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		t.Run(tr.Name, func(t *testing.T) {
			src := loadTrace(t, tr.Path)
			r, err := etw.NewReader(bytes.NewReader(src), int64(len(src)))
			require.NoError(t, err)
			compressed := r.Header().Compressed()
			want, errs := readEvents(t, src, etw.TimeOrder, true)
			if errs > 0 {
				t.Skipf("source has %d format errors with this reader", errs)
			}
			for _, layout := range []bool{true, false} {
				for _, comp := range []bool{false, true} {
					if comp && (layout || !compressionAvailable()) {
						// Compression is checked once per trace, repacked.
						continue
					}
					var out etltest.MemFile
					n, err := etltest.Reemit(&out, bytes.NewReader(src), int64(len(src)), etltest.ReemitOptions{Layout: layout, Compress: comp})
					require.NoError(t, err, "layout %v compress %v", layout, comp)
					require.Equal(t, len(want), n)
					got, _ := readEvents(t, out.Bytes(), etw.TimeOrder, false)
					if !layout || comp != compressed {
						// Repacked or recompressed: BuffersWritten and the
						// COMPRESSED_MODE bit describe the new file.
						got[0] = maskHeaderEvent(got[0])
						want := append([]rec(nil), want...)
						want[0] = maskHeaderEvent(want[0])
						equalRecs(t, want, got)
					} else {
						equalRecs(t, want, got)
					}
					if layout && !comp && !compressed {
						compareBytes(t, src, out.Bytes(), paddingOf(t, src))
					}
				}
			}
		})
	}
}

// compareBytes checks that a layout-preserving re-emission of an
// uncompressed trace matches the source byte for byte, except for the
// volatile header fields, CurrentOffset where documented, and the stale
// bytes between SavedOffset and Offset of relogged header buffers.
func compareBytes(t *testing.T, src, out []byte, pads [][2]int64) {
	t.Helper()
	require.Equal(t, len(src), len(out), "file size")
	src = append([]byte(nil), src...)
	out = append([]byte(nil), out...)
	for _, p := range pads {
		clear(src[p[0]:p[1]])
		clear(out[p[0]:p[1]])
	}
	for off, i := 0, 0; off+etltest.BufferHeaderSize <= len(src); i++ {
		hs, err := etltest.ParseBufferHeader(src[off:])
		require.NoError(t, err)
		ho, _ := etltest.ParseBufferHeader(out[off:])
		ms, mo := maskVolatile(src[off:off+72]), maskVolatile(out[off:off+72])
		if hs.CurrentOffset != ho.CurrentOffset {
			t.Logf("buffer %d: CurrentOffset %#x, writer %#x (volatile)", i, hs.CurrentOffset, ho.CurrentOffset)
			clear(ms[8:12])
			clear(mo[8:12])
		}
		if !bytes.Equal(ms, mo) {
			t.Fatalf("buffer %d at %#x: header differs\nsrc % x\nout % x", i, off, ms, mo)
		}
		end := int(hs.DataEnd())
		size := int(hs.BufferSize)
		if a, b := src[off+72:off+end], out[off+72:off+end]; !bytes.Equal(a, b) {
			j := 0
			for j < len(a) && a[j] == b[j] {
				j++
			}
			lo := max(j-16, 0)
			t.Fatalf("buffer %d: records differ at buffer offset %#x:\nsrc % x\nout % x", i, 72+j, a[lo:min(j+16, len(a))], b[lo:min(j+16, len(b))])
		}
		fill := end
		if i == 0 && hs.Offset > hs.SavedOffset && hs.SavedOffset != 0 {
			fill = int(hs.Offset) // stale duplicates of a relogged header buffer
		}
		if !bytes.Equal(src[off+fill:off+size], out[off+fill:off+size]) {
			t.Errorf("buffer %d: filler differs", i)
		}
		off += size
	}
}

// paddingOf returns the file ranges of the alignment padding after each
// record of an uncompressed trace. Windows leaves stale memory there; the
// writer writes zeros.
func paddingOf(t testing.TB, data []byte) [][2]int64 {
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(etw.FileOrder))
	var out [][2]int64
	for ev, err := range r.All() {
		require.NoError(t, err)
		_, off, comp := ev.Position()
		require.False(t, comp)
		n := int64(len(ev.Raw()))
		if n%8 != 0 {
			out = append(out, [2]int64{off + n, off + (n+7)&^7})
		}
	}
	return out
}

func compressionAvailable() bool {
	var out etltest.MemFile
	w, err := etltest.NewWriter(&out, etltest.Options{Compress: true})
	if err != nil {
		return false
	}
	defer func() { _ = recover() }()
	_ = w.WriteRecord(0, 1, etltest.System(8, etltest.KernelHeader{Version: 2}))
	if w.Close() != nil {
		return false
	}
	_, errs := readEventsQuiet(out.Bytes())
	return errs == 0
}

func readEventsQuiet(data []byte) (int, int) {
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, 1
	}
	n, errs := 0, 0
	for _, err := range r.All() {
		if err != nil {
			errs++
			continue
		}
		n++
	}
	return n, errs
}
