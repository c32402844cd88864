package etw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file decodes TraceLogging events: self-describing EVENT_HEADER
// records whose schema travels in the extended data (item type
// EVENT_HEADER_EXT_TYPE_EVENT_SCHEMA_TL) and whose provider name travels in
// the provider traits (EVENT_HEADER_EXT_TYPE_PROV_TRAITS). The encoding is
// the one TraceLoggingProvider.h documents: a 16-bit size, tag bytes, the
// event name, then for each field its name, an input type byte (low 5 bits:
// type; 0x20 constant-count array, 0x40 variable-count array, 0x60 custom;
// 0x80: an output type byte follows) and an optional output type byte
// (0x80: tag bytes follow).

// TraceLogging input types (TlgIn*).
const (
	tlgNull          = 0
	tlgUnicodeString = 1
	tlgAnsiString    = 2
	tlgInt8          = 3
	tlgUint8         = 4
	tlgInt16         = 5
	tlgUint16        = 6
	tlgInt32         = 7
	tlgUint32        = 8
	tlgInt64         = 9
	tlgUint64        = 10
	tlgFloat         = 11
	tlgDouble        = 12
	tlgBool32        = 13
	tlgBinary        = 14
	tlgGUID          = 15
	tlgFiletime      = 17
	tlgSystemtime    = 18
	tlgSID           = 19
	tlgHexInt32      = 20
	tlgHexInt64      = 21
	tlgCountedString = 22
	tlgCountedAnsi   = 23
	tlgStruct        = 24
	tlgCountedBinary = 25

	tlgOutBoolean = 3
	tlgOutHex     = 4
)

// errTLSchema reports a TraceLogging schema that cannot be walked.
var errTLSchema = errors.New("malformed TraceLogging schema")

// tlField is one field of a TraceLogging schema.
type tlField struct {
	name    string
	in, out uint8
	array   uint8 // 0, 0x20 (constant count), 0x40 (variable count)
	count   uint16
	nested  int // struct: number of following fields that belong to it
}

// parseTLSchema parses an event schema item: the event name and fields.
func parseTLSchema(b []byte) (string, []tlField, error) {
	if len(b) < 2 {
		return "", nil, errTLSchema
	}
	size := int(binary.LittleEndian.Uint16(b))
	if size > len(b) || size < 3 {
		return "", nil, errTLSchema
	}
	b = b[2:size]
	for len(b) > 0 && b[0]&0x80 != 0 { // tag bytes
		b = b[1:]
	}
	if len(b) == 0 {
		return "", nil, errTLSchema
	}
	b = b[1:]
	name, b, ok := cutZ(b)
	if !ok {
		return "", nil, errTLSchema
	}
	var fields []tlField
	for len(b) > 0 {
		var f tlField
		if f.name, b, ok = cutZ(b); !ok || len(b) == 0 {
			return name, fields, errTLSchema
		}
		in := b[0]
		b = b[1:]
		f.in = in & 0x1F
		f.array = in & 0x60
		if in&0x80 != 0 {
			if len(b) == 0 {
				return name, fields, errTLSchema
			}
			out := b[0]
			b = b[1:]
			f.out = out & 0x7F
			if out&0x80 != 0 {
				for len(b) > 0 && b[0]&0x80 != 0 {
					b = b[1:]
				}
				if len(b) == 0 {
					return name, fields, errTLSchema
				}
				b = b[1:]
			}
		}
		switch f.array {
		case 0x20:
			if len(b) < 2 {
				return name, fields, errTLSchema
			}
			f.count = binary.LittleEndian.Uint16(b)
			b = b[2:]
		case 0x60:
			if len(b) < 2 {
				return name, fields, errTLSchema
			}
			n := int(binary.LittleEndian.Uint16(b))
			if 2+n > len(b) {
				return name, fields, errTLSchema
			}
			b = b[2+n:]
		}
		if f.in == tlgStruct {
			f.nested = int(f.out)
		}
		fields = append(fields, f)
		if len(fields) > 4096 {
			return name, fields, errTLSchema
		}
	}
	return name, fields, nil
}

// cutZ splits b at its first NUL byte.
func cutZ(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}

// traitsProviderName returns the provider name of a provider traits item.
func traitsProviderName(b []byte) string {
	if len(b) < 3 {
		return ""
	}
	size := int(binary.LittleEndian.Uint16(b))
	if size < 3 {
		return "" // the size counts itself: no room for a name
	}
	if size > len(b) {
		size = len(b)
	}
	n, _, ok := cutZ(b[2:size])
	if !ok {
		return ""
	}
	return n
}

// decodeTraceLogging decodes a TraceLogging event into d. It returns false
// when ev carries no TraceLogging schema.
func decodeTraceLogging(ev *Event, d *Decoded) (bool, error) {
	schema, ok := ev.ExtItem(ExtEventSchemaTL)
	if !ok {
		return false, nil
	}
	name, fields, err := parseTLSchema(schema)
	d.Source = SourceTraceLogging
	if tr, ok := ev.ExtItem(ExtProvTraits); ok {
		d.Provider = traitsProviderName(tr)
	}
	if d.Provider == "" {
		d.Provider = ev.Provider.String()
	}
	d.Name = name
	if d.Name == "" {
		_, d.Name = fallbackName(ev)
	}
	if err != nil {
		return true, fmt.Errorf("%s: %w", eventDesc(ev), err)
	}
	var dc decoder
	ptr := ev.PointerSize()
	if ptr == 0 {
		ptr = 8
	}
	dc.init(ev.Payload, ptr)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f.in == tlgStruct {
			continue // its members follow as fields of their own
		}
		n := 1
		switch f.array {
		case 0x20:
			n = int(f.count)
		case 0x40:
			n = int(dc.u16f(f.name))
		case 0x60:
			// Custom-schema fields carry a byte count and opaque data.
			size := int(dc.u16f(f.name))
			d.Fields = append(d.Fields, Field{Name: f.name, Type: TypeBytes, Bytes: dc.bytesf(size, f.name)})
			continue
		}
		for j := 0; j < n && dc.ok(); j++ {
			before := dc.off
			v := readTL(&dc, &f)
			if !dc.countEmpty(before, f.name) {
				break
			}
			d.Fields = append(d.Fields, v)
		}
		if !dc.ok() {
			break
		}
	}
	return true, dc.err(d.Provider + "/" + d.Name)
}

// readTL reads one value of TraceLogging field f.
func readTL(dc *decoder, f *tlField) Field {
	v := Field{Name: f.name}
	switch f.in {
	case tlgUnicodeString:
		v.Type, v.Str = TypeUTF16Z, dc.utf16zf(f.name)
	case tlgAnsiString:
		v.Type, v.Str = TypeANSIZ, dc.ansizf(f.name)
	case tlgInt8:
		v.Type, v.Int = TypeI8, int64(int8(dc.u8f(f.name)))
	case tlgUint8:
		v.Type, v.Uint = TypeU8, uint64(dc.u8f(f.name))
		if f.out == tlgOutBoolean {
			v.Type = TypeBool
		}
	case tlgInt16:
		v.Type, v.Int = TypeI16, int64(int16(dc.u16f(f.name)))
	case tlgUint16:
		v.Type, v.Uint = TypeU16, uint64(dc.u16f(f.name))
	case tlgInt32:
		v.Type, v.Int = TypeI32, int64(int32(dc.u32f(f.name)))
	case tlgUint32, tlgHexInt32:
		v.Type, v.Uint = TypeU32, uint64(dc.u32f(f.name))
		if f.in == tlgHexInt32 || f.out == tlgOutHex {
			v.Format = FormatHex
		}
	case tlgInt64:
		v.Type, v.Int = TypeI64, int64(dc.u64f(f.name))
	case tlgUint64, tlgHexInt64:
		v.Type, v.Uint = TypeU64, dc.u64f(f.name)
		if f.in == tlgHexInt64 || f.out == tlgOutHex {
			v.Format = FormatHex
		}
	case tlgFloat:
		v.Type = TypeF64
		v.Uint = math.Float64bits(float64(math.Float32frombits(dc.u32f(f.name))))
	case tlgDouble:
		v.Type, v.Uint = TypeF64, dc.u64f(f.name)
	case tlgBool32:
		v.Type, v.Uint = TypeBool, b2u(dc.u32f(f.name) != 0)
	case tlgBinary, tlgCountedBinary:
		n := int(dc.u16f(f.name))
		v.Type, v.Bytes = TypeBytes, dc.bytesf(n, f.name)
	case tlgGUID:
		v.Type, v.GUID = TypeGUID, dc.guidf(f.name)
	case tlgFiletime:
		v.Type, v.Int = TypeFiletime, int64(dc.u64f(f.name))
	case tlgSystemtime:
		v.Type, v.Format = TypeFiletime, FormatSystemTime
		if b := dc.bytesf(16, f.name); len(b) == 16 {
			v.Int = systemTimeFiletime(b)
		}
	case tlgSID:
		// A SID: 8 header bytes then 4 per sub-authority.
		if dc.remaining() >= 2 {
			n := int(dc.b[dc.off+1])
			v.Type, v.Str = TypeSID, FormatSID(dc.bytesf(8+4*n, f.name))
		} else {
			dc.need(2, f.name)
		}
	case tlgCountedString:
		n := int(dc.u16f(f.name))
		v.Type, v.Str = TypeUTF16Z, decodeFixedUTF16(dc.bytesf(n, f.name))
	case tlgCountedAnsi:
		n := int(dc.u16f(f.name))
		v.Type, v.Str = TypeANSIZ, string(dc.bytesf(n, f.name))
	default:
		// Unknown or pointer-typed: the rest of the payload.
		v.Type, v.Bytes = TypeBytes, dc.bytesf(dc.remaining(), f.name)
	}
	return v
}
