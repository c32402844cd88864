package xca

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type codec struct {
	f          Format
	compress   func(dst, src []byte) []byte
	decompress func(dst, src []byte) (int, error)
}

var codecs = []codec{
	{FormatXpress, AppendCompressLZ77, DecompressLZ77},
	{FormatLZNT1, AppendCompressLZNT1, DecompressLZNT1},
	{FormatXpressHuffman, AppendCompressHuffman, DecompressHuffman},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err)
	return b
}

// roundTrip compresses src, decompresses into an exactly sized and into an
// oversized buffer, and checks both give src back.
func roundTrip(t testing.TB, c codec, src []byte) []byte {
	t.Helper()
	comp := c.compress(nil, src)
	for _, extra := range []int{0, 100} {
		dst := make([]byte, len(src)+extra)
		n, err := c.decompress(dst, comp)
		require.NoError(t, err, "%v: decompress (%d bytes, %d extra room)", c.f, len(src), extra)
		require.Equal(t, len(src), n, "%v: decompressed size", c.f)
		if !bytes.Equal(src, dst[:n]) {
			t.Fatalf("%v: round trip of %d bytes differs", c.f, len(src))
		}
	}
	if len(src) > 0 {
		// One byte too little room must be reported as such.
		n, err := c.decompress(make([]byte, len(src)-1), comp)
		require.ErrorIs(t, err, ErrOutputTooLarge, "%v: n=%d", c.f, n)
	}
	// Appending keeps the prefix.
	pre := []byte("prefix")
	app := c.compress(append([]byte(nil), pre...), src)
	require.Equal(t, pre, app[:len(pre)])
	require.Equal(t, comp, app[len(pre):])
	return comp
}

func genData(kind string, n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	switch kind {
	case "random":
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	case "zeros":
	case "repetitive":
		pat := []byte("the quick brown fox jumps over the lazy dog; ")
		for i := range b {
			b[i] = pat[i%len(pat)]
		}
	case "text":
		words := strings.Fields("event trace provider kernel process thread image load pool alloc free stack walk sample profile 0x1000 ntoskrnl.exe svchost.exe")
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[r.IntN(len(words))])
			sb.WriteByte(" \n"[r.IntN(2)])
		}
		copy(b, sb.String())
	case "records":
		// ETL-like: 8-byte aligned records with repeated headers, small
		// counters and pointer-like values.
		i := 0
		ts := uint64(1e12)
		for i+48 <= n {
			sz := 24 + 8*r.IntN(4)
			rec := b[i : i+sz]
			rec[0], rec[1] = byte(sz), 0
			rec[2], rec[3] = 0x02, 0xC0
			ts += uint64(r.IntN(5000))
			for k := 0; k < 8; k++ {
				rec[8+k] = byte(ts >> (8 * k))
			}
			for k := 16; k < sz; k++ {
				if r.IntN(4) == 0 {
					rec[k] = byte(r.IntN(256))
				} else {
					rec[k] = byte(k * 7)
				}
			}
			i += sz
		}
	case "skewed":
		// Geometric symbol distribution: stresses Huffman length limits.
		for i := range b {
			v := 0
			for v < 40 && r.IntN(2) == 0 {
				v++
			}
			b[i] = byte(v)
		}
	default:
		panic(kind)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	kinds := []string{"random", "zeros", "repetitive", "text", "records", "skewed"}
	sizes := []int{0, 1, 2, 3, 4, 5, 7, 31, 32, 33, 100, 4095, 4096, 4097, 8193, 65535, 65536, 65537, 3*65536 + 1234}
	for _, c := range codecs {
		t.Run(c.f.String(), func(t *testing.T) {
			for _, kind := range kinds {
				for _, n := range sizes {
					roundTrip(t, c, genData(kind, n, uint64(n)))
				}
			}
		})
	}
}

func TestRoundTripLongMatches(t *testing.T) {
	// Long runs exercise every length encoding, including the 32-bit one of
	// plain LZ77 (lengths above 65538) and matches across Huffman blocks.
	var b []byte
	b = append(b, "abc"...)
	b = append(b, bytes.Repeat([]byte{'x'}, 70000)...)
	b = append(b, "abcdefg"...)
	b = append(b, bytes.Repeat([]byte("0123456789"), 30000)...)
	b = append(b, genData("random", 1000, 1)...)
	b = append(b, bytes.Repeat([]byte{0}, 300)...)
	for _, c := range codecs {
		roundTrip(t, c, b)
	}
	// Every match length up to 300 in plain LZ77 and Huffman.
	for l := 3; l <= 300; l++ {
		src := append(append([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), "0123456789abcdefghijklmnopqrstuvwxyz"[:min(l, 36)]...), '#')
		src = append(src, bytes.Repeat([]byte{'z'}, l)...)
		for _, c := range codecs {
			roundTrip(t, c, src)
		}
	}
}

func TestCompressionShrinks(t *testing.T) {
	src := genData("records", 1<<20, 7)
	for _, c := range codecs {
		comp := c.compress(nil, src)
		t.Logf("%v: records %d -> %d (%.1f%%)", c.f, len(src), len(comp), 100*float64(len(comp))/float64(len(src)))
		assert.Less(t, len(comp), len(src)*3/4, "%v", c.f)
		rnd := genData("random", 1<<16, 3)
		comp = c.compress(nil, rnd)
		// Incompressible data grows by at most the format's framing.
		assert.Less(t, len(comp), len(rnd)+len(rnd)/8+300, "%v on random data", c.f)
	}
}

// Spec vectors from [MS-XCA] §3.1 (plain LZ77).
func TestLZ77SpecExamples(t *testing.T) {
	alpha := []byte("abcdefghijklmnopqrstuvwxyz")
	want := append(unhex(t, "3f000000"), alpha...)
	assert.Equal(t, want, AppendCompressLZ77(nil, alpha))
	dst := make([]byte, 26)
	n, err := DecompressLZ77(dst, want)
	require.NoError(t, err)
	assert.Equal(t, alpha, dst[:n])

	abc := bytes.Repeat([]byte("abc"), 100)
	want = unhex(t, "ff ff ff 1f 61 62 63 17 00 0f ff 26 01")
	assert.Equal(t, want, AppendCompressLZ77(nil, abc))
	dst = make([]byte, 300)
	n, err = DecompressLZ77(dst, want)
	require.NoError(t, err)
	assert.Equal(t, abc, dst[:n])
}

// Spec vector from [MS-XCA] §3.2 (LZ77+Huffman): the alphabet as 26
// literals and the end mark; a..v have 5-bit codes, w..z and symbol 256
// 4-bit codes.
func TestHuffmanSpecExample(t *testing.T) {
	table := make([]byte, 256)
	table[48] = 0x50
	for i := 49; i <= 58; i++ {
		table[i] = 0x55
	}
	table[59], table[60], table[61] = 0x45, 0x44, 0x04
	table[128] = 0x04
	want := append(table, unhex(t, "d8 52 3e d7 94 11 5b e9 19 5f f9 d6 7c df 8d 04 00 00 00 00")...)
	alpha := []byte("abcdefghijklmnopqrstuvwxyz")
	for _, room := range []int{26, 100} {
		dst := make([]byte, room)
		n, err := DecompressHuffman(dst, want)
		require.NoError(t, err)
		assert.Equal(t, alpha, dst[:n])
	}
	// Our encoder chooses the same code lengths, so the bytes match.
	assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(AppendCompressHuffman(nil, alpha)))
}

// Spec vector from [MS-XCA] §3.3 (LZNT1).
func TestLZNT1SpecExample(t *testing.T) {
	comp := unhex(t, `38 b0 88 46 23 20 00 20 47 20 41 00 10 a2 47 01 a0 45 20 44 00 08 45 01
		50 79 00 c0 45 20 05 24 13 88 05 b4 02 4a 44 ef 03 58 02 8c 09 16 01 48
		45 00 be 00 9e 00 04 01 18 90 00`)
	require.Len(t, comp, 59)
	want := []byte("F# F# G A A G F# E D D E F# F# E E F# F# G A A G F# E D D E F# E D D E E F# D E F# G F# D E F# G F# E D E A F# F# G A A G F# E D D E F# E D D\x00")
	require.Len(t, want, 142)
	dst := make([]byte, 200)
	n, err := DecompressLZNT1(dst, comp)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(dst[:n]))
	ours := AppendCompressLZNT1(nil, want)
	t.Logf("LZNT1 example: spec engine %d bytes, ours %d bytes", len(comp), len(ours))
	roundTrip(t, codecs[1], want)
}

func TestDecompressDispatch(t *testing.T) {
	for _, c := range codecs {
		src := genData("text", 5000, 9)
		comp, err := AppendCompress(c.f, nil, src)
		require.NoError(t, err)
		dst := make([]byte, len(src))
		n, err := Decompress(c.f, dst, comp)
		require.NoError(t, err)
		require.Equal(t, src, dst[:n])
	}
	_, err := Decompress(Format(1), nil, nil)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = AppendCompress(Format(0x102), nil, nil)
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Equal(t, "LZNT1", FormatLZNT1.String())
	assert.Equal(t, "XPRESS(LZ77)", FormatXpress.String())
	assert.Equal(t, "XPRESS_HUFF", FormatXpressHuffman.String())
	assert.Equal(t, "Format(7)", Format(7).String())
}

// Truncated and bit-flipped streams must give errors or wrong output, never
// panics, and never write past dst.
func TestDamagedInput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range codecs {
		src := genData("records", 20000, 11)
		comp := c.compress(nil, src)
		dst := make([]byte, len(src))
		truncErrs := 0
		for cut := 0; cut < len(comp); cut += 1 + len(comp)/300 {
			n, err := c.decompress(dst, comp[:cut])
			require.LessOrEqual(t, n, len(dst))
			if err != nil {
				truncErrs++
				checkErr(t, c.f, err)
			} else {
				// A cut at a chunk or block boundary is a valid shorter
				// stream; it must not claim the full size.
				assert.Less(t, n, len(src), "%v: truncated to %d of %d bytes decoded fully", c.f, cut, len(comp))
			}
		}
		assert.Positive(t, truncErrs, "%v", c.f)
		for i := 0; i < 300; i++ {
			bad := append([]byte(nil), comp...)
			bad[r.IntN(len(bad))] ^= byte(1 << r.IntN(8))
			// Guard bytes after dst catch out-of-bounds writes.
			buf := make([]byte, len(src)+16)
			n, err := c.decompress(buf[:len(src):len(src)], bad)
			require.LessOrEqual(t, n, len(src))
			assert.Equal(t, make([]byte, 16), buf[len(src):], "%v: wrote past dst", c.f)
			if err != nil {
				checkErr(t, c.f, err)
			}
		}
	}
}

func checkErr(t *testing.T, f Format, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("%v: error %v wraps neither ErrCorrupt nor ErrOutputTooLarge", f, err)
	}
	if !strings.Contains(err.Error(), "offset") {
		t.Fatalf("%v: error %q does not say where", f, err)
	}
}

func TestCorruptCases(t *testing.T) {
	cases := []struct {
		f    Format
		name string
		src  string
		size int
	}{
		{FormatXpress, "short flag word", "000000", 10},
		{FormatXpress, "literal past end", "00000000 41", 10},
		{FormatXpress, "match before output start", "00000080 0800", 10},
		{FormatXpress, "truncated match", "01000000 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 08", 100},
		{FormatXpress, "truncated nibble", "00000040 41 0700", 100},
		{FormatXpress, "tiny 16-bit length", "00000040 41 0700 0f ff 0500", 100},
		{FormatLZNT1, "bad signature", "0510 4141", 10},
		{FormatLZNT1, "chunk past end", "05b0 00 41", 10},
		{FormatLZNT1, "word at chunk start", "02b0 01 0000", 10},
		{FormatLZNT1, "displacement before chunk", "03b0 02 41 0010", 10},
		{FormatLZNT1, "odd trailing byte", "0030 41 05", 10},
		{FormatXpressHuffman, "all-zero lengths", strings.Repeat("00", 260), 10},
		{FormatXpressHuffman, "short table", strings.Repeat("11", 100), 10},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%v/%s", tc.f, tc.name), func(t *testing.T) {
			_, err := Decompress(tc.f, make([]byte, tc.size), unhex(t, tc.src))
			require.ErrorIs(t, err, ErrCorrupt)
			checkErr(t, tc.f, err)
		})
	}
}

func TestEmptyInputs(t *testing.T) {
	for _, c := range codecs {
		n, err := c.decompress(nil, nil)
		require.NoError(t, err, "%v", c.f)
		require.Zero(t, n)
	}
	// LZNT1 stops at a zero chunk header.
	n, err := DecompressLZNT1(make([]byte, 8), unhex(t, "0030 41 0000 0030 42"))
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestCompressorReuse(t *testing.T) {
	var c Compressor
	for i := 0; i < 5; i++ {
		src := genData("records", 30000+i*1000, uint64(i))
		for _, f := range []struct {
			codec
			m func(dst, src []byte) []byte
		}{{codecs[0], c.AppendLZ77}, {codecs[1], c.AppendLZNT1}, {codecs[2], c.AppendHuffman}} {
			comp := f.m(nil, src)
			require.Equal(t, f.compress(nil, src), comp, "%v: reused Compressor differs from a fresh one", f.f)
			dst := make([]byte, len(src))
			n, err := f.decompress(dst, comp)
			require.NoError(t, err)
			require.Equal(t, src, dst[:n])
		}
	}
}

func TestDecompressAllocs(t *testing.T) {
	src := genData("records", 65536, 3)
	dst := make([]byte, len(src))
	for _, c := range codecs {
		comp := c.compress(nil, src)
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := c.decompress(dst, comp); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "%v", c.f)
	}
}

func TestCompressAllocs(t *testing.T) {
	src := genData("records", 65536, 3)
	var c Compressor
	buf := make([]byte, 0, 2*len(src))
	c.AppendLZ77(buf, src)
	c.AppendLZNT1(buf, src)
	c.AppendHuffman(buf, src)
	for _, f := range []func(dst, src []byte) []byte{c.AppendLZ77, c.AppendLZNT1, c.AppendHuffman} {
		allocs := testing.AllocsPerRun(10, func() { f(buf[:0], src) })
		assert.Zero(t, allocs)
	}
}

// A hand-assembled LZ77+Huffman stream: with all 512 symbols at 9 bits the
// canonical code of a symbol is its number. Bits: 001000001 ('A'),
// 100000101 (symbol 261: match length 5+3, distance 1), 100000000 (EOF),
// zero padding; three 16-bit words are loaded by the end.
func TestHuffmanHandAssembled(t *testing.T) {
	src := append(bytes.Repeat([]byte{0x99}, 256), unhex(t, "c120 0060 0000")...)
	for _, room := range []int{9, 50} {
		dst := make([]byte, room)
		n, err := DecompressHuffman(dst, src)
		require.NoError(t, err)
		require.Equal(t, "AAAAAAAAA", string(dst[:n]))
	}
	// One byte less output room, and a missing final word.
	_, err := DecompressHuffman(make([]byte, 8), src)
	require.ErrorIs(t, err, ErrOutputTooLarge)
	_, err = DecompressHuffman(make([]byte, 9), src[:len(src)-2])
	require.ErrorIs(t, err, ErrCorrupt)
}

// checkLengths verifies that lens form a complete prefix code of at most 15
// bits covering every used symbol.
func checkLengths(t *testing.T, h *huffScratch) {
	t.Helper()
	kraft, used := 0, 0
	for s, l := range h.lens {
		require.LessOrEqual(t, l, uint8(hufMaxBits), "symbol %d", s)
		if h.freq[s] != 0 {
			require.NotZero(t, l, "used symbol %d has no code", s)
			used++
		}
		if l != 0 {
			kraft += 1 << (hufMaxBits - l)
		}
	}
	require.Equal(t, 1<<hufMaxBits, kraft, "Kraft sum (%d used symbols)", used)
}

func TestHuffmanLengthLimit(t *testing.T) {
	var h huffScratch
	// Fibonacci frequencies give the deepest trees: 22 of them need 21
	// bits unlimited.
	clear(h.freq[:])
	a, b := uint32(1), uint32(1)
	for s := 0; s < 24; s++ {
		h.freq[s*20] = a
		a, b = b, a+b
	}
	h.buildLengths()
	checkLengths(t, &h)
	// Random skewed sets, single symbols and full alphabets.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		clear(h.freq[:])
		n := 1 + r.IntN(hufSymbols)
		for k := 0; k < n; k++ {
			h.freq[r.IntN(hufSymbols)] = 1 + uint32(r.ExpFloat64()*float64(uint32(1)<<r.IntN(20)))
		}
		h.buildLengths()
		checkLengths(t, &h)
	}
	clear(h.freq[:])
	h.freq[300] = 7
	h.buildLengths()
	checkLengths(t, &h)

	// End to end: shuffled symbols with Fibonacci counts.
	var src []byte
	a, b = 1, 1
	for s := 0; s < 22; s++ {
		src = append(src, bytes.Repeat([]byte{byte(s * 11)}, int(a))...)
		a, b = b, a+b
	}
	r.Shuffle(len(src), func(i, j int) { src[i], src[j] = src[j], src[i] })
	for len(src) > 0 {
		roundTrip(t, codecs[2], src)
		src = src[:len(src)/3]
	}
}
