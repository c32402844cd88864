package xca

import (
	"encoding/binary"
	"math/bits"
)

// LZNT1 layout ([MS-XCA] §2.5): a sequence of chunks, each a 16-bit header
// (bit 15: compressed; bits 14-12: signature 3; bits 11-0: chunk data size
// minus 1) followed by the chunk data. A chunk covers at most 4096 bytes of
// output and references only data of its own chunk. A zero header ends the
// stream.
const (
	lznt1ChunkSize  = 4096
	lznt1Compressed = 0x8000
	lznt1Signature  = 0x3000
)

// lznt1Split returns the number of length bits of a compressed word written
// when p bytes of the current chunk have been produced: the displacement
// takes just enough bits to reach the chunk start (at least 4, at most 12)
// and the length takes the rest of the 16.
func lznt1Split(p int) (lenBits uint) {
	d := bits.Len(uint(p - 1))
	if d < 4 {
		d = 4
	}
	return uint(16 - d)
}

// DecompressLZNT1 writes the decompressed form of src, an LZNT1 stream
// ([MS-XCA] §2.5), into dst and returns the number of bytes written.
// len(dst) is the maximum output; exceeding it gives an error wrapping
// ErrOutputTooLarge. Malformed input gives an error wrapping ErrCorrupt that
// names the input offset. Decoding ends at the end of input or at a zero
// chunk header. Chunks are concatenated as decoded (a chunk that produces
// fewer than 4096 bytes is not padded).
func DecompressLZNT1(dst, src []byte) (int, error) {
	const f = FormatLZNT1
	in, out := 0, 0
	for in < len(src) {
		if len(src)-in < 2 {
			return out, corrupt(f, in, "truncated chunk header")
		}
		h := int(binary.LittleEndian.Uint16(src[in:]))
		if h == 0 {
			return out, nil
		}
		if h&0x7000 != lznt1Signature {
			return out, corrupt(f, in, "bad chunk signature")
		}
		size := h&0xFFF + 1
		hdr := in
		in += 2
		if size > len(src)-in {
			return out, corrupt(f, hdr, "chunk extends past end of input")
		}
		chunk := src[in : in+size]
		if h&lznt1Compressed == 0 {
			if size > len(dst)-out {
				return out, tooLarge(f, in, out, len(dst))
			}
			out += copy(dst[out:], chunk)
			in += size
			continue
		}
		n, err := lznt1Chunk(dst[out:], chunk, in)
		out += n
		if err != nil {
			return out, err
		}
		in += size
	}
	return out, nil
}

// lznt1Chunk decodes one compressed chunk's data into dst (which starts at
// the chunk's first output byte); base is the chunk's input offset, for
// errors.
func lznt1Chunk(dst, chunk []byte, base int) (int, error) {
	const f = FormatLZNT1
	limit := min(len(dst), lznt1ChunkSize)
	in, out := 0, 0
	for in < len(chunk) {
		flags := chunk[in]
		in++
		for i := 0; i < 8 && in < len(chunk); i++ {
			if flags&1 == 0 {
				if out >= limit {
					if out >= lznt1ChunkSize {
						return out, corrupt(f, base+in, "chunk decompresses past 4096 bytes")
					}
					return out, tooLarge(f, base+in, out, len(dst))
				}
				dst[out] = chunk[in]
				in++
				out++
			} else {
				if len(chunk)-in < 2 {
					return out, corrupt(f, base+in, "truncated compressed word")
				}
				if out == 0 {
					return out, corrupt(f, base+in, "compressed word at chunk start")
				}
				w := int(binary.LittleEndian.Uint16(chunk[in:]))
				lb := lznt1Split(out)
				dist := w>>lb + 1
				length := w&(1<<lb-1) + 3
				if dist > out {
					return out, corrupt(f, base+in, "displacement before chunk start")
				}
				if length > limit-out {
					if out+length > lznt1ChunkSize {
						return out, corrupt(f, base+in, "chunk decompresses past 4096 bytes")
					}
					return out, tooLarge(f, base+in, out, len(dst))
				}
				in += 2
				copyMatch(dst, out, dist, length)
				out += length
			}
			flags >>= 1
		}
	}
	return out, nil
}

// AppendCompressLZNT1 appends the LZNT1 ([MS-XCA] §2.5) compressed form of
// src to dst and returns the extended slice. Chunks that do not shrink are
// stored uncompressed. No end marker is appended (empty input gives no
// bytes).
func AppendCompressLZNT1(dst, src []byte) []byte {
	c := compressorPool.Get().(*Compressor)
	dst = c.AppendLZNT1(dst, src)
	compressorPool.Put(c)
	return dst
}

// AppendLZNT1 is AppendCompressLZNT1 using c's tables.
func (c *Compressor) AppendLZNT1(dst, src []byte) []byte {
	// Worst case: a 2-byte header per 4096-byte chunk.
	dst = growBy(dst, len(src)+len(src)/lznt1ChunkSize*2+2)
	m := c.matcher(len(src))
	for start := 0; start < len(src); start += lznt1ChunkSize {
		end := min(start+lznt1ChunkSize, len(src))
		hdr := len(dst)
		dst = append(dst, 0, 0)
		var ok bool
		dst, ok = lznt1CompressChunk(dst, src, start, end, m)
		if ok {
			binary.LittleEndian.PutUint16(dst[hdr:], uint16(lznt1Compressed|lznt1Signature|(len(dst)-hdr-2-1)))
			continue
		}
		dst = append(dst[:hdr+2], src[start:end]...)
		binary.LittleEndian.PutUint16(dst[hdr:], uint16(lznt1Signature|(end-start-1)))
	}
	m.finish(len(src))
	return dst
}

// lznt1CompressChunk appends the compressed data of src[start:end] to dst.
// It reports false (and its output is to be discarded) when the data would
// not be smaller than the raw chunk.
func lznt1CompressChunk(dst, src []byte, start, end int, m *matcher) ([]byte, bool) {
	budget := len(dst) + (end - start) // compressed data must stay below this
	flagPos := len(dst)
	dst = append(dst, 0)
	var flags byte
	nflags := uint(0)
	pos := start
	next := start // first position not yet indexed
	hashEnd := len(src) - 4
	for pos < end {
		p := pos - start
		length, dist := 0, 0
		if pos <= hashEnd {
			lb := lznt1Split(max(p, 1))
			maxLen := min(1<<lb-1+3, end-pos)
			length, dist = m.find(src, pos, start, p, maxLen, defaultDepth)
			next = pos + 1
		}
		if length == 0 {
			dst = append(dst, src[pos])
			pos++
		} else {
			lb := lznt1Split(p)
			dst = binary.LittleEndian.AppendUint16(dst, uint16((dist-1)<<lb|(length-3)))
			flags |= 1 << nflags
			pos += length
			next = m.insertRange(src, next, min(pos, hashEnd+1))
		}
		nflags++
		if len(dst) >= budget {
			return dst, false
		}
		if nflags == 8 {
			dst[flagPos] = flags
			flags, nflags = 0, 0
			if pos < end {
				flagPos = len(dst)
				dst = append(dst, 0)
			}
		}
	}
	if nflags > 0 {
		dst[flagPos] = flags
	}
	return dst, len(dst) < budget
}
