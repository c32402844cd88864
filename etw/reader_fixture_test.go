package etw_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/xca"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture writes the irp-leak scenario with the given writer options.
func fixture(t testing.TB, ptr int, mutate func(*etltest.Options)) []byte {
	t.Helper()
	sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 5, PointerSize: ptr, Processors: 4, Events: 400, Leak: true, LeakCount: 10, StackKeys: true})
	o := sc.WriterOptions()
	o.BufferSize = 4096
	o.FlushOrder = etltest.Random(11)
	if mutate != nil {
		mutate(&o)
	}
	return scenarioBytes(t, sc, o)
}

// scenarioBytes writes the scenario into memory with the writer options o
// and returns the file's bytes.
func scenarioBytes(t testing.TB, sc *etltest.Scenario, o etltest.Options) []byte {
	t.Helper()
	data, err := sc.Bytes(o)
	require.NoError(t, err)
	return data
}

type evKey struct {
	raw string
	cpu uint16
	ts  int64
}

// dataEvents drops the records of the header buffer, whose logfile header
// differs between plain and compressed files.
func dataEvents(evs []evKey, hdr int) []evKey { return evs[hdr:] }

func readAll(t testing.TB, data []byte, order etw.Order) ([]evKey, []error) {
	t.Helper()
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(order))
	var evs []evKey
	var errs []error
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return evs, errs
		}
		if err != nil {
			var fe *etw.FormatError
			require.ErrorAs(t, err, &fe, "only format errors are recoverable")
			errs = append(errs, err)
			continue
		}
		evs = append(evs, evKey{string(ev.Raw()), ev.Processor, ev.Timestamp})
	}
}

// recompress rewrites every compressed buffer of an XPRESS trace in
// another MS-XCA format and records that format in the first buffer's
// State, as a compressed trace of that format would have it.
func recompress(t testing.TB, data []byte, format xca.Format) []byte {
	t.Helper()
	var out []byte
	for off := 0; off < len(data); {
		size := int(binary.LittleEndian.Uint32(data[off:]))
		buf := data[off : off+size]
		hdr := append([]byte(nil), buf[:72]...)
		if off == 0 {
			binary.LittleEndian.PutUint16(hdr[0x2C:], uint16(format))
			out = append(out, hdr...)
			out = append(out, buf[72:]...)
			off += size
			continue
		}
		flags := binary.LittleEndian.Uint16(buf[0x34:])
		if flags&0x40 == 0 {
			out = append(out, buf...)
			off += size
			continue
		}
		saved := int(binary.LittleEndian.Uint32(buf[4:]))
		plain := make([]byte, saved-72)
		n, err := xca.DecompressLZ77(plain, buf[72:])
		require.NoError(t, err)
		require.Equal(t, len(plain), n)
		comp, err := xca.AppendCompress(format, nil, plain)
		require.NoError(t, err)
		binary.LittleEndian.PutUint32(hdr[0:], uint32(72+len(comp)))
		out = append(out, hdr...)
		out = append(out, comp...)
		off += size
	}
	return out
}

// TestCompressionFormats reads the same trace stored plain, XPRESS (plain
// LZ77), LZNT1 and XPRESS Huffman compressed: every form gives the same
// events in the same time order.
func TestCompressionFormats(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		plain := fixture(t, ptr, nil)
		want, errs := readAll(t, plain, etw.TimeOrder)
		require.Empty(t, errs)
		const headerRecords = 2 // logfile header and PartitionInfoExtension
		want = dataEvents(want, headerRecords)
		lz := fixture(t, ptr, func(o *etltest.Options) { o.Compress = true })
		for _, c := range []struct {
			name string
			data []byte
			want etw.Compression
		}{
			{"XPRESS", lz, etw.CompressionXpress},
			{"LZNT1", recompress(t, lz, xca.FormatLZNT1), etw.CompressionLZNT1},
			{"XPRESS_HUFF", recompress(t, lz, xca.FormatXpressHuffman), etw.CompressionXpressHuf},
		} {
			r, err := etw.NewReader(bytes.NewReader(c.data), int64(len(c.data)))
			require.NoError(t, err)
			assert.Equal(t, c.want, r.Compression(), c.name)
			got, errs := readAll(t, c.data, etw.TimeOrder)
			assert.Empty(t, errs, c.name)
			got = dataEvents(got, headerRecords)
			// Compressed buffers carry no filler, so buffer boundaries
			// differ; the events and their order must not.
			assert.Equal(t, len(want), len(got), "%s ptr %d", c.name, ptr)
			assert.Equal(t, want, got, "%s ptr %d", c.name, ptr)
		}
	}
}

// TestUnsupportedCompressionFormat reports a clear error per buffer and no
// garbage.
func TestUnsupportedCompressionFormat(t *testing.T) {
	lz := fixture(t, 8, func(o *etltest.Options) { o.Compress = true })
	binary.LittleEndian.PutUint16(lz[0x2C:], 7)
	_, errs := readAll(t, lz, etw.FileOrder)
	require.NotEmpty(t, errs)
	for _, err := range errs {
		assert.ErrorIs(t, err, etw.ErrUnsupportedCompression)
		assert.Contains(t, err.Error(), "compression format 7")
	}
}

// TestTruncationEverywhere cuts a generated 4-processor trace at every
// buffer boundary and at offsets inside records: every event of the intact
// buffers comes out, and the damage is an ErrTruncated FormatError naming
// the cut buffer.
func TestTruncationEverywhere(t *testing.T) {
	for _, compress := range []bool{false, true} {
		data := fixture(t, 8, func(o *etltest.Options) { o.Compress = compress })
		full, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
		require.NoError(t, err)
		bufs := full.Buffers()
		all, errs := readAll(t, data, etw.FileOrder)
		require.Empty(t, errs)
		byBuffer := map[int]int{}
		{
			r, _ := etw.NewReader(bytes.NewReader(data), int64(len(data)))
			r.SetOrder(etw.FileOrder)
			for ev, err := range r.All() {
				require.NoError(t, err)
				byBuffer[ev.Buffer]++
			}
		}
		for i := 1; i < len(bufs); i++ {
			before := 0
			for j := 0; j < i; j++ {
				before += byBuffer[j]
			}
			start := bufs[i].FileOffset
			for _, cut := range []int64{start, start + 1, start + 71, start + 72, start + 80, start + int64(bufs[i].Size)/3, start + int64(bufs[i].Size) - 1} {
				if cut > int64(len(data)) {
					continue
				}
				got, errs := readAll(t, data[:cut], etw.FileOrder)
				require.GreaterOrEqual(t, len(got), before, "cut at %d", cut)
				assert.Equal(t, all[:before], got[:before], "cut at %d", cut)
				if cut > start {
					require.NotEmpty(t, errs, "cut at %d inside buffer %d", cut, i)
					last := errs[len(errs)-1]
					assert.ErrorIs(t, last, etw.ErrTruncated, "cut at %d", cut)
					var fe *etw.FormatError
					require.ErrorAs(t, last, &fe)
					assert.Equal(t, i, fe.Buffer, "cut at %d", cut)
				}
				// Time order delivers the same events.
				tgot, terrs := readAll(t, data[:cut], etw.TimeOrder)
				assert.Equal(t, len(got), len(tgot))
				assert.Equal(t, len(errs), len(terrs))
			}
		}
	}
}

// TestHostileLengthFields corrupts length fields of a generated trace. The
// reader reports each as a FormatError naming the buffer and offset, keeps
// every good event before it, and reads the next buffers.
func TestHostileLengthFields(t *testing.T) {
	data := fixture(t, 8, nil)
	clean, errs := readAll(t, data, etw.FileOrder)
	require.Empty(t, errs)
	r, err := etw.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	bufs := r.Buffers()
	require.Greater(t, len(bufs), 4)
	victim := bufs[2]
	rec := int(victim.FileOffset) + 72 // first record of buffer 2

	cases := []struct {
		name   string
		mutate func(b []byte)
		want   error
	}{
		{"record size past the buffer", func(b []byte) { putRecordSize(b, rec, 0xFFF8) }, etw.ErrCorrupt},
		{"record size below its header", func(b []byte) { putRecordSize(b, rec, 8) }, etw.ErrCorrupt},
		{"marker byte cleared", func(b []byte) { b[rec+3] = 0 }, etw.ErrCorrupt},
		{"SavedOffset past BufferSize", func(b []byte) {
			binary.LittleEndian.PutUint32(b[victim.FileOffset+4:], victim.Size+8)
		}, etw.ErrCorrupt},
		{"BufferSize of 16 GiB", func(b []byte) {
			binary.LittleEndian.PutUint32(b[victim.FileOffset:], 0xFFFFFFF0)
		}, etw.ErrCorrupt},
		{"BufferSize zero", func(b []byte) {
			binary.LittleEndian.PutUint32(b[victim.FileOffset:], 0)
		}, etw.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), data...)
			c.mutate(b)
			got, errs := readAll(t, b, etw.FileOrder)
			require.NotEmpty(t, errs)
			assert.ErrorIs(t, errs[0], c.want)
			var fe *etw.FormatError
			require.ErrorAs(t, errs[0], &fe)
			assert.Equal(t, 2, fe.Buffer, "%v", errs[0])
			assert.Contains(t, errs[0].Error(), "buffer 2 at offset 0x")
			// Events of the buffers before the damage all come out first.
			before := 0
			rr, _ := etw.NewReader(bytes.NewReader(data), int64(len(data)))
			rr.SetOrder(etw.FileOrder)
			for ev, err := range rr.All() {
				require.NoError(t, err)
				if ev.Buffer < 2 {
					before++
				}
			}
			assert.Equal(t, clean[:before], got[:before])
			// The reader resynchronises: later buffers are read too
			// (except when the walk cannot continue at all).
			assert.Greater(t, len(got), before)
			tgot, terrs := readAll(t, b, etw.TimeOrder)
			assert.Equal(t, len(got), len(tgot))
			assert.NotEmpty(t, terrs)
		})
	}
}

// putRecordSize sets the Size field of the record at off, wherever its
// header type keeps it.
func putRecordSize(b []byte, off int, size uint16) {
	switch etw.HeaderType(b[off+2]) {
	case etw.HeaderSystem32, etw.HeaderSystem64, etw.HeaderCompact32, etw.HeaderCompact64, etw.HeaderPerfInfo32, etw.HeaderPerfInfo64:
		binary.LittleEndian.PutUint16(b[off+4:], size)
	default:
		binary.LittleEndian.PutUint16(b[off:], size)
	}
}

func TestNotETL(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte("text file "), 100), make([]byte, 4096)} {
		_, err := etw.NewReader(bytes.NewReader(in), int64(len(in)))
		assert.ErrorIs(t, err, etw.ErrNotETL, "%q", in[:min(len(in), 10)])
		assert.True(t, errors.Is(err, etw.ErrNotETL))
	}
}
