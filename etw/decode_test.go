package etw

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpSendV6 builds a 64-bit TcpIp SendIPV6 (v2) payload.
func tcpSendV6(pid, size uint32, dport, sport uint16) []byte {
	b := binary.LittleEndian.AppendUint32(nil, pid)
	b = binary.LittleEndian.AppendUint32(b, size)
	daddr := [16]byte{0x20, 0x01, 0x48, 0x98, 0, 0xe0, 0, 0x81, 0, 0, 0, 0, 0, 0, 0, 1}
	b = append(b, daddr[:]...)
	b = append(b, make([]byte, 16)...)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.LittleEndian.AppendUint32(b, 1942) // startime
	b = binary.LittleEndian.AppendUint32(b, 1943) // endtime
	b = binary.LittleEndian.AppendUint32(b, 7)    // seqnum
	return binary.LittleEndian.AppendUint64(b, 0) // connid
}

func TestDecodeTcpIp(t *testing.T) {
	ev := &Event{Header: HeaderPerfInfo64, Hook: 0x061A, Version: 2, PID: NoPID, TID: NoTID,
		Payload: tcpSendV6(4, 65652, 445, 64025)}
	d, err := Decode(ev)
	require.NoError(t, err)
	assert.Equal(t, "Windows Kernel/TcpIp/SendIPV6", d.FullName())
	assert.Equal(t, SourceKernel, d.Source)
	assert.Equal(t, PID(4), d.PID, "PID from the payload")
	var names []string
	for _, f := range d.Fields {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"size", "daddr", "saddr", "dport", "sport", "startime", "endtime", "seqnum", "connid"}, names)
	f, _ := d.Field("daddr")
	assert.Equal(t, "2001:4898:e0:81::1", f.String())
	f, _ = d.Field("sport")
	assert.Equal(t, uint64(64025), f.Uint)

	// Cut inside dport: the fields before it and an error naming it.
	ev.Payload = ev.Payload[:41]
	d, err = Decode(ev)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "dport", de.Field)
	assert.Len(t, d.Fields, 3)
}

func TestDecodeUnknown(t *testing.T) {
	ev := &Event{Header: HeaderPerfInfo64, Hook: 0x1F01, Version: 2}
	d, err := Decode(ev)
	assert.True(t, errors.Is(err, ErrUnknownEvent))
	assert.Equal(t, SourceNone, d.Source)
	assert.Equal(t, "MSNT_SystemTrace/Hook(1f01)", d.FullName())

	// A known class, an opcode TraceEvent does not name.
	d, err = Decode(&Event{Header: HeaderPerfInfo64, Hook: 0x0B25, Version: 2})
	require.NoError(t, err)
	assert.Equal(t, "MSNT_SystemTrace/SystemConfig/Boot", d.FullName())
	d, _ = Decode(&Event{Header: HeaderPerfInfo64, Hook: 0x01FE, Version: 2})
	assert.Equal(t, "Windows Kernel/DiskIO/Opcode(254)", d.FullName())
}

func TestValueNamesFlags(t *testing.T) {
	assert.Equal(t, "None", irpFlagNames().format(0))
	assert.Equal(t, "Nocache, MountCompletion", irpFlagNames().format(3))
	assert.Equal(t, "1048576", irpFlagNames().format(1<<20), "an unnamed bit gives the number")
	assert.Equal(t, "ReadWrite, Delete", enumOf(true, 1, "Read", 2, "Write", 3, "ReadWrite", 4, "Delete").format(7))
}

// tlEvent builds a TraceLogging EVENT_HEADER event with one UINT32 and one
// ANSI string field.
func tlEvent(payload []byte) *Event {
	schema := []byte{0, 0, 0}
	schema = append(schema, "Ev\x00n\x00\x08s\x00\x02"...)
	binary.LittleEndian.PutUint16(schema, uint16(len(schema)))
	traits := append([]byte{0, 0}, "prov\x00"...)
	binary.LittleEndian.PutUint16(traits, uint16(len(traits)))
	var ext []byte
	item := func(typ ExtType, data []byte, more bool) {
		h := make([]byte, 8)
		binary.LittleEndian.PutUint16(h, uint16(8+len(data)))
		binary.LittleEndian.PutUint16(h[2:], uint16(typ))
		if more {
			binary.LittleEndian.PutUint16(h[4:], 1)
		}
		binary.LittleEndian.PutUint16(h[6:], uint16(len(data)))
		ext = append(append(ext, h...), data...)
	}
	item(ExtProvTraits, traits, true)
	item(ExtEventSchemaTL, schema, false)
	return &Event{Header: HeaderEvent64, Payload: payload, ext: ext}
}

func TestDecodeTraceLogging(t *testing.T) {
	d, err := Decode(tlEvent(append(binary.LittleEndian.AppendUint32(nil, 42), "hi\x00"...)))
	require.NoError(t, err)
	assert.Equal(t, "prov/Ev", d.FullName())
	assert.Equal(t, SourceTraceLogging, d.Source)
	require.Len(t, d.Fields, 2)
	assert.Equal(t, uint64(42), d.Fields[0].Uint)
	assert.Equal(t, "hi", d.Fields[1].Str)

	_, err = Decode(tlEvent([]byte{1, 2}))
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "n", de.Field)
}

// FuzzDecode feeds crafted payloads and extended data to every schema:
// Decode must never panic, and an error must come with a usable name.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), uint16(0x061A), uint16(2), tcpSendV6(4, 1, 2, 3), []byte(nil))
	f.Add(uint8(0), uint16(0x0F2E), uint16(2), make([]byte, 16), []byte(nil))
	f.Add(uint8(0), uint16(0x0303), uint16(4), make([]byte, 80), []byte(nil))
	f.Add(uint8(1), uint16(0x0000), uint16(2), make([]byte, 300), []byte(nil))
	f.Add(uint8(2), uint16(0), uint16(0), []byte("hi\x00"), tlEvent(nil).ext)
	f.Add(uint8(3), uint16(0x24), uint16(2), make([]byte, 44), []byte(nil))
	f.Fuzz(func(t *testing.T, form uint8, hook, version uint16, payload, ext []byte) {
		ev := &Event{Hook: HookID(hook), Version: version, Payload: payload, PID: NoPID, TID: NoTID}
		switch form % 6 {
		case 0:
			ev.Header = HeaderPerfInfo64
		case 1:
			ev.Header = HeaderSystem32
		case 2:
			ev.Header, ev.ext = HeaderEvent64, ext
		case 3:
			ev.Header, ev.Provider, ev.Opcode = HeaderFull64, KernelTraceControlGUID, uint8(hook)
		case 4:
			ev.Header, ev.Provider, ev.Opcode = HeaderFull32, MustParseGUID("9b79ee91-b5fd-41c0-a243-4248e266e9d0"), uint8(hook)
		case 5:
			ev.Header, ev.Hook = HeaderCompact64, HookID(hook)
		}
		d, err := Decode(ev)
		if d.Name == "" {
			t.Fatalf("no name for %+v (err %v)", ev, err)
		}
		for _, fl := range d.Fields {
			_ = fl.String()
			_ = fl.Value()
		}
	})
}

const testManifest = `<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events">
 <instrumentation><events><provider name="Demo" guid="{11111111-2222-3333-4444-555555555555}">
  <tasks><task name="Work" value="1"/></tasks>
  <maps><valueMap name="Lvl"><map value="0x5" message="$(string.v)"/></valueMap>
   <bitMap name="Kw"><map value="0x1" message="A"/><map value="0x2" message="B"/><map value="0x3" message="AB"/></bitMap></maps>
  <events><event value="7" task="Work" opcode="win:Start" template="T"/></events>
  <templates><template tid="T"><data name="msg" inType="win:UnicodeString"/><data name="level" inType="win:UInt32" map="Lvl"/>
   <data name="kw" inType="win:UInt32" map="Kw"/></template></templates>
 </provider></events></instrumentation>
 <localization><resources culture="en-US"><stringTable><string id="v" value="Verbose"/></stringTable></resources></localization>
</instrumentationManifest>`

func TestSchemaSetManifest(t *testing.T) {
	prov := MustParseGUID("11111111-2222-3333-4444-555555555555")
	half := len(testManifest) / 2
	chunk := func(n int, text string) *Event {
		p := []byte{1, 1, 0, manifestMagic, 2, 0, byte(n), 0}
		return &Event{Header: HeaderEvent64, Provider: prov, ID: manifestEventID, Opcode: manifestOpcode,
			Payload: append(p, text...)}
	}
	var s SchemaSet
	assert.True(t, s.Add(chunk(0, testManifest[:half])))
	_, ok := s.ProviderName(prov)
	assert.False(t, ok, "not before the last chunk")
	assert.True(t, s.Add(chunk(1, testManifest[half:])))
	name, ok := s.ProviderName(prov)
	require.True(t, ok)
	assert.Equal(t, "Demo", name)

	p := []byte{'h', 0, 'i', 0, 0, 0}
	p = binary.LittleEndian.AppendUint32(p, 5)
	p = binary.LittleEndian.AppendUint32(p, 3)
	d, err := s.Decode(&Event{Header: HeaderEvent64, Provider: prov, ID: 7, Opcode: 1, Payload: p})
	require.NoError(t, err)
	assert.Equal(t, "Demo/Work/Start", d.FullName())
	assert.Equal(t, SourceManifest, d.Source)
	require.Len(t, d.Fields, 3)
	assert.Equal(t, "hi", d.Fields[0].Str)
	assert.Equal(t, "Verbose", d.Fields[1].Str)
	assert.Equal(t, "A|B|AB", d.Fields[2].Str)

	d, err = s.Decode(chunk(0, testManifest))
	require.NoError(t, err)
	assert.Equal(t, "Demo/ManifestData", d.FullName())
}

// FuzzSchemaSet feeds crafted manifests and payloads: no panic, bounded work.
func FuzzSchemaSet(f *testing.F) {
	f.Add([]byte(testManifest), uint16(7), []byte{'h', 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0})
	f.Add(eventInfo(MustParseGUID("11111111-2222-3333-4444-555555555555")), uint16(5), []byte{2, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, manifest []byte, id uint16, payload []byte) {
		prov := MustParseGUID("11111111-2222-3333-4444-555555555555")
		var s SchemaSet
		s.Add(&Event{Header: HeaderEvent32, Provider: prov, ID: manifestEventID, Opcode: manifestOpcode,
			Payload: append([]byte{1, 1, 0, manifestMagic, 1, 0, 0, 0}, manifest...)})
		// The same bytes as TDH metadata of another provider.
		s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventInfo, Payload: manifest})
		s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventMapInfo, Payload: manifest})
		if len(manifest) >= 16 {
			g := guidFromBytes(manifest)
			d, _ := s.Decode(&Event{Header: HeaderEvent64, Provider: g, ID: id, Payload: payload})
			for _, fl := range d.Fields {
				_ = fl.String()
			}
		}
		d, _ := s.Decode(&Event{Header: HeaderEvent32, Provider: prov, ID: id, Payload: payload})
		for _, fl := range d.Fields {
			_ = fl.String()
		}
	})
}

// utf16z16 encodes s as NUL-terminated UTF-16LE.
func utf16z16(s string) []byte {
	var b []byte
	for _, r := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return append(b, 0, 0)
}

// eventInfo builds a TRACE_EVENT_INFO for event 5 v1 opcode 1 of prov with
// a mapped UInt8, a UInt32 length and a socket address of that length.
func eventInfo(prov GUID) []byte {
	b := make([]byte, teiProperties+3*teiPropertySize)
	var gb [16]byte
	binary.LittleEndian.PutUint32(gb[:], prov.Data1)
	binary.LittleEndian.PutUint16(gb[4:], prov.Data2)
	binary.LittleEndian.PutUint16(gb[6:], prov.Data3)
	copy(gb[8:], prov.Data4[:])
	copy(b, gb[:])
	binary.LittleEndian.PutUint16(b[32:], 5)
	b[34], b[37] = 1, 1
	str := func(s string) uint32 {
		off := uint32(len(b))
		b = append(b, utf16z16(s)...)
		return off
	}
	put := func(at int, s string) {
		off := str(s) // b grows first
		binary.LittleEndian.PutUint32(b[at:], off)
	}
	put(teiProviderName, "Demo-Provider")
	put(teiTaskName, "Connect ")
	put(teiOpcodeName, "win:Start")
	binary.LittleEndian.PutUint32(b[teiPropertyCount:], 3)
	binary.LittleEndian.PutUint32(b[teiTopLevel:], 3)
	prop := func(i int, flags uint32, name string, in, out uint16, mapName string, count, length uint16) {
		off := str(name)
		p := b[teiProperties+i*teiPropertySize:]
		binary.LittleEndian.PutUint32(p, flags)
		binary.LittleEndian.PutUint32(p[4:], off)
		binary.LittleEndian.PutUint16(p[8:], in)
		binary.LittleEndian.PutUint16(p[10:], out)
		if mapName != "" {
			off := str(mapName)
			p = b[teiProperties+i*teiPropertySize:]
			binary.LittleEndian.PutUint32(p[12:], off)
		}
		binary.LittleEndian.PutUint16(p[16:], count)
		binary.LittleEndian.PutUint16(p[18:], length)
	}
	prop(0, 0, "Kind", 4, 0, "KindMap", 1, 0)
	prop(1, 0, "Len", 8, 0, "", 1, 0)
	prop(2, propParamLength, "Addr", 14, tdhOutSocketAddr, "", 1, 1)
	return b
}

func TestSchemaSetTDH(t *testing.T) {
	prov := MustParseGUID("11111111-2222-3333-4444-555555555555")
	var s SchemaSet
	require.True(t, s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventInfo, Payload: eventInfo(prov)}))

	// EVENT_MAP_INFO after the provider GUID: one entry, 2 -> "dynamic ".
	m := eventInfo(prov)[:16]
	mi := make([]byte, 24)
	binary.LittleEndian.PutUint32(mi, 24)
	binary.LittleEndian.PutUint32(mi[4:], 1)
	binary.LittleEndian.PutUint32(mi[8:], 1)
	mi = append(mi, utf16z16("KindMap")...)
	binary.LittleEndian.PutUint32(mi[16:], uint32(len(mi)))
	binary.LittleEndian.PutUint32(mi[20:], 2)
	mi = append(mi, utf16z16("dynamic ")...)
	require.True(t, s.Add(&Event{Header: HeaderFull64, Provider: MetaDataGUID, Opcode: opEventMapInfo, Payload: append(m, mi...)}))

	p := []byte{2, 8, 0, 0, 0, 2, 0, 0, 53, 10, 50, 10, 50}
	d, err := s.Decode(&Event{Header: HeaderEvent64, Provider: prov, ID: 5, Version: 1, Opcode: 1, Payload: p})
	require.NoError(t, err)
	assert.Equal(t, "Demo-Provider/Connect/Start", d.FullName())
	assert.Equal(t, SourceTDH, d.Source)
	require.Len(t, d.Fields, 2, "the length field is not listed")
	assert.Equal(t, "dynamic", d.Fields[0].Str)
	assert.Equal(t, FormatSockAddr, d.Fields[1].Format)
	assert.Equal(t, p[5:], d.Fields[1].Bytes)
	name, ok := s.ProviderName(prov)
	assert.True(t, ok)
	assert.Equal(t, "Demo-Provider", name)
}

// BenchmarkDecode decodes a TcpIp SendIPV6 event (kernel schema table) and
// a TraceLogging event.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		ev   *Event
	}{
		{"kernel", &Event{Header: HeaderPerfInfo64, Hook: 0x061A, Version: 2, Payload: tcpSendV6(4, 65652, 445, 64025)}},
		{"tracelogging", tlEvent(append(binary.LittleEndian.AppendUint32(nil, 42), "hi\x00"...))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.ev.Payload)))
			for b.Loop() {
				if _, err := Decode(bc.ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
