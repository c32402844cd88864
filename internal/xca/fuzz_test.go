package xca

import (
	"bytes"
	"errors"
	"testing"

	"github.com/etwkit/etwkit/internal/alloclimit"
)

// maxFuzzOut bounds the destination of the decompression fuzz targets
// (ETL buffers decompress to at most 64 KiB in the corpus).
const maxFuzzOut = 1 << 17

// fuzzBuf is the destination plus 8 guard bytes, reused between inputs (a
// fuzz worker runs one input at a time).
var fuzzBuf = make([]byte, maxFuzzOut+8)

// fuzzSeeds adds seeds for a decompressor: our compressor's output for a
// few inputs and, for plain LZ77, real compressed ETL buffers (the smaller
// ones, when the corpus is present).
func fuzzSeeds(f *testing.F, compress func(dst, src []byte) []byte, real bool) {
	for _, src := range [][]byte{
		nil,
		[]byte("a"),
		[]byte("abcdefghijklmnopqrstuvwxyz"),
		bytes.Repeat([]byte("abc"), 100),
		genData("records", 3000, 1),
		genData("text", 2000, 2),
		genData("zeros", 70000, 0),
		genData("skewed", 5000, 3),
	} {
		f.Add(compress(nil, src), uint32(len(src)))
	}
	if real {
		n := 0
		for _, b := range compressedBuffers(f, compressedTraces...) {
			if len(b.comp) <= 16<<10 && n < 12 {
				f.Add(b.comp, uint32(b.size))
				n++
			}
		}
	}
}

// fuzzDecompress runs dec on arbitrary input with a guarded destination
// and checks the error contract.
func fuzzDecompress(t *testing.T, dec func(dst, src []byte) (int, error), src []byte, size uint32) {
	n := int(size % (maxFuzzOut + 1))
	buf := fuzzBuf[:n+8]
	clear(buf[n:])
	var got int
	var err error
	// The destination is the caller's: a decompressor allocates nothing
	// beyond small tables, whatever the input.
	alloclimit.Check(t, "decompression", 64<<10, func() { got, err = dec(buf[:n:n], src) })
	if got < 0 || got > n {
		t.Fatalf("returned %d for a %d-byte destination", got, n)
	}
	for _, b := range buf[n:] {
		if b != 0 {
			t.Fatal("wrote past the destination")
		}
	}
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("unexpected error %v", err)
	}
}

func FuzzDecompressLZ77(f *testing.F) {
	fuzzSeeds(f, AppendCompressLZ77, true)
	f.Fuzz(func(t *testing.T, src []byte, size uint32) {
		fuzzDecompress(t, DecompressLZ77, src, size)
	})
}

func FuzzDecompressLZNT1(f *testing.F) {
	fuzzSeeds(f, AppendCompressLZNT1, false)
	f.Fuzz(func(t *testing.T, src []byte, size uint32) {
		fuzzDecompress(t, DecompressLZNT1, src, size)
	})
}

func FuzzDecompressHuffman(f *testing.F) {
	fuzzSeeds(f, AppendCompressHuffman, false)
	// Random bytes rarely form a complete prefix code, so each input is
	// also decoded as the bit stream of a block whose table gives all 512
	// symbols 9-bit codes: that reaches every match and length path.
	uniform := bytes.Repeat([]byte{0x99}, hufTableBytes)
	f.Fuzz(func(t *testing.T, src []byte, size uint32) {
		fuzzDecompress(t, DecompressHuffman, src, size)
		fuzzDecompress(t, DecompressHuffman, append(uniform[:hufTableBytes:hufTableBytes], src...), size)
	})
}

// FuzzRoundTrip checks that compress then decompress is the identity in all
// three formats, with an exactly sized and an oversized destination.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range [][]byte{nil, []byte("a"), []byte("aaaa"), bytes.Repeat([]byte("abc"), 100), genData("records", 5000, 4), genData("skewed", 3000, 5)} {
		f.Add(s)
	}
	for _, b := range compressedBuffers(f, "microsoft__perfview__smallEtlFile.etl", "microsoft__perfview__SelfDescribingSingleEvent.etl") {
		data := make([]byte, b.size)
		if _, err := DecompressLZ77(data, b.comp); err == nil {
			f.Add(data)
		}
	}
	var c Compressor
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, x := range []struct {
			codec
			m func(dst, src []byte) []byte
		}{{codecs[0], c.AppendLZ77}, {codecs[1], c.AppendLZNT1}, {codecs[2], c.AppendHuffman}} {
			comp := x.m(nil, src)
			for _, extra := range []int{0, 7} {
				dst := make([]byte, len(src)+extra)
				n, err := x.decompress(dst, comp)
				if err != nil {
					t.Fatalf("%v: %v", x.f, err)
				}
				if !bytes.Equal(dst[:n], src) {
					t.Fatalf("%v: round trip differs (%d of %d bytes)", x.f, n, len(src))
				}
			}
		}
	})
}
