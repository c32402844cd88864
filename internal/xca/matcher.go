package xca

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// Match finder shared by the three compressors: a hash of the next 4 bytes
// indexes the most recent position with that hash (head) and every position
// links to the previous one with the same hash (prev), forming bounded hash
// chains. Positions are stored as base+pos so the tables need no clearing
// between calls: an entry below base belongs to an earlier call and ends the
// chain.
const (
	hashBits   = 15
	hashSize   = 1 << hashBits
	chainBits  = 16 // covers the largest window (LZ77+Huffman: 65535)
	chainSize  = 1 << chainBits
	chainMask  = chainSize - 1
	minMatch   = 3
	maxTracked = 1<<31 - chainSize // positions at or past this are not indexed
)

// Tuning, chosen on the corpus' ETL buffers: how many chain links one
// search may follow, the length at which a search stops early because the
// match is long enough, the length below which the next position is also
// tried (one step of lazy matching), and how many positions of a long match
// are indexed (half at each end).
const (
	defaultDepth = 8
	niceLen      = 64
	lazyLen      = 32
	insertLimit  = 64
	// After 1<<skipShift positions without a match, compressors search
	// every second position, then every third, and so on, until a match
	// is found: incompressible data then costs little time.
	skipShift = 5
)

type matcher struct {
	head [hashSize]uint32
	prev [chainSize]uint32
	base uint32 // position 0 of the current input is stored as base
}

// reset prepares the tables for an input of n bytes.
func (m *matcher) reset(n int) {
	next := uint64(m.base) + chainSize + 1
	if m.base == 0 || next+uint64(n) >= 1<<32-1 || n >= maxTracked {
		clear(m.head[:])
		clear(m.prev[:])
		m.base = 1
		return
	}
	m.base = uint32(next)
}

// finish records that the current input had n bytes, so the next reset
// places its positions above every stored one.
func (m *matcher) finish(n int) {
	if n > maxTracked {
		n = maxTracked
	}
	m.base += uint32(n)
}

func hash4(u uint32) uint32 { return (u * 2654435761) >> (32 - hashBits) }

// insert indexes position pos (which needs 4 readable bytes).
func (m *matcher) insert(src []byte, pos int) {
	if pos >= maxTracked {
		return
	}
	h := hash4(binary.LittleEndian.Uint32(src[pos:]))
	v := m.base + uint32(pos)
	m.prev[v&chainMask] = m.head[h]
	m.head[h] = v
}

// insertRange indexes positions [from, to) (each needing 4 readable bytes)
// and returns to. Inside a long match only the positions near its ends
// are indexed: the middle rarely starts a better match and indexing it
// costs time.
func (m *matcher) insertRange(src []byte, from, to int) int {
	if to-from > insertLimit {
		for p := from; p < from+insertLimit/2; p++ {
			m.insert(src, p)
		}
		from = to - insertLimit/2
	}
	for p := from; p < to; p++ {
		m.insert(src, p)
	}
	return max(from, to)
}

// find indexes pos and returns the longest earlier match for src[pos:] that
// starts at or after minPos, lies at most maxDist back and is at most maxLen
// long (0 if none of at least minMatch bytes). src[pos:] must hold 4 bytes.
func (m *matcher) find(src []byte, pos, minPos, maxDist, maxLen, depth int) (length, dist int) {
	if pos >= maxTracked {
		return 0, 0
	}
	cur := binary.LittleEndian.Uint32(src[pos:])
	h := hash4(cur)
	v := m.base + uint32(pos)
	cand := m.head[h]
	m.prev[v&chainMask] = cand
	m.head[h] = v
	if maxLen < minMatch {
		return 0, 0
	}
	best := minMatch - 1
	for ; depth > 0 && cand >= m.base && cand < v; depth-- {
		cp := int(cand - m.base)
		d := pos - cp
		if d > maxDist || cp < minPos {
			break
		}
		// Cheap rejections first: the byte that would extend the best
		// match, then the first four bytes.
		if src[cp+best] == src[pos+best] && binary.LittleEndian.Uint32(src[cp:]) == cur {
			l := matchLen(src, cp, pos, maxLen)
			if l > best {
				best, dist = l, d
				if l >= maxLen || l >= niceLen {
					break
				}
			}
		}
		next := m.prev[cand&chainMask]
		if next >= cand {
			break
		}
		cand = next
	}
	if dist == 0 {
		return 0, 0
	}
	return best, dist
}

// matchLen counts equal bytes of src[a:] and src[b:] (a < b), at most
// min(maxLen, len(src)-b). The caller has checked the first 4 bytes
// (which requires maxLen >= 4 or fewer readable bytes, both handled).
func matchLen(src []byte, a, b, maxLen int) int {
	limit := len(src) - b
	if maxLen < limit {
		limit = maxLen
	}
	n := 0
	for n+8 <= limit {
		x := binary.LittleEndian.Uint64(src[a+n:]) ^ binary.LittleEndian.Uint64(src[b+n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < limit && src[a+n] == src[b+n] {
		n++
	}
	return n
}

// Compressor holds the match-finder tables (about 390 KiB) and scratch
// space of the three compressors so they can be reused without
// allocating. The zero value is ready to use. A Compressor must not be
// used by more than one goroutine at a time; the package-level
// AppendCompress functions draw Compressors from a pool.
type Compressor struct {
	m   *matcher
	huf *huffScratch
}

func (c *Compressor) matcher(n int) *matcher {
	if c.m == nil {
		c.m = new(matcher)
	}
	c.m.reset(n)
	return c.m
}

var compressorPool = sync.Pool{New: func() any { return new(Compressor) }}
