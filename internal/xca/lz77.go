package xca

import (
	"encoding/binary"
	"math/bits"
)

// Plain LZ77 limits ([MS-XCA] §2.3).
const (
	lz77MaxDist = 8192 // 13-bit distance field, stored minus 1
)

// DecompressLZ77 writes the decompressed form of src, a plain LZ77 XPRESS
// stream ([MS-XCA] §2.4), into dst and returns the number of bytes written.
// len(dst) is the maximum output; exceeding it gives an error wrapping
// ErrOutputTooLarge. Malformed input gives an error wrapping ErrCorrupt
// that names the input offset.
//
// Decoding ends successfully when the input is exhausted where the next
// item would be a match or a new flag word (the encoder marks unused flag
// bits as matches). Callers that know the expected output size should
// compare it with the returned count.
//
// The bytes of dst past the returned count may be overwritten: they serve
// as scratch space for wide copies.
func DecompressLZ77(dst, src []byte) (int, error) {
	in, out := 0, 0
	var flags uint32 // remaining flag bits, next one in bit 31
	nflags := 0      // number of valid bits in flags
	half := -1       // input offset of a byte whose high nibble is pending
	// The fast loop moves literals and matches in 8 and 16-byte words,
	// which may run past the item's end into bytes a later item writes.
	// It runs while that slack exists at both ends and leaves every
	// error, and the last bytes of input and output, to lz77Careful,
	// which resumes exactly where it stopped. (Capping the capacities
	// spares the loop a register for each.)
	dst, src = dst[:len(dst):len(dst)], src[:len(src):len(src)]
	for len(src)-in >= lz77SrcSlack && len(dst)-out >= lz77DstSlack {
		if nflags == 0 {
			flags = binary.LittleEndian.Uint32(src[in:])
			in += 4
			nflags = 32
		}
		// A run of 0 to 32 literals, moved as 8 or 32 bytes: the zero
		// bits before the next one. Moving 8 bytes for an empty run
		// costs less than a branch that goes either way.
		run := min(bits.LeadingZeros32(flags), nflags)
		d, s := dst[out:out+32], src[in:in+32]
		*(*[8]byte)(d) = *(*[8]byte)(s)
		if run > 8 {
			*(*[8]byte)(d[8:]) = *(*[8]byte)(s[8:])
			*(*[16]byte)(d[16:]) = *(*[16]byte)(s[16:])
		}
		in += run
		out += run
		flags <<= uint(run)
		nflags -= run
		if nflags == 0 {
			continue
		}
		// A match: the input holds all of its bytes, thanks to the slack.
		start, h := in, half
		w := int(binary.LittleEndian.Uint16(src[in:]))
		in += 2
		dist := w>>3 + 1
		length := w & 7
		if length == 7 {
			// The low nibble of a new byte, or the high nibble of
			// the pending one; selected without a branch, which
			// would go either way.
			none := half >> (bits.UintSize - 1) // -1 if no nibble is pending, else 0
			at := in&none | half&^none
			length = int(src[at]>>uint(^none&4)) & 15
			half = in&none | ^none
			in -= none
			if length == 15 {
				length = int(src[in])
				in++
				if length == 255 {
					length = int(binary.LittleEndian.Uint16(src[in:]))
					in += 2
					// The 32-bit form is beyond any destination here
					// (and int may have 32 bits): lz77Careful reports
					// it, and lengths below the minimum.
					if length < 15+7 {
						in, half = start, h
						break
					}
					length -= 15 + 7
				}
				length += 15
			}
			length += 7
		}
		length += 3
		if dist > out || length > len(dst)-out-16 {
			// An error, or a match too close to the end of dst for
			// wide moves.
			in, half = start, h
			break
		}
		flags <<= 1
		nflags--
		from := out - dist
		if length <= 16 && dist >= length {
			// Most matches: one 16-byte move, whose first length
			// bytes all come from before out.
			*(*[16]byte)(dst[out : out+16]) = *(*[16]byte)(dst[from : from+16])
		} else if dist >= 16 {
			// Longer matches, from at least 16 bytes back: 16-byte
			// moves, each reading bytes before out or already
			// written. The first two are made whatever the length
			// (over 16 here, and dst has 16 bytes of slack past it),
			// so that most take no turn of the loop.
			*(*[16]byte)(dst[out : out+16]) = *(*[16]byte)(dst[from : from+16])
			*(*[16]byte)(dst[out+16 : out+32]) = *(*[16]byte)(dst[from+16 : from+32])
			if length > 64 && dist >= length {
				copy(dst[out+32:out+length], dst[from+32:])
			} else {
				for i := 32; i < length; i += 16 {
					*(*[16]byte)(dst[out+i : out+i+16]) = *(*[16]byte)(dst[from+i : from+i+16])
				}
			}
		} else {
			copyMatchNear(dst, out, dist, length)
		}
		out += length
	}
	return lz77Careful(dst, src, in, out, flags, nflags, half)
}

// Slack the fast loop of DecompressLZ77 needs: in src, a flag word, a run
// of 32 literals and a match up to its 16-bit length; in dst, a 32-byte
// literal move, or a match's last 16-byte move.
const (
	lz77SrcSlack = 4 + 32 + 2 + 1 + 1 + 2
	lz77DstSlack = 32
)

// copyMatchNear copies an overlapping match (dist < 16, dist < length)
// for the fast loop of DecompressLZ77, by 8-byte moves that may write up
// to 7 bytes past out+length. It is kept out of the loop, being rare.
//
//go:noinline
func copyMatchNear(dst []byte, out, dist, length int) {
	from := out - dist
	if dist >= 8 {
		// Each move reads bytes already written.
		for i := 0; i < length; i += 8 {
			*(*[8]byte)(dst[out+i : out+i+8]) = *(*[8]byte)(dst[from+i : from+i+8])
		}
		return
	}
	// The first 8 bytes one at a time, then 8-byte moves from a whole
	// number of periods back, at least 8 bytes.
	for i := range 8 {
		dst[out+i] = dst[from+i]
	}
	back := nearPeriods[dist]
	for i := 8; i < length; i += 8 {
		*(*[8]byte)(dst[out+i : out+i+8]) = *(*[8]byte)(dst[out+i-back : out+i-back+8])
	}
}

// nearPeriods[d] is the smallest multiple of d that is at least 8.
var nearPeriods = [8]int{0, 8, 8, 9, 8, 10, 12, 14}

// lz77Careful decodes the rest of src into dst from the given state, with
// every bound checked and an error for anything wrong.
func lz77Careful(dst, src []byte, in, out int, flags uint32, nflags, half int) (int, error) {
	const f = FormatXpress
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
			// A run of literals.
			run := min(bits.LeadingZeros32(flags), nflags)
			if run > len(src)-in {
				return out, corrupt(f, len(src), "truncated literal run")
			}
			if run > len(dst)-out {
				return out, tooLarge(f, in, out, len(dst))
			}
			if run == 1 {
				dst[out] = src[in]
			} else {
				copy(dst[out:out+run], src[in:])
			}
			in += run
			out += run
			flags <<= uint(run)
			nflags -= run
			continue
		}
		flags <<= 1
		nflags--
		// Match.
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
		n := int(length)
		copyMatch(dst, out, dist, n)
		out += n
	}
}

// AppendCompressLZ77 appends the plain LZ77 XPRESS ([MS-XCA] §2.3)
// compressed form of src to dst and returns the extended slice.
func AppendCompressLZ77(dst, src []byte) []byte {
	c := compressorPool.Get().(*Compressor)
	dst = c.AppendLZ77(dst, src)
	compressorPool.Put(c)
	return dst
}

// lz77Writer accumulates the flag bits and items of a plain LZ77 stream.
type lz77Writer struct {
	out     []byte
	flagPos int    // offset in out of the reserved flag word
	flags   uint32 // flag bits so far, first in the highest used bit
	nflags  int
	half    int // offset in out of a length byte with a free high nibble, or -1
}

func (w *lz77Writer) flag(bit uint32) {
	w.flags = w.flags<<1 | bit
	w.nflags++
	if w.nflags == 32 {
		binary.LittleEndian.PutUint32(w.out[w.flagPos:], w.flags)
		w.flagPos = len(w.out)
		w.out = append(w.out, 0, 0, 0, 0)
		w.flags, w.nflags = 0, 0
	}
}

func (w *lz77Writer) literals(b []byte) {
	for len(b) > 0 {
		// Fill the current flag word with literals in bulk.
		n := min(32-w.nflags, len(b))
		w.out = append(w.out, b[:n]...)
		b = b[n:]
		if w.nflags+n == 32 {
			binary.LittleEndian.PutUint32(w.out[w.flagPos:], w.flags<<uint(n))
			w.flagPos = len(w.out)
			w.out = append(w.out, 0, 0, 0, 0)
			w.flags, w.nflags = 0, 0
		} else {
			w.flags <<= uint(n)
			w.nflags += n
		}
	}
}

func (w *lz77Writer) match(length, dist int) {
	l := length - 3
	if l < 7 {
		w.out = binary.LittleEndian.AppendUint16(w.out, uint16((dist-1)<<3|l))
		w.flag(1)
		return
	}
	w.out = binary.LittleEndian.AppendUint16(w.out, uint16((dist-1)<<3|7))
	l -= 7
	nib := min(l, 15)
	if w.half < 0 {
		w.half = len(w.out)
		w.out = append(w.out, byte(nib))
	} else {
		w.out[w.half] |= byte(nib) << 4
		w.half = -1
	}
	if l >= 15 {
		l -= 15
		if l < 255 {
			w.out = append(w.out, byte(l))
		} else {
			w.out = append(w.out, 255)
			if total := length - 3; total <= 0xFFFF {
				w.out = binary.LittleEndian.AppendUint16(w.out, uint16(total))
			} else {
				w.out = append(w.out, 0, 0)
				w.out = binary.LittleEndian.AppendUint32(w.out, uint32(total))
			}
		}
	}
	w.flag(1)
}

// finish writes the last flag word with its unused bits set, which the
// decoder reads as matches at the end of input.
func (w *lz77Writer) finish() []byte {
	free := 32 - w.nflags
	f := w.flags<<uint(free) | (1<<uint(free) - 1)
	binary.LittleEndian.PutUint32(w.out[w.flagPos:], f)
	return w.out
}

// lz77MaxLen caps one match; longer runs take several matches.
const lz77MaxLen = 1 << 30

// AppendLZ77 is AppendCompressLZ77 using c's tables.
func (c *Compressor) AppendLZ77(dst, src []byte) []byte {
	w := lz77Writer{out: dst, flagPos: len(dst), half: -1}
	w.out = append(w.out, 0, 0, 0, 0)
	// Worst case: every byte a literal plus one flag word per 32.
	w.out = growBy(w.out, len(src)+len(src)/32*4+8)
	m := c.matcher(len(src))
	pos, lit := 0, 0 // lit: start of pending literals
	next := 0        // first position not yet indexed
	misses := 0      // positions searched in vain since the last match
	end := len(src) - 4
	for pos <= end {
		maxLen := min(len(src)-pos, lz77MaxLen)
		length, dist := m.find(src, pos, 0, lz77MaxDist, maxLen, defaultDepth)
		next = pos + 1
		if length == 0 {
			// In incompressible stretches look at fewer positions.
			pos += 1 + misses>>skipShift
			misses++
			continue
		}
		misses = 0
		// One step of lazy matching: prefer a longer match starting at the
		// next byte.
		if length < lazyLen && pos+1 <= end {
			l2, d2 := m.find(src, pos+1, 0, lz77MaxDist, maxLen-1, defaultDepth)
			next = pos + 2
			if l2 > length+1 {
				pos++
				length, dist = l2, d2
			}
		}
		w.literals(src[lit:pos])
		w.match(length, dist)
		pos += length
		lit = pos
		// Index the positions the match covers.
		m.insertRange(src, next, min(pos, end+1))
	}
	m.finish(len(src))
	w.literals(src[lit:])
	return w.finish()
}

// growBy makes sure b has room for n more bytes without reallocating.
func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
