package utf16le

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
)

// units returns the units of b as utf16.Decode takes them.
func units(b []byte) []uint16 {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return u
}

func le(u ...uint16) []byte {
	var b []byte
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

func check(t *testing.T, b []byte) {
	t.Helper()
	want := string(utf16.Decode(units(b)))
	require.Equal(t, want, String(b), "% x", b)
	require.Equal(t, "prefix"+want, string(Append([]byte("prefix"), b)), "% x", b)
}

func TestString(t *testing.T) {
	for _, b := range [][]byte{
		nil,
		{0x41},                    // one odd byte
		le('A', 'b'),              // ASCII
		append(le('A', 'b'), 0x7), // an odd last byte
		le(0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff),
		le([]uint16(utf16.Encode([]rune("Ünïcödé 日本語 😀𝄞")))...),
		le('A', 0xd800, 'B'),       // a high surrogate alone
		le('A', 0xdc00, 'B'),       // a low surrogate alone
		le('A', 0xd83d),            // a high surrogate last
		le(0xdc00, 0xd800, 0xdc00), // low, then a pair
		le(0xd800, 0xd800, 0xdc00), // high, then a pair
		append(le(0xd83d), 0xde),   // a high surrogate, then an odd byte
	} {
		check(t, b)
	}
}

// TestStringRandom compares with utf16.Decode on random text, surrogates
// and ASCII much more frequent than in a uniform draw.
func TestStringRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		u := make([]uint16, rng.IntN(12))
		for i := range u {
			switch rng.IntN(4) {
			case 0:
				u[i] = uint16(rng.IntN(0x80))
			case 1:
				u[i] = 0xd800 + uint16(rng.IntN(0x800))
			default:
				u[i] = uint16(rng.IntN(0x10000))
			}
		}
		b := le(u...)
		if rng.IntN(8) == 0 {
			b = append(b, byte(rng.IntN(256)))
		}
		check(t, b)
	}
}

func FuzzString(f *testing.F) {
	f.Add(le('A', 0xd83d, 0xde00, 0xdc00))
	f.Add(append(le(0x7ff, 0x800), 1))
	f.Fuzz(func(t *testing.T, b []byte) { check(t, b) })
}

func TestStringAllocs(t *testing.T) {
	for _, b := range [][]byte{le('C', ':', '\\', 'x'), le([]uint16(utf16.Encode([]rune("Ünï 😀")))...)} {
		require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = String(b) }))
	}
}

// BenchmarkString decodes an image path (ASCII) and a non-ASCII name.
func BenchmarkString(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"ascii", `\Device\HarddiskVolume3\Windows\System32\drivers\ntfs.sys`},
		{"nonascii", `C:\Users\Jürgen\Документы\アプリ.exe`},
	} {
		p := le(utf16.Encode([]rune(bc.s))...)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				_ = String(p)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct {
		b          []byte
		n          int
		terminated bool
	}{
		{nil, 0, false},
		{[]byte{0}, 0, false},
		{[]byte{0, 0}, 0, true},
		{append(le('A', 'b', 0, 'c'), 0, 0), 4, true},
		{le('A', 'b'), 4, false},
		{append(le('A', 'b'), 0), 4, false},        // an odd last byte
		{[]byte{'A', 0, 0, 'B', 0, 0}, 4, true},    // zero bytes across units are not a terminator
		{[]byte{0, 'A', 'B', 0, 'C', 0}, 6, false}, // nor are zero halves
		{append(le(0xd83d, 0xde00), 0, 0, 'x', 0), 4, true},
	} {
		n, ok := Text(c.b)
		require.Equal(t, c.n, n, "% x", c.b)
		require.Equal(t, c.terminated, ok, "% x", c.b)
	}
}
