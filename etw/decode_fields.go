package etw

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Field is one decoded payload field, as produced by [DecodeFields].
type Field struct {
	// Name is the MOF property name.
	Name string
	// Type is the wire type; it says which of the value fields is set.
	Type FieldType
	// Format says how the value is meant to be shown.
	Format FieldFormat
	// Uint holds unsigned integers and pointers; Int signed integers.
	Uint uint64
	Int  int64
	// Str holds strings, and a SID in its "S-1-5-18" form ("" when the
	// event carries none).
	Str string
	// GUID holds GUID fields.
	GUID GUID
	// Array holds the values of a TypePtrArray field.
	Array []uint64
	// Bytes holds a TypeBytes field; it aliases the event's payload.
	Bytes []byte
}

// Value returns the field's value as uint64, int64, string, GUID, []uint64
// or []byte according to its type.
func (f Field) Value() any {
	if v, ok := f.extValue(); ok {
		return v
	}
	switch f.Type {
	case TypeI8, TypeI32, TypeI64:
		return f.Int
	case TypeGUID:
		return f.GUID
	case TypeSID, TypeANSIZ, TypeUTF16Z:
		return f.Str
	case TypePtrArray:
		return f.Array
	case TypeBytes:
		return f.Bytes
	}
	return f.Uint
}

// String renders the value the way etwdump prints it: hex for addresses and
// sizes, the four characters of pool tags, decimal otherwise.
func (f Field) String() string {
	if s, ok := f.extString(); ok {
		return s
	}
	switch f.Type {
	case TypeI8, TypeI32, TypeI64:
		return strconv.FormatInt(f.Int, 10)
	case TypeGUID:
		return f.GUID.String()
	case TypeSID, TypeANSIZ, TypeUTF16Z:
		return f.Str
	case TypePtrArray:
		return fmt.Sprintf("%#x", f.Array)
	case TypeBytes:
		return fmt.Sprintf("%x", f.Bytes)
	}
	switch f.Format {
	case FormatHex:
		return "0x" + strconv.FormatUint(f.Uint, 16)
	case FormatPoolTag:
		return PoolTag(f.Uint).String()
	}
	return strconv.FormatUint(f.Uint, 10)
}

// DecodeFields decodes the payload of ev with its layout from the table and
// returns its fields in payload order. Events whose class is known but whose
// payload layout is not (PoolTrace snapshots, for example) yield one TypeBytes
// field named "Data" holding the raw payload. Events of other classes yield
// an error wrapping [ErrUnknownEvent]; a payload that ends inside a field
// yields a [*DecodeError] naming that field. Bytes after the last field
// (newer versions) are ignored.
func DecodeFields(ev *Event) ([]Field, error) {
	c, op, l := lookupLayout(ev)
	if c == nil || c.names[op] == "" {
		return nil, fmt.Errorf("%w: %s", ErrUnknownEvent, eventDesc(ev))
	}
	if l == nil || l.raw {
		return []Field{{Name: "Data", Type: TypeBytes, Bytes: ev.Payload}}, nil
	}
	ptrSize := ev.PointerSize()
	if ptrSize == 0 {
		return nil, errNoPointerSize(ev)
	}
	var d decoder
	d.init(ev.Payload, ptrSize)
	out := make([]Field, 0, len(l.fields))
	for i := range l.fields {
		s := &l.fields[i]
		if s.Optional && d.remaining() == 0 {
			break
		}
		f := Field{Name: s.Name, Type: s.Type, Format: s.Format}
		switch s.Type {
		case TypePtrArray:
			fl := d.framesf()
			f.Array = fl.AppendFrames(make([]uint64, 0, fl.Len()))
		case TypeSkip:
			d.skipf(s.Size, s.Name)
			continue
		default:
			d.scalar(s.Type, s.Name, &f)
		}
		if !d.ok() {
			break
		}
		out = append(out, f)
	}
	if err := d.err(eventDesc(ev)); err != nil {
		return nil, err
	}
	return out, nil
}

// layoutError walks layout l over payload p like DecodeFields and returns
// the error naming the first field that runs past the payload, or nil. The
// allocation-free decoders call it only once they know the payload is short.
func layoutError(ev *Event, l *layout) error {
	var d decoder
	d.init(ev.Payload, ev.PointerSize())
	for i := range l.fields {
		s := &l.fields[i]
		if s.Optional && d.remaining() == 0 {
			break
		}
		d.skipField(s)
		if !d.ok() {
			break
		}
	}
	return d.err(eventDesc(ev))
}

// skipField advances over one field of the layout.
func (d *decoder) skipField(s *FieldSpec) {
	switch s.Type {
	case TypeU8, TypeI8:
		d.skipf(1, s.Name)
	case TypeU16:
		d.skipf(2, s.Name)
	case TypeU32, TypeI32:
		d.skipf(4, s.Name)
	case TypeU64, TypeI64:
		d.skipf(8, s.Name)
	case TypePtr:
		d.skipf(d.ptrSz, s.Name)
	case TypeGUID:
		d.skipf(16, s.Name)
	case TypeSID:
		d.sidf(s.Name)
	case TypeANSIZ:
		d.skipANSIZ()
	case TypeUTF16Z:
		d.skipUTF16Z()
	case TypePtrArray, TypeBytes:
		d.skipf(d.remaining(), s.Name)
	case TypeSkip:
		d.skipf(s.Size, s.Name)
	}
}

func (d *decoder) skipANSIZ() {
	if d.failed {
		return
	}
	for d.off < len(d.b) {
		c := d.b[d.off]
		d.off++
		if c == 0 {
			return
		}
	}
}

func (d *decoder) skipUTF16Z() {
	if d.failed {
		return
	}
	for d.off+1 < len(d.b) {
		z := d.b[d.off] == 0 && d.b[d.off+1] == 0
		d.off += 2
		if z {
			return
		}
	}
	d.off = len(d.b)
}

// framesf returns the rest of the payload as pointer-sized frames. Trailing
// bytes that do not fill a frame are ignored.
func (d *decoder) framesf() frameList {
	if d.failed || d.off > len(d.b) {
		return frameList{}
	}
	b := d.b[d.off:]
	n := len(b) / d.ptrSz
	d.off = len(d.b)
	return frameList{b: b[: n*d.ptrSz : n*d.ptrSz], size: d.ptrSz}
}

// maxSubAuthorities is SID_MAX_SUB_AUTHORITIES.
const maxSubAuthorities = 15

// sidf reads a MOF extension("Sid") field and returns the SID bytes, or nil
// when the event has none. The field is either 4 zero bytes (no SID) or a
// TOKEN_USER (two pointer-sized words) followed by the SID. A TOKEN_USER
// whose SID pointer is 0 also occurs (test writers such as sawbuck's); it is
// told apart from the 4-byte form by the SID revision byte and zero padding
// that must follow it.
func (d *decoder) sidf(field string) []byte {
	if !d.need(4, field) {
		return nil
	}
	tu := 2 * d.ptrSz
	b := d.b[d.off:]
	if binary.LittleEndian.Uint32(b) == 0 && !zeroTokenUser(b, tu) {
		d.off += 4
		return nil
	}
	if !d.need(tu+8, field) {
		return nil
	}
	n := int(b[tu+1])
	if !d.need(tu+8+4*n, field) {
		return nil
	}
	s := b[tu : tu+8+4*n : tu+8+4*n]
	d.off += tu + 8 + 4*n
	return s
}

// zeroTokenUser reports whether b starts with an all-zero TOKEN_USER of tu
// bytes followed by a well-formed SID header.
func zeroTokenUser(b []byte, tu int) bool {
	if len(b) < tu+8 {
		return false
	}
	for _, c := range b[:tu] {
		if c != 0 {
			return false
		}
	}
	return b[tu] == 1 && b[tu+1] <= maxSubAuthorities && b[tu+2] == 0 && b[tu+3] == 0
}

// FormatSID renders a binary SID in its string form ("S-1-5-21-..."). It
// returns "" for an empty or malformed SID.
func FormatSID(s []byte) string {
	if len(s) < 8 {
		return ""
	}
	n := int(s[1])
	if len(s) < 8+4*n {
		return ""
	}
	var auth uint64
	for _, c := range s[2:8] {
		auth = auth<<8 | uint64(c)
	}
	b := make([]byte, 0, 16+11*n)
	b = append(b, "S-"...)
	b = strconv.AppendUint(b, uint64(s[0]), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, auth, 10)
	for i := range n {
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(binary.LittleEndian.Uint32(s[8+4*i:])), 10)
	}
	return string(b)
}

// scalar reads a field of one of the plain types (the integers, pointer,
// GUID, SID, strings and the rest of the payload as bytes) into f, for the
// layout table's decoder and for Decode's schemas alike. Other types read
// nothing and leave f as it is.
func (d *decoder) scalar(t FieldType, name string, f *Field) {
	switch t {
	case TypeU8:
		f.Uint = uint64(d.u8f(name))
	case TypeI8:
		f.Int = int64(int8(d.u8f(name)))
	case TypeU16:
		f.Uint = uint64(d.u16f(name))
	case TypeU32:
		f.Uint = uint64(d.u32f(name))
	case TypeI32:
		f.Int = int64(int32(d.u32f(name)))
	case TypeU64:
		f.Uint = d.u64f(name)
	case TypeI64:
		f.Int = int64(d.u64f(name))
	case TypePtr:
		f.Uint = d.ptrf(name)
	case TypeGUID:
		f.GUID = d.guidf(name)
	case TypeSID:
		f.Str = FormatSID(d.sidf(name))
	case TypeANSIZ:
		f.Str = d.ansizf(name)
	case TypeUTF16Z:
		f.Str = d.utf16zf(name)
	case TypeBytes:
		f.Bytes = d.bytesf(d.remaining(), name)
	}
}
