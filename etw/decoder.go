package etw

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/etwkit/etwkit/internal/utf16le"
)

// Limits applied to length fields read from untrusted input.
const (
	// MaxBufferSize is the largest buffer accepted (16 MiB since Windows 8).
	MaxBufferSize = 16 << 20
	// MaxStringBytes caps the bytes scanned for one NUL-terminated string.
	MaxStringBytes = 64 << 10
	// maxEmptyValues caps the values of one event that read no payload
	// bytes (a string at the end of the payload, a zero-length binary):
	// with array counts read from a schema they would otherwise cost
	// memory the payload does not hold.
	maxEmptyValues = 4096
)

// decoder is a little-endian cursor over a payload with a sticky error: the
// first read past the end records the field and offset, and every later
// read returns zero. Parsers read straight through and check err once.
type decoder struct {
	b      []byte
	off    int
	ptrSz  int
	failed bool
	fail   decodeFail
	empty  int // values that read no bytes, see countEmpty
}

type decodeFail struct {
	field string
	off   int
	err   error // ErrShortPayload when nil
}

func newDecoder(b []byte, ptr int) *decoder {
	return &decoder{b: b, ptrSz: ptr}
}

func (d *decoder) init(b []byte, ptr int) {
	*d = decoder{b: b, ptrSz: ptr}
}

// need reports whether n more bytes are available, recording a failure for
// field otherwise.
func (d *decoder) need(n int, field string) bool {
	if d.failed {
		return false
	}
	if n < 0 || d.off+n > len(d.b) || d.off+n < d.off {
		d.fail = decodeFail{field: field, off: d.off}
		d.failed = true
		return false
	}
	return true
}

// err returns a DecodeError naming the first failed field, or nil.
func (d *decoder) err(event string) error {
	if !d.failed {
		return nil
	}
	cause := d.fail.err
	if cause == nil {
		cause = ErrShortPayload
	}
	return &DecodeError{Event: event, Field: d.fail.field, Offset: d.fail.off, Len: len(d.b), Err: cause}
}

// countEmpty notes a value of field read from offset before: past
// maxEmptyValues values that read no bytes, the decoder fails with
// ErrCorrupt. It reports whether decoding may go on.
func (d *decoder) countEmpty(before int, field string) bool {
	if d.failed || d.off != before {
		return !d.failed
	}
	d.empty++
	if d.empty > maxEmptyValues {
		d.fail = decodeFail{field: field, off: d.off, err: fmt.Errorf("%w: more than %d empty values", ErrCorrupt, maxEmptyValues)}
		d.failed = true
		return false
	}
	return true
}

func (d *decoder) ok() bool { return !d.failed }

func (d *decoder) remaining() int {
	if d.failed || d.off > len(d.b) {
		return 0
	}
	return len(d.b) - d.off
}

func (d *decoder) u8f(field string) uint8 {
	if !d.need(1, field) {
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) u16f(field string) uint16 {
	if !d.need(2, field) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *decoder) u32f(field string) uint32 {
	if !d.need(4, field) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) u64f(field string) uint64 {
	if !d.need(8, field) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// ptrf reads a pointer-sized value (4 or 8 bytes) zero-extended to 64 bits.
func (d *decoder) ptrf(field string) uint64 {
	if d.ptrSz == 4 {
		return uint64(d.u32f(field))
	}
	return d.u64f(field)
}

func (d *decoder) guidf(field string) GUID {
	if !d.need(16, field) {
		return GUID{}
	}
	g := GUIDFromBytes(d.b[d.off:])
	d.off += 16
	return g
}

func (d *decoder) bytesf(n int, field string) []byte {
	if !d.need(n, field) {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *decoder) skipf(n int, field string) {
	if d.need(n, field) {
		d.off += n
	}
}

// utf16zf reads a NUL-terminated UTF-16LE string. A string that runs to the
// end of the payload without a terminator is accepted (newer or truncated
// writers omit it); reading at the very end yields "".
func (d *decoder) utf16zf(field string) string {
	if d.failed {
		return ""
	}
	rest := d.b[d.off:]
	if len(rest) > MaxStringBytes {
		rest = rest[:MaxStringBytes]
	}
	n, terminated := utf16le.Text(rest)
	s := utf16le.String(rest[:n])
	if terminated {
		d.off += n + 2
	} else {
		d.off += len(rest)
	}
	return s
}

// ansizf reads a NUL-terminated 8-bit string (bytes >= 0x80 are taken as
// Latin-1).
func (d *decoder) ansizf(field string) string {
	if d.failed {
		return ""
	}
	rest := d.b[d.off:]
	if len(rest) > MaxStringBytes {
		rest = rest[:MaxStringBytes]
	}
	n := 0
	for n < len(rest) && rest[n] != 0 {
		n++
	}
	s := latin1(rest[:n])
	if n < len(rest) {
		d.off += n + 1
	} else {
		d.off += n
	}
	return s
}

// Field-less shorthands used by the logfile header parser.
func (d *decoder) u8() uint8      { return d.u8f("?") }
func (d *decoder) u32() uint32    { return d.u32f("?") }
func (d *decoder) u64() uint64    { return d.u64f("?") }
func (d *decoder) ptr() uint64    { return d.ptrf("?") }
func (d *decoder) skip(n int)     { d.skipf(n, "?") }
func (d *decoder) utf16z() string { return d.utf16zf("?") }
func (d *decoder) fixedUTF16(n int) string {
	b := d.bytesf(2*n, "?")
	return decodeFixedUTF16(b)
}

func (d *decoder) systemTime() SystemTime {
	var t SystemTime
	t.Year = d.u16f("?")
	t.Month = d.u16f("?")
	t.DayOfWeek = d.u16f("?")
	t.Day = d.u16f("?")
	t.Hour = d.u16f("?")
	t.Minute = d.u16f("?")
	t.Second = d.u16f("?")
	t.Milliseconds = d.u16f("?")
	return t
}

func latin1(b []byte) string {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return string(r)
		}
	}
	return string(b)
}
