package xca

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/require"
)

// Compressed ETL traces of the shared corpus (all XPRESS plain LZ77).
var compressedTraces = []string{
	"microsoft__perfview__smallEtlFile.etl",
	"microsoft__perfview__SelfDescribingSingleEvent.etl",
	"dotnet__performance__DynamicEvents.etl.zip",
	"microsoft__perfview__net.4.5.2.x64.etl.zip",
}

// etlBuffer is one compressed buffer of a real trace.
type etlBuffer struct {
	trace string
	index int
	comp  []byte // the compressed bytes after the 72-byte header
	size  int    // SavedOffset - 72: the decompressed size
}

const (
	wmiBufferHeaderSize  = 72
	bufferFlagCompressed = 0x40
)

// readTrace returns the bytes of a corpus file, or of the first .etl member
// of a zip; ok is false when the file is absent.
func readTrace(tb testing.TB, path string) ([]byte, bool) {
	tb.Helper()
	if !strings.HasSuffix(path, ".zip") {
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return nil, false
		}
		require.NoError(tb, err)
		return b, true
	}
	zr, err := zip.OpenReader(path)
	if os.IsNotExist(err) {
		return nil, false
	}
	require.NoError(tb, err)
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasSuffix(strings.ToLower(f.Name), ".etl") {
			rc, err := f.Open()
			require.NoError(tb, err)
			b, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(tb, err)
			return b, true
		}
	}
	tb.Fatalf("no .etl member in %s", path)
	return nil, false
}

var (
	traceMu    sync.Mutex
	traceCache = map[string][]byte{}
)

// cachedTrace is readTrace of a corpus file, read once per test binary.
func cachedTrace(tb testing.TB, name string) ([]byte, bool) {
	traceMu.Lock()
	defer traceMu.Unlock()
	if b, ok := traceCache[name]; ok {
		return b, b != nil
	}
	b, ok := readTrace(tb, filepath.Join(corpus.Path(), name))
	traceCache[name] = b
	return b, ok
}

// compressedBuffers walks the buffers of the named corpus traces (by
// BufferSize from offset 0) and returns the compressed ones. Absent files
// are left out.
func compressedBuffers(tb testing.TB, names ...string) []etlBuffer {
	tb.Helper()
	var out []etlBuffer
	for _, name := range names {
		data, ok := cachedTrace(tb, name)
		if !ok {
			continue
		}
		for off, i := 0, 0; off+wmiBufferHeaderSize <= len(data); i++ {
			size := int(binary.LittleEndian.Uint32(data[off:]))
			saved := int(binary.LittleEndian.Uint32(data[off+4:]))
			flags := binary.LittleEndian.Uint16(data[off+0x34:])
			if size < wmiBufferHeaderSize || size > len(data)-off {
				break
			}
			if flags&bufferFlagCompressed != 0 {
				require.NotZero(tb, i, "%s: first buffer compressed", name)
				require.Greater(tb, saved, wmiBufferHeaderSize, "%s: buffer %d SavedOffset", name, i)
				out = append(out, etlBuffer{name, i, data[off+wmiBufferHeaderSize : off+size], saved - wmiBufferHeaderSize})
			}
			off += size
		}
	}
	return out
}

// checkRecords walks the 8-byte aligned records of a decompressed buffer
// and requires the walk to end exactly at the buffer's end. Each record
// starts with MarkerFlags 0xC0 in byte 3; its u16 Size is at offset 4 for
// SYSTEM, COMPACT and PERFINFO headers (types 1-4, 16, 17) and at offset 0
// otherwise.
func checkRecords(t *testing.T, b etlBuffer, data []byte) int {
	t.Helper()
	off, n := 0, 0
	for off < len(data) {
		if off+8 > len(data) || data[off+3]&0xC0 != 0xC0 {
			t.Fatalf("%s buffer %d: no record header at %d of %d", b.trace, b.index, off, len(data))
		}
		var sz int
		switch data[off+2] {
		case 1, 2, 3, 4, 16, 17:
			sz = int(binary.LittleEndian.Uint16(data[off+4:]))
		default:
			sz = int(binary.LittleEndian.Uint16(data[off:]))
		}
		if sz < 8 {
			t.Fatalf("%s buffer %d: record size %d at %d", b.trace, b.index, sz, off)
		}
		off += (sz + 7) &^ 7
		n++
	}
	if off != len(data) {
		t.Fatalf("%s buffer %d: records end at %d, past the buffer's %d bytes", b.trace, b.index, off, len(data))
	}
	return n
}

func TestETLBuffersLZ77(t *testing.T) {
	corpus.Dir(t)
	bufs := compressedBuffers(t, compressedTraces...)
	if len(bufs) == 0 {
		t.Skip("no compressed ETL traces in the corpus")
	}
	var origComp, oursComp, total, records int
	var dec, enc time.Duration
	perTrace := map[string][2]int{}
	var c Compressor
	var scratch []byte
	for _, b := range bufs {
		dst := make([]byte, b.size)
		t0 := time.Now()
		n, err := DecompressLZ77(dst, b.comp)
		dec += time.Since(t0)
		require.NoError(t, err, "%s buffer %d", b.trace, b.index)
		require.Equal(t, b.size, n, "%s buffer %d: decompressed size", b.trace, b.index)
		records += checkRecords(t, b, dst)
		// Too small a destination must be reported, not overrun.
		_, err = DecompressLZ77(dst[:b.size-1], b.comp)
		require.ErrorIs(t, err, ErrOutputTooLarge)

		t0 = time.Now()
		scratch = c.AppendLZ77(scratch[:0], dst)
		enc += time.Since(t0)
		again := make([]byte, b.size)
		n, err = DecompressLZ77(again, scratch)
		require.NoError(t, err)
		require.Equal(t, b.size, n)
		if !bytes.Equal(dst, again) {
			t.Fatalf("%s buffer %d: recompressed buffer differs", b.trace, b.index)
		}
		origComp += len(b.comp)
		oursComp += len(scratch)
		total += b.size
		pt := perTrace[b.trace]
		perTrace[b.trace] = [2]int{pt[0] + len(b.comp), pt[1] + len(scratch)}
	}
	t.Logf("%d compressed buffers, %d bytes decompressed into %d records", len(bufs), total, records)
	t.Logf("LZ77 size: Windows %d bytes (%.1f%%), ours %d bytes (%.1f%%), ours/Windows = %.3f",
		origComp, 100*float64(origComp)/float64(total), oursComp, 100*float64(oursComp)/float64(total), float64(oursComp)/float64(origComp))
	for name, v := range perTrace {
		t.Logf("  %s: Windows %d, ours %d (%.3f)", name, v[0], v[1], float64(v[1])/float64(v[0]))
	}
	t.Logf("LZ77 speed on these buffers: decompress %.0f MB/s, compress %.0f MB/s (wall clock, depends on machine load; not asserted)",
		float64(total)/dec.Seconds()/1e6, float64(total)/enc.Seconds()/1e6)
}

// The ETL buffers' contents round-trip through the other two formats too.
func TestETLBuffersOtherFormats(t *testing.T) {
	corpus.Dir(t)
	bufs := compressedBuffers(t, compressedTraces...)
	if len(bufs) == 0 {
		t.Skip("no compressed ETL traces in the corpus")
	}
	var c Compressor
	sizes := map[Format]int{}
	total := 0
	for i, b := range bufs {
		if testing.Short() && i%8 != 0 {
			continue
		}
		data := make([]byte, b.size)
		_, err := DecompressLZ77(data, b.comp)
		require.NoError(t, err)
		total += len(data)
		for _, f := range []struct {
			codec
			m func(dst, src []byte) []byte
		}{{codecs[1], c.AppendLZNT1}, {codecs[2], c.AppendHuffman}} {
			comp := f.m(nil, data)
			sizes[f.f] += len(comp)
			out := make([]byte, len(data))
			n, err := f.decompress(out, comp)
			require.NoError(t, err, "%v: %s buffer %d", f.f, b.trace, b.index)
			require.Equal(t, len(data), n)
			if !bytes.Equal(data, out) {
				t.Fatalf("%v: %s buffer %d differs", f.f, b.trace, b.index)
			}
		}
	}
	for f, n := range sizes {
		t.Logf("%v on ETL buffers: %d -> %d bytes (%.1f%%)", f, total, n, 100*float64(n)/float64(total))
	}
}
