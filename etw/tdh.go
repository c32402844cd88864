package etw

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// This file reads the TDH metadata that xperf and WPR merges add to a trace
// (KernelTraceControl MetaData, class GUID bbccf6c1-6cd1-48c4-80ff-
// 839482e37671): EventInfo events hold a TRACE_EVENT_INFO (what
// TdhGetEventInformation returns) for each manifest event the trace has,
// and EventMapInfo events a provider GUID followed by an EVENT_MAP_INFO.
// With them SchemaSet decodes the events of manifest providers (Kernel-File,
// DNS-Client, ...) on any OS.

// MetaDataGUID is the class GUID of KernelTraceControl's MetaData events.
var MetaDataGUID = MustParseGUID("bbccf6c1-6cd1-48c4-80ff-839482e37671")

// MetaData opcodes.
const (
	opEventInfo    = 32
	opEventMapInfo = 33
)

// TRACE_EVENT_INFO layout.
const (
	teiProviderName  = 52
	teiTaskName      = 68
	teiOpcodeName    = 72
	teiPropertyCount = 100
	teiTopLevel      = 104
	teiProperties    = 112
	teiPropertySize  = 24
	maxTDHProperties = 1024
)

// PROPERTY_FLAGS bits.
const (
	propStruct      = 0x1
	propParamLength = 0x2
	propParamCount  = 0x4
)

// FormatSockAddr marks a TypeBytes field holding a SOCKADDR (TDH output
// type SocketAddress).
const FormatSockAddr FieldFormat = 17

// tdhKey identifies an event of a manifest provider.
type tdhKey struct {
	provider GUID
	id       uint16
	version  uint8
}

// tdhString reads the NUL-terminated UTF-16 string at off of b ("" when
// off is 0 or outside b), without trailing spaces.
func tdhString(b []byte, off uint32) string {
	if off == 0 || int64(off) >= int64(len(b)) {
		return ""
	}
	s := b[off:]
	return strings.TrimRight(decodeFixedUTF16(s[:min(len(s), MaxStringBytes)]), " ")
}

// tdhStrings reads the strings of one TDH structure. Repeated offsets
// share one string, and once the strings would hold more than twice the
// structure's bytes (crafted offsets pointing many names at one long
// string) every further read returns "" and over is set: the caller
// rejects the structure rather than hold more memory than the file does.
type tdhStrings struct {
	b      []byte
	memo   map[uint32]string
	budget int
	over   bool
}

func newTDHStrings(b []byte) *tdhStrings {
	return &tdhStrings{b: b, memo: map[uint32]string{}, budget: 2 * len(b)}
}

func (t *tdhStrings) at(off uint32) string {
	if s, ok := t.memo[off]; ok || t.over {
		return s
	}
	s := tdhString(t.b, off)
	t.budget -= len(s)
	if t.budget < 0 {
		t.over = true
		return ""
	}
	t.memo[off] = s
	return s
}

// tdhInTypes maps TDH input types to manifest type names.
var tdhInTypes = map[uint16]string{
	1: "win:UnicodeString", 2: "win:AnsiString", 3: "win:Int8", 4: "win:UInt8", 5: "win:Int16",
	6: "win:UInt16", 7: "win:Int32", 8: "win:UInt32", 9: "win:Int64", 10: "win:UInt64", 11: "win:Float",
	12: "win:Double", 13: "win:Boolean", 14: "win:Binary", 15: "win:GUID", 16: "win:Pointer",
	17: "win:FILETIME", 18: "win:SYSTEMTIME", 19: "win:SID", 20: "win:HexInt32", 21: "win:HexInt64",
}

// TDH output types Decode honours.
const (
	tdhOutHexInt32   = 18
	tdhOutHexInt64   = 19
	tdhOutSocketAddr = 25
)

// addEventInfo learns one TRACE_EVENT_INFO.
func (s *SchemaSet) addEventInfo(b []byte) bool {
	if len(b) < teiProperties {
		return false
	}
	prov := guidFromBytes(b[:16])
	key := tdhKey{provider: prov, id: binary.LittleEndian.Uint16(b[32:]), version: b[34]}
	opcode := b[37]
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	strs := newTDHStrings(b)
	name := strs.at(u32(teiTaskName))
	if name == "" {
		name = "EventID(" + itoa(uint64(key.id)) + ")"
	}
	if opcode != 0 {
		if op := strs.at(u32(teiOpcodeName)); op != "" {
			name += "/" + strings.TrimPrefix(op, "win:")
		} else {
			name += "/Opcode(" + itoa(uint64(opcode)) + ")"
		}
	}
	e := &mfEvent{name: name}
	n := int(u32(teiPropertyCount))
	top := int(u32(teiTopLevel))
	if n < 0 || top < 0 || n > maxTDHProperties || top > n || teiProperties+n*teiPropertySize > len(b) {
		return false
	}
	type rawProp struct {
		flags               uint32
		name                string
		in, out             uint16
		mapName             string
		count, length       uint16
		countIdx, lengthIdx bool
	}
	props := make([]rawProp, n)
	for i := range n {
		p := b[teiProperties+i*teiPropertySize:]
		rp := rawProp{
			flags: binary.LittleEndian.Uint32(p), name: strs.at(binary.LittleEndian.Uint32(p[4:])),
			in: binary.LittleEndian.Uint16(p[8:]), out: binary.LittleEndian.Uint16(p[10:]),
			count: binary.LittleEndian.Uint16(p[16:]), length: binary.LittleEndian.Uint16(p[18:]),
		}
		rp.countIdx = rp.flags&propParamCount != 0
		rp.lengthIdx = rp.flags&propParamLength != 0
		if rp.flags&propStruct == 0 {
			rp.mapName = strs.at(binary.LittleEndian.Uint32(p[12:]))
		}
		props[i] = rp
	}
	provName := strs.at(u32(teiProviderName))
	if strs.over {
		return false
	}
	for i := range top {
		rp := props[i]
		if rp.flags&propStruct != 0 {
			// Structures are not decoded: their bytes end the event.
			e.fields = append(e.fields, mfField{name: rp.name, in: "struct"})
			break
		}
		f := mfField{name: rp.name, in: tdhInTypes[rp.in], mapName: rp.mapName}
		switch rp.out {
		case tdhOutHexInt32:
			f.out = "win:HexInt32"
		case tdhOutHexInt64:
			f.out = "win:HexInt64"
		case tdhOutSocketAddr:
			f.out = "win:SocketAddress"
		}
		if rp.countIdx {
			if int(rp.count) < n {
				f.count = props[rp.count].name
			}
		} else if rp.count > 1 {
			f.count = strconv.Itoa(int(rp.count))
		}
		if rp.lengthIdx {
			if int(rp.length) < n {
				f.length = props[rp.length].name
			}
		} else if rp.length > 0 && (rp.in == 1 || rp.in == 2 || rp.in == 14) {
			f.length = strconv.Itoa(int(rp.length))
		}
		e.fields = append(e.fields, f)
	}
	// A field that only gives another's byte length is not listed, as
	// TDH-based decoders show these events; it is still read.
	for _, f := range e.fields {
		for j := range e.fields {
			if f.length != "" && e.fields[j].name == f.length {
				e.fields[j].hide = true
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	p := s.tdhProvider(prov)
	if pn := provName; pn != "" {
		p.name = pn
	}
	s.tdh[key] = e
	return true
}

// addEventMapInfo learns one EVENT_MAP_INFO (after its provider GUID);
// its string offsets count from its own start.
func (s *SchemaSet) addEventMapInfo(b []byte) bool {
	if len(b) < 32 {
		return false
	}
	prov := guidFromBytes(b[:16])
	m := b[16:]
	rel := m
	strs := newTDHStrings(rel)
	name := strs.at(binary.LittleEndian.Uint32(m))
	flag := binary.LittleEndian.Uint32(m[4:])
	n := int(binary.LittleEndian.Uint32(m[8:]))
	if name == "" || n < 0 || n > 4096 || 16+8*n > len(m) {
		return false
	}
	vn := &valueNames{flags: flag&0x2 != 0} // EVENTMAP_INFO_FLAG_MANIFEST_BITMAP
	for i := range n {
		e := m[16+8*i:]
		vn.names = append(vn.names, strs.at(binary.LittleEndian.Uint32(e)))
		vn.vals = append(vn.vals, uint64(binary.LittleEndian.Uint32(e[4:])))
	}
	if strs.over {
		return false
	}
	vn.sort()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.tdhProvider(prov).maps[name] = vn
	return true
}

// tdhProvider returns the provider entry for TDH metadata, creating it.
func (s *SchemaSet) tdhProvider(g GUID) *mfProvider {
	p := s.tdhProvs[g]
	if p == nil {
		p = &mfProvider{name: g.String(), events: map[uint16]*mfEvent{}, maps: map[string]*valueNames{}}
		s.tdhProvs[g] = p
	}
	return p
}

// guidFromBytes reads a GUID in its little-endian binary form.
func guidFromBytes(b []byte) GUID {
	var d decoder
	d.init(b, 8)
	return d.guidf("guid")
}
