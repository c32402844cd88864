package main

import (
	"strconv"

	"github.com/etwkit/etwkit/etw"
)

// appendDecoded appends what etw.Decode (or the manifests the trace has
// carried so far) makes of an event the kernel layout table does not know: "event" (Provider/Name) and "data" when it
// has a schema, an "error" when its payload is damaged, and the payload
// with -raw when nothing decodes it.
func appendDecoded(b []byte, schemas *etw.SchemaSet, ev *etw.Event, raw bool) []byte {
	dec, err := schemas.Decode(ev)
	if dec.Source == etw.SourceNone {
		if raw {
			b = appendPayload(b, ev.Payload)
		}
		return b
	}
	b = append(b, `,"event":`...)
	b = appendString(b, dec.FullName())
	if len(dec.Fields) > 0 || err == nil {
		b = appendData(b, dec.Fields)
	}
	if err != nil {
		b = append(b, `,"error":`...)
		b = appendString(b, err.Error())
		if raw {
			b = appendPayload(b, ev.Payload)
		}
	}
	return b
}

// appendDecodedValue appends the JSON value of the field types etw.Decode
// adds to the layout table's; it returns false for the others.
func appendDecodedValue(b []byte, f etw.Field) ([]byte, bool) {
	switch f.Type {
	case etw.TypeF64:
		v := f.Float()
		if v != v || v > 1e300 || v < -1e300 { // NaN and infinities are not JSON
			return append(b, "null"...), true
		}
		return strconv.AppendFloat(b, v, 'g', -1, 64), true
	case etw.TypeFiletime:
		if f.Int <= 0 {
			return append(b, "null"...), true
		}
		b = append(b, '"')
		b = f.Time().AppendFormat(b, "2006-01-02T15:04:05.0000000Z07:00")
		return append(b, '"'), true
	case etw.TypeIPv4, etw.TypeIPv6:
		return appendString(b, f.String()), true
	case etw.TypeBool:
		return strconv.AppendBool(b, f.Uint != 0), true
	case etw.TypeI16:
		return strconv.AppendInt(b, f.Int, 10), true
	}
	return b, false
}
