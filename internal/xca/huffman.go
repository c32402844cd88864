package xca

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// LZ77+Huffman layout ([MS-XCA] §2.1, §2.2). The output is produced in
// blocks of 65536 bytes (a match may run past a block's end; the next block
// then starts where it stopped). Each block starts with 256 bytes holding
// the 4-bit code lengths of 512 symbols (low nibble: even symbol), followed
// by a bit stream read MSB first from 16-bit little-endian words. Extra
// match-length bytes are read from the byte position after the words
// loaded so far. Symbols 0-255 are literals; symbol 256+s is a match whose
// length code is s&15 and whose distance has s>>4 bits below its leading 1.
// Symbol 256 at the end of the input is the end-of-stream mark.
const (
	hufBlockSize  = 65536
	hufSymbols    = 512
	hufTableBytes = hufSymbols / 2
	hufMaxBits    = 15
	hufMaxDist    = 1<<16 - 1
	hufEOF        = 256
)

// hufDecodeTable maps the next 15 bits of input to symbol<<4 | code length.
type hufDecodeTable [1 << hufMaxBits]uint16

// build fills t from a block's 256-byte length table. It reports false if
// the lengths do not form a complete prefix code, which MS-XCA requires.
func (t *hufDecodeTable) build(lens []byte) bool {
	var count [hufMaxBits + 1]int
	for _, b := range lens {
		count[b&15]++
		count[b>>4]++
	}
	total := 0
	for l := 1; l <= hufMaxBits; l++ {
		total += count[l] << (hufMaxBits - l)
	}
	if total != len(t) {
		return false
	}
	// Canonical order: by length, then by symbol.
	var start [hufMaxBits + 1]int
	next := 0
	for l := 1; l <= hufMaxBits; l++ {
		start[l] = next
		next += count[l] << (hufMaxBits - l)
	}
	for i, b := range lens {
		for k, l := range [2]int{int(b & 15), int(b >> 4)} {
			if l == 0 {
				continue
			}
			sym := 2*i + k
			e := uint16(sym<<4 | l)
			s := t[start[l] : start[l]+1<<(hufMaxBits-l)]
			for j := range s {
				s[j] = e
			}
			start[l] += len(s)
		}
	}
	return true
}

// DecompressHuffman writes the decompressed form of src, an LZ77+Huffman
// XPRESS stream ([MS-XCA] §2.2), into dst and returns the number of bytes
// written. len(dst) is the maximum output; exceeding it gives an error
// wrapping ErrOutputTooLarge. Malformed input gives an error wrapping
// ErrCorrupt that names the input offset.
//
// MS-XCA ends a stream with symbol 256 once all input has been read and
// the expected size has been written; because that symbol is also a valid
// match (length 3, distance 1), the decoder takes it as the end when the
// input is exhausted and either dst is full or only zero padding bits
// remain. Decoding also ends when fewer bytes than a block's table remain
// at a block boundary and either none remain or dst is full. Callers that
// know the expected size should pass a dst of exactly that size.
func DecompressHuffman(dst, src []byte) (int, error) {
	const f = FormatXpressHuffman
	var table hufDecodeTable
	in, out := 0, 0
	for {
		if len(src)-in < hufTableBytes+4 {
			if in == len(src) || out == len(dst) {
				return out, nil
			}
			return out, corrupt(f, in, "truncated block header")
		}
		if !table.build(src[in : in+hufTableBytes]) {
			return out, corrupt(f, in, "code lengths do not form a complete prefix code")
		}
		in += hufTableBytes
		bitsv := uint32(binary.LittleEndian.Uint16(src[in:]))<<16 | uint32(binary.LittleEndian.Uint16(src[in+2:]))
		in += 4
		extra := 16 // loaded bits beyond the 16 that bitsv always holds
		blockEnd := out + hufBlockSize
		for out < blockEnd {
			e := table[bitsv>>(32-hufMaxBits)]
			l := int(e & 15)
			sym := int(e >> 4)
			bitsv <<= uint(l)
			extra -= l
			if extra < 0 {
				if len(src)-in < 2 {
					return out, corrupt(f, in, "truncated bit stream")
				}
				bitsv |= uint32(binary.LittleEndian.Uint16(src[in:])) << uint(-extra)
				in += 2
				extra += 16
			}
			if sym < 256 {
				if out >= len(dst) {
					return out, tooLarge(f, in, out, len(dst))
				}
				dst[out] = byte(sym)
				out++
				continue
			}
			if sym == hufEOF && in >= len(src) && (out == len(dst) || bitsv == 0) {
				return out, nil
			}
			at := in
			sym -= 256
			length := sym & 15
			dbits := uint(sym >> 4)
			if length == 15 {
				if in >= len(src) {
					return out, corrupt(f, in, "truncated match length byte")
				}
				length = int(src[in])
				in++
				if length == 255 {
					if len(src)-in < 2 {
						return out, corrupt(f, in, "truncated 16-bit match length")
					}
					length = int(binary.LittleEndian.Uint16(src[in:]))
					in += 2
					if length < 15 {
						return out, corrupt(f, at, "match length below its encoding's minimum")
					}
					length -= 15
				}
				length += 15
			}
			length += 3
			// dbits <= 15, so one refill suffices.
			dist := int(bitsv>>1>>(31-dbits)) | 1<<dbits
			bitsv <<= dbits
			extra -= int(dbits)
			if extra < 0 {
				if len(src)-in < 2 {
					return out, corrupt(f, in, "truncated bit stream")
				}
				bitsv |= uint32(binary.LittleEndian.Uint16(src[in:])) << uint(-extra)
				in += 2
				extra += 16
			}
			if dist > out {
				return out, corrupt(f, at, "match distance before start of output")
			}
			if length > len(dst)-out {
				return out, tooLarge(f, at, out, len(dst))
			}
			copyMatch(dst, out, dist, length)
			out += length
		}
	}
}

// AppendCompressHuffman appends the LZ77+Huffman XPRESS ([MS-XCA] §2.1)
// compressed form of src to dst and returns the extended slice.
func AppendCompressHuffman(dst, src []byte) []byte {
	c := compressorPool.Get().(*Compressor)
	dst = c.AppendHuffman(dst, src)
	compressorPool.Put(c)
	return dst
}

// huffScratch is the reusable state of the Huffman compressor.
type huffScratch struct {
	items []uint32 // literal: byte value; match: dist<<16 | (length-3)
	freq  [hufSymbols]uint32
	lens  [hufSymbols]uint8
	codes [hufSymbols]uint16
	// tree building
	order  []uint16
	weight []uint64
	parent []int16
	depth  []uint16
}

// hufMatchSymbol returns the symbol of a match of length length3+3 at
// distance dist.
func hufMatchSymbol(length3, dist int) int {
	return 256 | (bits.Len(uint(dist))-1)<<4 | min(length3, 15)
}

// AppendHuffman is AppendCompressHuffman using c's tables.
func (c *Compressor) AppendHuffman(dst, src []byte) []byte {
	if c.huf == nil {
		c.huf = new(huffScratch)
	}
	h := c.huf
	m := c.matcher(len(src))
	next := 0   // first position not yet indexed
	misses := 0 // positions searched in vain since the last match
	hashEnd := len(src) - 4
	for start := 0; ; start += hufBlockSize {
		end := min(start+hufBlockSize, len(src))
		last := end == len(src)
		// LZ77 pass over the block; matches stop at the block's end.
		h.items = h.items[:0]
		clear(h.freq[:])
		pos := start
		for pos < end {
			length, dist := 0, 0
			if pos <= hashEnd {
				maxLen := end - pos
				length, dist = m.find(src, pos, 0, hufMaxDist, maxLen, defaultDepth)
				next = pos + 1
				if length > 0 && length < lazyLen && pos+1 <= hashEnd && pos+1 < end {
					l2, d2 := m.find(src, pos+1, 0, hufMaxDist, maxLen-1, defaultDepth)
					next = pos + 2
					if l2 > length+1 {
						h.items = append(h.items, uint32(src[pos]))
						h.freq[src[pos]]++
						pos++
						length, dist = l2, d2
					}
				}
			}
			// A length-3 distance-1 match would share symbol 256 with the
			// end mark; such a match is never found (matches start at 4
			// bytes), but guard anyway.
			if length == 0 || (length == 3 && dist == 1) {
				// In incompressible stretches look at fewer positions.
				stop := min(pos+1+misses>>skipShift, end)
				misses++
				for ; pos < stop; pos++ {
					h.items = append(h.items, uint32(src[pos]))
					h.freq[src[pos]]++
				}
				continue
			}
			misses = 0
			h.items = append(h.items, uint32(dist)<<16|uint32(length-3))
			h.freq[hufMatchSymbol(length-3, dist)]++
			pos += length
			next = m.insertRange(src, next, min(pos, hashEnd+1))
		}
		// The end mark follows the last item unless the last block is
		// full: the decoder then ends the block by size and finds no
		// further block ([MS-XCA] §2.2.4 end-of-input check).
		eof := last && end-start < hufBlockSize
		if eof {
			h.freq[hufEOF]++
		}
		h.buildLengths()
		dst = h.writeBlock(dst, eof)
		if last {
			break
		}
	}
	m.finish(len(src))
	return dst
}

// writeBlock appends one block: the length table and the encoded items
// (followed by the end mark if last).
func (h *huffScratch) writeBlock(dst []byte, last bool) []byte {
	for i := 0; i < hufSymbols; i += 2 {
		dst = append(dst, h.lens[i]|h.lens[i+1]<<4)
	}
	// Canonical codes, as the decoder's table assigns them.
	var count [hufMaxBits + 1]int
	for _, l := range h.lens {
		count[l]++
	}
	var code [hufMaxBits + 1]int
	next := 0
	for l := 1; l <= hufMaxBits; l++ {
		code[l] = next >> (hufMaxBits - l)
		next += count[l] << (hufMaxBits - l)
	}
	for s, l := range h.lens {
		if l != 0 {
			h.codes[s] = uint16(code[l])
			code[l]++
		}
	}
	w := hufWriter{out: dst}
	w.start()
	for _, it := range h.items {
		if it < 256 {
			w.bits(uint32(h.codes[it]), uint(h.lens[it]))
			continue
		}
		length3 := int(it & 0xFFFF)
		dist := int(it >> 16)
		sym := hufMatchSymbol(length3, dist)
		w.bits(uint32(h.codes[sym]), uint(h.lens[sym]))
		if length3 >= 15 {
			if length3-15 < 255 {
				w.out = append(w.out, byte(length3-15))
			} else {
				w.out = append(w.out, 255)
				w.out = binary.LittleEndian.AppendUint16(w.out, uint16(length3))
			}
		}
		db := uint(bits.Len(uint(dist)) - 1)
		w.bits(uint32(dist)&(1<<db-1), db)
	}
	if last {
		w.bits(uint32(h.codes[hufEOF]), uint(h.lens[hufEOF]))
	}
	return w.finish()
}

// hufWriter writes the bit stream the way the decoder reads it: the decoder
// loads a 16-bit word only when it runs short of bits, and extra length
// bytes sit after the words loaded so far, so two word slots are reserved
// ahead and a slot is filled only once a bit past it is written.
type hufWriter struct {
	out         []byte
	acc         uint32 // pending bits, the last written in bit 0
	n           uint   // number of pending bits (at most 16 between calls)
	slot, slot2 int
}

func (w *hufWriter) start() {
	w.slot = len(w.out)
	w.slot2 = w.slot + 2
	w.out = append(w.out, 0, 0, 0, 0)
}

func (w *hufWriter) bits(v uint32, n uint) {
	w.acc = w.acc<<n | v
	w.n += n
	if w.n > 16 {
		w.n -= 16
		binary.LittleEndian.PutUint16(w.out[w.slot:], uint16(w.acc>>w.n))
		w.acc &= 1<<w.n - 1
		w.slot = w.slot2
		w.slot2 = len(w.out)
		w.out = append(w.out, 0, 0)
	}
}

func (w *hufWriter) finish() []byte {
	binary.LittleEndian.PutUint16(w.out[w.slot:], uint16(w.acc<<(16-w.n)))
	return w.out
}

// buildLengths sets lens to Huffman code lengths for freq, limited to 15
// bits and forming a complete code (MS-XCA rejects incomplete ones).
func (h *huffScratch) buildLengths() {
	clear(h.lens[:])
	h.order = h.order[:0]
	for s, f := range h.freq {
		if f != 0 {
			h.order = append(h.order, uint16(s))
		}
	}
	switch len(h.order) {
	case 0:
		h.lens[0], h.lens[1] = 1, 1
		return
	case 1:
		s := int(h.order[0])
		h.lens[s] = 1
		h.lens[s^1] = 1 // any other symbol completes the code
		return
	}
	// Leaves in ascending weight; internal nodes are created in ascending
	// weight too, so two queues give the tree without a heap.
	slices.SortFunc(h.order, func(a, b uint16) int {
		fa, fb := h.freq[a], h.freq[b]
		if fa != fb {
			if fa < fb {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	n := len(h.order)
	nodes := 2*n - 1
	h.weight = slices.Grow(h.weight[:0], nodes)[:nodes]
	h.parent = slices.Grow(h.parent[:0], nodes)[:nodes]
	h.depth = slices.Grow(h.depth[:0], nodes)[:nodes]
	for i, s := range h.order {
		h.weight[i] = uint64(h.freq[s])
	}
	leaf, inner := 0, n
	pick := func(k int) int {
		if leaf < n && (inner >= k || h.weight[leaf] <= h.weight[inner]) {
			leaf++
			return leaf - 1
		}
		inner++
		return inner - 1
	}
	for k := n; k < nodes; k++ {
		a := pick(k)
		b := pick(k)
		h.weight[k] = h.weight[a] + h.weight[b]
		h.parent[a] = int16(k)
		h.parent[b] = int16(k)
	}
	h.depth[nodes-1] = 0
	maxDepth := 0
	for k := nodes - 2; k >= 0; k-- {
		d := h.depth[h.parent[k]] + 1
		h.depth[k] = d
		if k < n && int(d) > maxDepth {
			maxDepth = int(d)
		}
	}
	for i, s := range h.order {
		h.lens[s] = uint8(min(h.depth[i], hufMaxBits+1))
	}
	if maxDepth > hufMaxBits {
		h.limitLengths()
	}
}

// limitLengths clamps code lengths to 15 bits and restores a complete code:
// it lengthens the rarest codes that can still grow until the Kraft sum fits,
// then shortens the most frequent long codes while there is room.
func (h *huffScratch) limitLengths() {
	const full = 1 << hufMaxBits
	kraft := 0
	for _, s := range h.order {
		if h.lens[s] > hufMaxBits {
			h.lens[s] = hufMaxBits
		}
		kraft += full >> h.lens[s]
	}
	// order is by ascending frequency.
	for kraft > full {
		// Lengthen the least frequent symbol among the longest codes that
		// are still below the limit (the smallest possible reduction).
		best := -1
		for i, s := range h.order {
			l := h.lens[s]
			if l < hufMaxBits && (best < 0 || l > h.lens[h.order[best]]) {
				best = i
			}
		}
		s := h.order[best]
		kraft -= full >> (h.lens[s] + 1)
		h.lens[s]++
	}
	for kraft < full {
		// Shorten the most frequent symbol among the longest codes whose
		// shortening still fits.
		best := -1
		for i := len(h.order) - 1; i >= 0; i-- {
			s := h.order[i]
			l := h.lens[s]
			if l > 1 && full>>(l-1)-full>>l <= full-kraft && (best < 0 || l > h.lens[h.order[best]]) {
				best = i
			}
		}
		s := h.order[best]
		kraft += full>>(h.lens[s]-1) - full>>h.lens[s]
		h.lens[s]--
	}
}
