package etw

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlEventSchema returns a TraceLogging event with the given schema fields
// (each: name, NUL, input type, then any count bytes) and payload.
func tlEventSchema(fields, payload []byte) *Event {
	ev := tlEvent(payload)
	schema := append([]byte{0, 0, 0}, "Ev\x00"...)
	schema = append(schema, fields...)
	binary.LittleEndian.PutUint16(schema, uint16(len(schema)))
	h := make([]byte, 8)
	binary.LittleEndian.PutUint16(h, uint16(8+len(schema)))
	binary.LittleEndian.PutUint16(h[2:], uint16(ExtEventSchemaTL))
	binary.LittleEndian.PutUint16(h[6:], uint16(len(schema)))
	ev.ext = append(append([]byte(nil), h...), schema...)
	return ev
}

// A TraceLogging schema of constant-count arrays of a type that reads no
// bytes once the payload is exhausted made Decode build count x fields
// values (up to 65535 x 4096) from a few bytes of schema.
func TestDecodeTraceLoggingEmptyArrayBomb(t *testing.T) {
	var fields []byte
	for range 200 {
		fields = append(fields, 'a', 0, 0x20|tlgUnicodeString, 0xFF, 0xFF)
	}
	d, err := Decode(tlEventSchema(fields, nil))
	require.ErrorIs(t, err, ErrCorrupt)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "a", de.Field)
	assert.LessOrEqual(t, len(d.Fields), maxEmptyValues)

	// A short array of empty values is still decoded in full.
	d, err = Decode(tlEventSchema([]byte{'a', 0, 0x20 | tlgNull, 3, 0}, nil))
	require.NoError(t, err)
	assert.Len(t, d.Fields, 3)
}

// A manifest template of zero-length binaries with large counts made
// SchemaSet.Decode build count x fields values from an empty payload.
func TestSchemaSetManifestEmptyArrayBomb(t *testing.T) {
	prov := MustParseGUID("11111111-2222-3333-4444-555555555555")
	data := strings.Repeat(`<data name="b" inType="win:Binary" length="0" count="65536"/>`, 100)
	text := `<instrumentationManifest><instrumentation><events><provider name="Demo" guid="{11111111-2222-3333-4444-555555555555}">
  <events><event value="7" template="T"/></events>
  <templates><template tid="T">` + data + `</template></templates>
 </provider></events></instrumentation></instrumentationManifest>`
	var s SchemaSet
	p := []byte{1, 1, 0, manifestMagic, 1, 0, 0, 0}
	require.True(t, s.Add(&Event{Header: HeaderEvent64, Provider: prov, ID: manifestEventID, Opcode: manifestOpcode,
		Payload: append(p, text...)}))
	d, err := s.Decode(&Event{Header: HeaderEvent64, Provider: prov, ID: 7, Payload: []byte{1, 2, 3}})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.LessOrEqual(t, len(d.Fields), maxEmptyValues)
}

// On 32-bit platforms a property count or top-level count of 0xFFFFFFFF
// in a TRACE_EVENT_INFO became a negative int that passed the bounds
// checks and made addEventInfo panic in make. Run with GOARCH=386 to
// exercise the 32-bit path.
func TestSchemaSetTDHNegativeCount(t *testing.T) {
	prov := MustParseGUID("11111111-2222-3333-4444-555555555555")
	for _, at := range []int{teiPropertyCount, teiTopLevel} {
		b := eventInfo(prov)
		binary.LittleEndian.PutUint32(b[teiPropertyCount:], 0xFFFFFFFF)
		if at == teiTopLevel {
			binary.LittleEndian.PutUint32(b[teiPropertyCount:], 1)
		}
		binary.LittleEndian.PutUint32(b[teiTopLevel:], 0xFFFFFFFF)
		var s SchemaSet
		assert.NotPanics(t, func() {
			assert.False(t, s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventInfo, Payload: b}))
		})
	}
}

// TRACE_EVENT_INFO and EVENT_MAP_INFO strings are found by offset: 1024
// property names (or 4096 map names) at distinct offsets into one long
// string made addEventInfo and addEventMapInfo copy that string each
// time, hundreds of times the bytes of the event, and keep the copies.
func TestSchemaSetTDHStringAmplification(t *testing.T) {
	prov := MustParseGUID("11111111-2222-3333-4444-555555555555")
	long := utf16z16(strings.Repeat("A", 15000))

	const n = maxTDHProperties
	b := eventInfo(prov)[:teiProperties]
	b = append(b, make([]byte, n*teiPropertySize)...)
	base := uint32(len(b))
	b = append(b, long...)
	binary.LittleEndian.PutUint32(b[teiPropertyCount:], n)
	binary.LittleEndian.PutUint32(b[teiTopLevel:], n)
	for i := range n {
		p := b[teiProperties+i*teiPropertySize:]
		binary.LittleEndian.PutUint32(p[4:], base+uint32(2*i))
		binary.LittleEndian.PutUint16(p[8:], 8)
	}
	var s SchemaSet
	assert.False(t, s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventInfo, Payload: b}))

	const m = 4096
	mi := make([]byte, 16+8*m)
	binary.LittleEndian.PutUint32(mi, uint32(len(mi)))
	binary.LittleEndian.PutUint32(mi[8:], m)
	for i := range m {
		binary.LittleEndian.PutUint32(mi[16+8*i:], uint32(len(mi)+2*i))
	}
	mi = append(mi, long...)
	assert.False(t, s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventMapInfo,
		Payload: append(eventInfo(prov)[:16], mi...)}))
}
