package pdb

import (
	"bytes"
	"encoding/binary"
)

// cursor decodes little-endian fields from a stream held in memory. The
// first out-of-bounds read records an error naming the stream and offset;
// later reads return zero values, so parsers check c.err once per record.
type cursor struct {
	b      []byte
	off    int
	stream int
	base   int64 // stream offset of b[0]
	err    error
}

func newCursor(b []byte, stream int, base int64) *cursor {
	return &cursor{b: b, stream: stream, base: base}
}

func (c *cursor) fail(err error, format string, args ...any) {
	if c.err == nil {
		c.err = streamErr(c.stream, c.base+int64(c.off), err, format, args...)
	}
	c.off = len(c.b)
}

func (c *cursor) need(n int, what string) bool {
	if c.err != nil {
		return false
	}
	if n < 0 || n > len(c.b)-c.off {
		c.fail(ErrTruncated, "%s (%d bytes) runs past end of data (%d bytes left)", what, n, len(c.b)-c.off)
		return false
	}
	return true
}

func (c *cursor) remaining() int { return len(c.b) - c.off }

func (c *cursor) u16(what string) uint16 {
	if !c.need(2, what) {
		return 0
	}
	v := binary.LittleEndian.Uint16(c.b[c.off:])
	c.off += 2
	return v
}

func (c *cursor) u32(what string) uint32 {
	if !c.need(4, what) {
		return 0
	}
	v := binary.LittleEndian.Uint32(c.b[c.off:])
	c.off += 4
	return v
}

func (c *cursor) bytes(n int, what string) []byte {
	if !c.need(n, what) {
		return nil
	}
	v := c.b[c.off : c.off+n]
	c.off += n
	return v
}

// cstring returns the NUL-terminated string at the cursor (without the
// NUL), at most maxLen bytes long.
func (c *cursor) cstring(maxLen int, what string) []byte {
	if c.err != nil {
		return nil
	}
	rest := c.b[c.off:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		c.fail(ErrTruncated, "%s is not NUL-terminated", what)
		return nil
	}
	if i > maxLen {
		c.fail(ErrCorrupt, "%s of %d bytes exceeds limit %d", what, i, maxLen)
		return nil
	}
	c.off += i + 1
	return rest[:i]
}

// align advances the cursor to a multiple of n (relative to b[0]).
func (c *cursor) align(n int) {
	if c.err != nil {
		return
	}
	if r := c.off % n; r != 0 {
		c.off += n - r
		if c.off > len(c.b) {
			c.off = len(c.b)
		}
	}
}
