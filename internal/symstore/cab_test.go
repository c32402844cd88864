package symstore

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/internal/alloclimit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleContent regenerates the file inside testdata/sample.pd_ (see
// testdata/README.md).
func sampleContent() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 100000; i++ {
		fmt.Fprintf(&b, "%06d etwkit symstore test line %d\n", i, i*7919%1000003)
	}
	return b.Bytes()
}

func TestSampleContent(t *testing.T) {
	sum := sha256.Sum256(sampleContent())
	assert.Equal(t, "8214ec777a36c597ee95eb9a178077eb0d5af2b03cd24507098c5fe1fac52884", hex.EncodeToString(sum[:]))
}

// TestExtractCABGcab unpacks a cabinet written by an independent
// implementation (gcab), spanning several MSZIP blocks.
func TestExtractCABGcab(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sample.pd_"))
	require.NoError(t, err)
	for _, want := range []string{"sample.pdb", "SAMPLE.PDB", "other.pdb"} { // one file: taken whatever its name
		var out bytes.Buffer
		n, err := extractCAB(bytes.NewReader(b), int64(len(b)), want, &out, 1<<20)
		require.NoError(t, err, want)
		assert.Equal(t, int64(len(sampleContent())), n)
		assert.True(t, bytes.Equal(sampleContent(), out.Bytes()), "content differs")
	}
	_, err = extractCAB(bytes.NewReader(b), int64(len(b)), "sample.pdb", io.Discard, 1000)
	assert.ErrorIs(t, err, ErrTooLarge)
}

type testCABFile struct {
	name string
	data []byte
}

// buildCAB writes a one-folder cabinet holding files with the given
// compression type (0 stored, 1 MSZIP, others: the header only claims it,
// blocks are stored). reserve adds a reserve area of that many bytes to
// the header, every folder and every data block.
func buildCAB(t testing.TB, comp uint16, reserve int, files ...testCABFile) []byte {
	var all []byte
	for _, f := range files {
		all = append(all, f.data...)
	}
	// Data blocks.
	var blocks bytes.Buffer
	var hist []byte
	nBlocks := 0
	for off := 0; off < len(all); off += cabBlockMax {
		blk := all[off:min(off+cabBlockMax, len(all))]
		var payload []byte
		if comp == cabCompMSZIP {
			var z bytes.Buffer
			z.WriteString("CK")
			fw, err := flate.NewWriterDict(&z, flate.BestCompression, hist)
			require.NoError(t, err)
			_, err = fw.Write(blk)
			require.NoError(t, err)
			require.NoError(t, fw.Close())
			payload = z.Bytes()
			hist = appendWindow(hist, blk)
		} else {
			payload = blk
		}
		var h [8]byte
		binary.LittleEndian.PutUint16(h[4:], uint16(len(payload)))
		binary.LittleEndian.PutUint16(h[6:], uint16(len(blk)))
		blocks.Write(h[:])
		blocks.Write(make([]byte, reserve))
		blocks.Write(payload)
		nBlocks++
	}
	// File table.
	var ftab bytes.Buffer
	var uoff uint32
	for _, f := range files {
		var h [16]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(len(f.data)))
		binary.LittleEndian.PutUint32(h[4:], uoff)
		ftab.Write(h[:])
		ftab.WriteString(f.name)
		ftab.WriteByte(0)
		uoff += uint32(len(f.data))
	}
	hdrLen := cabHeaderLen
	var flags uint16
	if reserve > 0 {
		hdrLen += 4 + reserve
		flags |= 4
	}
	folderLen := 8 + reserve
	coffFiles := hdrLen + folderLen
	dataOff := coffFiles + ftab.Len()
	total := dataOff + blocks.Len()

	var b bytes.Buffer
	h := make([]byte, cabHeaderLen)
	copy(h, "MSCF")
	binary.LittleEndian.PutUint32(h[8:], uint32(total))
	binary.LittleEndian.PutUint32(h[16:], uint32(coffFiles))
	h[24], h[25] = 3, 1
	binary.LittleEndian.PutUint16(h[26:], 1)
	binary.LittleEndian.PutUint16(h[28:], uint16(len(files)))
	binary.LittleEndian.PutUint16(h[30:], flags)
	b.Write(h)
	if reserve > 0 {
		var r [4]byte
		binary.LittleEndian.PutUint16(r[0:], uint16(reserve))
		r[2], r[3] = byte(reserve), byte(reserve)
		b.Write(r[:])
		b.Write(make([]byte, reserve))
	}
	var fo [8]byte
	binary.LittleEndian.PutUint32(fo[0:], uint32(dataOff))
	binary.LittleEndian.PutUint16(fo[4:], uint16(nBlocks))
	binary.LittleEndian.PutUint16(fo[6:], comp)
	b.Write(fo[:])
	b.Write(make([]byte, reserve))
	b.Write(ftab.Bytes())
	b.Write(blocks.Bytes())
	require.Equal(t, total, b.Len())
	return b.Bytes()
}

func TestExtractCAB(t *testing.T) {
	a := sampleContent()
	bdata := bytes.Repeat([]byte("second file "), 9000)
	files := []testCABFile{{`dir\a.pdb`, a}, {"b.pdb", bdata}, {"empty.pdb", nil}}
	for _, comp := range []uint16{cabCompNone, cabCompMSZIP} {
		for _, reserve := range []int{0, 5} {
			cab := buildCAB(t, comp, reserve, files...)
			for _, f := range files {
				t.Run(fmt.Sprintf("comp%d/reserve%d/%s", comp, reserve, f.name), func(t *testing.T) {
					var out bytes.Buffer
					n, err := extractCAB(bytes.NewReader(cab), int64(len(cab)), baseName(f.name), &out, 1<<20)
					require.NoError(t, err)
					assert.Equal(t, int64(len(f.data)), n)
					assert.True(t, bytes.Equal(f.data, out.Bytes()))
				})
			}
			_, err := extractCAB(bytes.NewReader(cab), int64(len(cab)), "missing.pdb", io.Discard, 1<<20)
			assert.ErrorIs(t, err, ErrCAB)
		}
	}
}

func TestExtractCABErrors(t *testing.T) {
	good := buildCAB(t, cabCompMSZIP, 0, testCABFile{"a.pdb", sampleContent()})
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	le := binary.LittleEndian
	tests := []struct {
		name string
		cab  []byte
		want error
	}{
		{"empty", nil, ErrCAB},
		{"short", good[:20], ErrCAB},
		{"signature", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), ErrCAB},
		{"truncated", good[:len(good)-100], ErrCAB},
		{"truncated data", mutate(func(b []byte) []byte { le.PutUint32(b[8:], uint32(len(b)-100)); return b[:len(b)-100] }), ErrCAB},
		{"version", mutate(func(b []byte) []byte { b[25] = 2; return b }), ErrUnsupported},
		{"spanned", mutate(func(b []byte) []byte { b[30] |= 2; return b }), ErrUnsupported},
		{"no folders", mutate(func(b []byte) []byte { le.PutUint16(b[26:], 0); return b }), ErrCAB},
		{"too many files", mutate(func(b []byte) []byte { le.PutUint16(b[28:], maxCABFiles+1); return b }), ErrCAB},
		{"file table", mutate(func(b []byte) []byte { le.PutUint32(b[16:], 1<<30); return b }), ErrCAB},
		{"quantum", mutate(func(b []byte) []byte { le.PutUint16(b[cabHeaderLen+6:], cabCompQuantum); return b }), ErrUnsupported},
		{"lzx", mutate(func(b []byte) []byte { le.PutUint16(b[cabHeaderLen+6:], 0x1503); return b }), ErrUnsupported},
		{"type 9", mutate(func(b []byte) []byte { le.PutUint16(b[cabHeaderLen+6:], 9); return b }), ErrUnsupported},
		{"continued file", mutate(func(b []byte) []byte { le.PutUint16(b[cabHeaderLen+8+8:], 0xfffd); return b }), ErrUnsupported},
		{"huge file", mutate(func(b []byte) []byte { le.PutUint32(b[cabHeaderLen+8:], 1<<31); return b }), ErrTooLarge},
		{"data offset", mutate(func(b []byte) []byte { le.PutUint32(b[cabHeaderLen:], 1<<30); return b }), ErrCAB},
		{"corrupt deflate", mutate(func(b []byte) []byte {
			d := int(le.Uint32(b[cabHeaderLen:]))
			for i := d + 10; i < d+40; i++ {
				b[i] ^= 0x5a
			}
			return b
		}), ErrCAB},
		{"no CK", mutate(func(b []byte) []byte { b[le.Uint32(b[cabHeaderLen:])+8] = 'X'; return b }), ErrCAB},
		{"file past folder", mutate(func(b []byte) []byte { le.PutUint32(b[cabHeaderLen+8+4:], 1000); return b }), ErrCAB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := extractCAB(bytes.NewReader(tc.cab), int64(len(tc.cab)), "a.pdb", io.Discard, 1<<20)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "got %v, want %v", err, tc.want)
		})
	}
}

// FuzzExtractCAB checks that hostile cabinets never panic and never yield
// more than the limit.
func FuzzExtractCAB(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "sample.pd_")); err == nil {
		f.Add(b)
	}
	f.Add(buildCAB(f, cabCompNone, 3, testCABFile{"a.pdb", []byte("hello")}, testCABFile{"b.pdb", []byte("world")}))
	f.Add(buildCAB(f, cabCompMSZIP, 0, testCABFile{"a.pdb", bytes.Repeat([]byte("abc"), 20000)}))
	f.Add([]byte("MSCF"))
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		var cw countWriter
		var n int64
		var err error
		// The output is discarded: what is allocated is the reader's own
		// working memory, bounded by a fixed allowance (MSZIP window,
		// blocks) and the input.
		alloclimit.Check(t, "FuzzExtractCAB run", 8<<20+16*uint64(len(b)), func() {
			n, err = extractCAB(bytes.NewReader(b), int64(len(b)), "a.pdb", &cw, limit)
		})
		if n != cw.n {
			t.Fatalf("reported %d bytes, wrote %d", n, cw.n)
		}
		if n > limit {
			t.Fatalf("wrote %d bytes past the limit", n)
		}
		if err != nil && !errors.Is(err, ErrCAB) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }
