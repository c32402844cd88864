package xca

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// decompressLZ77Ref is DecompressLZ77 as it was before its fast loop
// (commit cdce97a), kept as the reference the fast version must match
// byte for byte and error for error. Matches are copied one byte at a time,
// the definition of an overlapping match.
func decompressLZ77Ref(dst, src []byte) (int, error) {
	const f = FormatXpress
	in, out := 0, 0
	var flags uint32
	nflags := 0
	half := -1
	for {
		if nflags == 0 {
			if in == len(src) {
				return out, nil
			}
			if len(src)-in < 4 {
				return out, corrupt(f, in, "truncated flag word")
			}
			flags = binary.LittleEndian.Uint32(src[in:])
			in += 4
			nflags = 32
		}
		if flags&(1<<31) == 0 {
			run := min(bits.LeadingZeros32(flags), nflags)
			if run > len(src)-in {
				return out, corrupt(f, len(src), "truncated literal run")
			}
			if run > len(dst)-out {
				return out, tooLarge(f, in, out, len(dst))
			}
			copy(dst[out:out+run], src[in:])
			in += run
			out += run
			flags <<= uint(run)
			nflags -= run
			continue
		}
		flags <<= 1
		nflags--
		if in == len(src) {
			return out, nil
		}
		if len(src)-in < 2 {
			return out, corrupt(f, in, "truncated match")
		}
		at := in
		w := int(binary.LittleEndian.Uint16(src[in:]))
		in += 2
		dist := w>>3 + 1
		length := uint64(w & 7)
		if length == 7 {
			if half < 0 {
				if in >= len(src) {
					return out, corrupt(f, in, "truncated match length nibble")
				}
				length = uint64(src[in] & 15)
				half = in
				in++
			} else {
				length = uint64(src[half] >> 4)
				half = -1
			}
			if length == 15 {
				if in >= len(src) {
					return out, corrupt(f, in, "truncated match length byte")
				}
				length = uint64(src[in])
				in++
				if length == 255 {
					if len(src)-in < 2 {
						return out, corrupt(f, in, "truncated 16-bit match length")
					}
					length = uint64(binary.LittleEndian.Uint16(src[in:]))
					in += 2
					if length == 0 {
						if len(src)-in < 4 {
							return out, corrupt(f, in, "truncated 32-bit match length")
						}
						length = uint64(binary.LittleEndian.Uint32(src[in:]))
						in += 4
					}
					if length < 15+7 {
						return out, corrupt(f, at, "match length below its encoding's minimum")
					}
					length -= 15 + 7
				}
				length += 15
			}
			length += 7
		}
		length += 3
		if dist > out {
			return out, corrupt(f, at, "match distance before start of output")
		}
		if length > uint64(len(dst)-out) {
			return out, tooLarge(f, at, out, len(dst))
		}
		for i := range int(length) {
			dst[out+i] = dst[out-dist+i]
		}
		out += int(length)
	}
}

// diffLZ77 decodes src into an n-byte destination with DecompressLZ77 and
// with the reference, and fails unless both give the same count, the same
// bytes and the same error.
func diffLZ77(t testing.TB, what string, src []byte, n int) {
	t.Helper()
	got, want := make([]byte, n), make([]byte, n)
	ng, eg := DecompressLZ77(got, src)
	nw, ew := decompressLZ77Ref(want, src)
	if ng != nw || errText(eg) != errText(ew) {
		t.Fatalf("%s (%d input bytes, %d-byte destination): got %d, %v; reference %d, %v", what, len(src), n, ng, eg, nw, ew)
	}
	if !bytes.Equal(got[:ng], want[:nw]) {
		t.Fatalf("%s (%d input bytes, %d-byte destination): output differs from the reference", what, len(src), n)
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// lz77Stream builds a plain LZ77 stream of random items that reach every
// path of the decoder: literal runs of every length, matches at small and
// large distances (overlapping or not) with every length encoding,
// including the 32-bit one, and the nibble shared by two matches.
func lz77Stream(r *rand.Rand, items int) (comp []byte, size int) {
	w := lz77Writer{out: []byte{0, 0, 0, 0}, half: -1}
	for range items {
		if size == 0 || r.IntN(3) == 0 {
			n := 1 + r.IntN(40)
			lit := make([]byte, n)
			for i := range lit {
				lit[i] = byte(r.IntN(4))
			}
			w.literals(lit)
			size += n
			continue
		}
		dist := 1 + r.IntN(min(size, 24))
		if r.IntN(2) == 0 {
			dist = 1 + r.IntN(min(size, lz77MaxDist))
		}
		var length int
		switch r.IntN(8) {
		case 0:
			length = 3 + r.IntN(300)
		case 1:
			length = 280 + r.IntN(3000)
		default:
			length = 3 + r.IntN(40)
		}
		if r.IntN(40) == 0 {
			// The 32-bit form, which the writer uses only past 65535.
			w.out = binary.LittleEndian.AppendUint16(w.out, uint16((dist-1)<<3|7))
			if w.half < 0 {
				w.half = len(w.out)
				w.out = append(w.out, 15)
			} else {
				w.out[w.half] |= 15 << 4
				w.half = -1
			}
			w.out = append(w.out, 255, 0, 0)
			w.out = binary.LittleEndian.AppendUint32(w.out, uint32(length-3))
			w.flag(1)
		} else {
			w.match(length, dist)
		}
		size += length
	}
	return w.finish(), size
}

// damage returns a copy of b with a few random bytes changed, or cut
// short.
func damage(r *rand.Rand, b []byte) []byte {
	c := bytes.Clone(b)
	if len(c) == 0 {
		return c
	}
	if r.IntN(4) == 0 {
		return c[:r.IntN(len(c))]
	}
	for range 1 + r.IntN(3) {
		c[r.IntN(len(c))] = byte(r.Uint32())
	}
	return c
}

// destSizes returns destination sizes around size: exact, short by a
// little and a lot, and with room to spare.
func destSizes(r *rand.Rand, size int) []int {
	s := []int{size, size + 1 + r.IntN(100), max(0, size-1), max(0, size-1-r.IntN(40)), r.IntN(size + 1)}
	return s
}

func TestLZ77MatchesReferenceETL(t *testing.T) {
	bufs := compressedBuffers(t, compressedTraces...)
	if len(bufs) == 0 {
		t.Skip("no compressed ETL traces in the corpus")
	}
	r := rand.New(rand.NewPCG(7, 19))
	step := 1
	if testing.Short() {
		step = 8
	}
	for i := 0; i < len(bufs); i += step {
		b := bufs[i]
		what := fmt.Sprintf("%s buffer %d", b.trace, b.index)
		for _, n := range destSizes(r, b.size) {
			diffLZ77(t, what, b.comp, n)
		}
		for _, cut := range []int{len(b.comp) - 1, len(b.comp) - 2, len(b.comp) - 5, len(b.comp) - 37, r.IntN(len(b.comp))} {
			diffLZ77(t, what+" truncated", b.comp[:max(0, cut)], b.size)
		}
		for range 4 {
			diffLZ77(t, what+" damaged", damage(r, b.comp), b.size)
		}
	}
}

func TestLZ77MatchesReferenceCrafted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	rounds := 3000
	if testing.Short() {
		rounds = 300
	}
	for i := range rounds {
		comp, size := lz77Stream(r, 1+r.IntN(60))
		for _, n := range destSizes(r, size) {
			diffLZ77(t, "crafted stream", comp, n)
		}
		diffLZ77(t, "damaged crafted stream", damage(r, comp), size)
		if i%8 == 0 {
			// Every cut near the end, where the fast loop hands over.
			for cut := max(0, len(comp)-80); cut < len(comp); cut++ {
				diffLZ77(t, "truncated crafted stream", comp[:cut], size)
			}
		}
		if i%10 == 0 {
			for _, kind := range []string{"records", "text", "zeros", "skewed", "repetitive"} {
				data := genData(kind, 1+r.IntN(5000), r.Uint64())
				comp := AppendCompressLZ77(nil, data)
				diffLZ77(t, kind, comp, len(data))
				diffLZ77(t, "damaged "+kind, damage(r, comp), len(data))
			}
		}
	}
}

func TestLZ77MatchesReferenceRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	rounds := 20000
	if testing.Short() {
		rounds = 2000
	}
	for range rounds {
		src := make([]byte, r.IntN(300))
		for i := range src {
			// Mostly literal-heavy flag words, so that decoding gets far.
			src[i] = byte(r.Uint32())
			if i%4 == 0 && r.IntN(2) == 0 {
				src[i] = 0
			}
		}
		diffLZ77(t, "random input", src, r.IntN(2000))
	}
}

// FuzzLZ77MatchesReference compares DecompressLZ77 with the reference on
// arbitrary input.
func FuzzLZ77MatchesReference(f *testing.F) {
	fuzzSeeds(f, AppendCompressLZ77, true)
	f.Fuzz(func(t *testing.T, src []byte, size uint32) {
		diffLZ77(t, "fuzz input", src, int(size%(maxFuzzOut+1)))
	})
}
