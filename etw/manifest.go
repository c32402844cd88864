package etw

import (
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// This file decodes events of manifest providers whose manifest the trace
// itself carries: EventSource providers log their manifest as ManifestData
// events (event id 0xFFFE, opcode 0xFE), in chunks of a small header
// (Format, MajorVersion, MinorVersion, Magic 0x5B, TotalChunks, ChunkNumber)
// followed by instrumentation-manifest XML.

// SchemaSet decodes events with the schemas a trace carries in addition to
// the ones etwkit knows: feed it every event with [SchemaSet.Add] (a first
// pass over the trace, or as events arrive), and decode with
// [SchemaSet.Decode]. The zero SchemaSet is ready to use; it is safe for
// concurrent use.
type SchemaSet struct {
	mu        sync.RWMutex
	providers map[GUID]*mfProvider // from manifests
	chunks    map[GUID]*mfChunks
	tdh       map[tdhKey]*mfEvent  // from TDH metadata
	tdhProvs  map[GUID]*mfProvider // names and maps from TDH metadata
}

// init makes the maps; the caller holds the lock.
func (s *SchemaSet) init() {
	if s.chunks == nil {
		s.chunks = map[GUID]*mfChunks{}
		s.providers = map[GUID]*mfProvider{}
		s.tdh = map[tdhKey]*mfEvent{}
		s.tdhProvs = map[GUID]*mfProvider{}
	}
}

type mfChunks struct {
	total int
	parts map[int][]byte
}

// mfProvider is one provider's manifest.
type mfProvider struct {
	name   string
	events map[uint16]*mfEvent
	maps   map[string]*valueNames // TDH value maps by name
}

type mfEvent struct {
	name   string
	fields []mfField
}

type mfField struct {
	name    string
	in      string
	out     string
	length  string // win:Binary / counted string length: a number or a field name
	count   string // array count: a number or a field name
	names   *valueNames
	mapName string // TDH map, resolved when decoding
	hide    bool   // read but not listed
}

// Manifest event constants of EventSource.
const (
	manifestEventID = 0xFFFE
	manifestOpcode  = 0xFE
	manifestMagic   = 0x5B
	maxManifestSize = 16 << 20
)

// errManifest reports a manifest that does not parse.
var errManifest = errors.New("malformed event manifest")

// Add learns the schemas ev carries, if any, and reports whether it did.
// A manifest split in chunks is learnt when its last chunk arrives.
func (s *SchemaSet) Add(ev *Event) bool {
	if (ev.Header == HeaderFull32 || ev.Header == HeaderFull64) && ev.Provider == MetaDataGUID {
		switch ev.Opcode {
		case opEventInfo:
			return s.addEventInfo(ev.Payload)
		case opEventMapInfo:
			return s.addEventMapInfo(ev.Payload)
		}
		return false
	}
	if ev.Header != HeaderEvent32 && ev.Header != HeaderEvent64 {
		return false
	}
	if ev.ID != manifestEventID || ev.Opcode != manifestOpcode || len(ev.Payload) < 8 || ev.Payload[3] != manifestMagic {
		return false
	}
	total := int(binary.LittleEndian.Uint16(ev.Payload[4:]))
	n := int(binary.LittleEndian.Uint16(ev.Payload[6:]))
	if total == 0 || n >= total {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	c := s.chunks[ev.Provider]
	if c == nil || c.total != total {
		c = &mfChunks{total: total, parts: map[int][]byte{}}
		s.chunks[ev.Provider] = c
	}
	c.parts[n] = append([]byte(nil), ev.Payload[8:]...)
	if len(c.parts) < total {
		return true
	}
	var xmlText []byte
	for i := range total {
		xmlText = append(xmlText, c.parts[i]...)
		if len(xmlText) > maxManifestSize {
			break
		}
	}
	delete(s.chunks, ev.Provider)
	provs, err := parseManifest(xmlText)
	if err != nil {
		return false
	}
	for g, p := range provs {
		s.providers[g] = p
	}
	return true
}

// Decode decodes ev with the schemas the set has learnt, else with
// [Decode].
func (s *SchemaSet) Decode(ev *Event) (Decoded, error) {
	if ev.Header == HeaderEvent32 || ev.Header == HeaderEvent64 {
		s.mu.RLock()
		p := s.providers[ev.Provider]
		var e *mfEvent
		var tp *mfProvider
		if p == nil {
			e = s.tdh[tdhKey{provider: ev.Provider, id: ev.ID, version: uint8(ev.Version)}]
			tp = s.tdhProvs[ev.Provider]
		}
		s.mu.RUnlock()
		if p != nil {
			return p.decode(ev)
		}
		if e != nil && tp != nil {
			s.mu.RLock()
			defer s.mu.RUnlock()
			return tp.decodeEvent(ev, e, SourceTDH)
		}
	}
	return Decode(ev)
}

// ProviderName returns the name of provider g from the learnt manifests.
func (s *SchemaSet) ProviderName(g GUID) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.providers[g]; p != nil {
		return p.name, true
	}
	if p := s.tdhProvs[g]; p != nil && p.name != g.String() {
		return p.name, true
	}
	return "", false
}

// decode decodes an event of a manifest provider.
func (p *mfProvider) decode(ev *Event) (Decoded, error) {
	d := Decoded{Provider: p.name, PID: ev.PID, TID: ev.TID, Source: SourceManifest}
	if ev.ID == manifestEventID && ev.Opcode == manifestOpcode {
		d.Name = "ManifestData"
		d.Fields = manifestDataFields(ev.Payload)
		return d, nil
	}
	e := p.events[ev.ID]
	if e == nil {
		d.Name = "EventID(" + itoa(uint64(ev.ID)) + ")"
		return d, fmt.Errorf("%w: %s event id %d", ErrUnknownEvent, p.name, ev.ID)
	}
	return p.decodeEvent(ev, e, SourceManifest)
}

// decodeEvent decodes ev with the fields of e.
func (p *mfProvider) decodeEvent(ev *Event, e *mfEvent, src Source) (Decoded, error) {
	d := Decoded{Provider: p.name, Name: e.name, PID: ev.PID, TID: ev.TID, Source: src}
	ptr := ev.PointerSize()
	if ptr == 0 {
		ptr = 8
	}
	var dc decoder
	dc.init(ev.Payload, ptr)
	var all []Field // every value read, hidden ones included, for counts
	for i := range e.fields {
		f := &e.fields[i]
		if f.in == "struct" {
			break
		}
		n := 1
		if f.count != "" {
			n = resolveCount(f.count, all)
		}
		for j := 0; j < n && dc.ok(); j++ {
			before := dc.off
			v := readManifestField(&dc, f, all, p.maps)
			if !dc.countEmpty(before, f.name) {
				break
			}
			all = append(all, v)
			if !f.hide {
				d.Fields = append(d.Fields, v)
			}
		}
		if !dc.ok() {
			break
		}
	}
	return d, dc.err(p.name + "/" + e.name)
}

// manifestDataFields shows the chunk header of a ManifestData event.
func manifestDataFields(b []byte) []Field {
	if len(b) < 8 {
		return nil
	}
	u := func(name string, v uint64) Field { return Field{Name: name, Type: TypeU32, Uint: v} }
	return []Field{
		u("Format", uint64(b[0])), u("MajorVersion", uint64(b[1])), u("MinorVersion", uint64(b[2])),
		u("Magic", uint64(b[3])), u("TotalChunks", uint64(binary.LittleEndian.Uint16(b[4:]))),
		u("ChunkNumber", uint64(binary.LittleEndian.Uint16(b[6:]))), u("PayloadLength", uint64(len(b))),
	}
}

// resolveCount returns a count given as a number or as the name of an
// earlier integer field; it is capped so that crafted counts stay cheap.
func resolveCount(ref string, fields []Field) int {
	n, err := strconv.Atoi(ref)
	if err != nil {
		for i := len(fields) - 1; i >= 0; i-- {
			if fields[i].Name == ref {
				n = int(fields[i].Uint)
				if fields[i].Int != 0 {
					n = int(fields[i].Int)
				}
				break
			}
		}
	}
	if n < 0 {
		return 0
	}
	return min(n, 1<<16)
}

// readManifestField reads one value of a manifest field.
func readManifestField(dc *decoder, f *mfField, prev []Field, maps map[string]*valueNames) Field {
	v := Field{Name: f.name}
	switch f.in {
	case "win:UnicodeString":
		v.Type = TypeUTF16Z
		if f.length != "" {
			v.Str = decodeFixedUTF16(dc.bytesf(2*resolveCount(f.length, prev), f.name))
		} else {
			v.Str = dc.utf16zf(f.name)
		}
	case "win:AnsiString":
		v.Type = TypeANSIZ
		if f.length != "" {
			v.Str = string(dc.bytesf(resolveCount(f.length, prev), f.name))
		} else {
			v.Str = dc.ansizf(f.name)
		}
	case "win:Int8":
		v.Type, v.Int = TypeI8, int64(int8(dc.u8f(f.name)))
	case "win:UInt8":
		v.Type, v.Uint = TypeU8, uint64(dc.u8f(f.name))
	case "win:Int16":
		v.Type, v.Int = TypeI16, int64(int16(dc.u16f(f.name)))
	case "win:UInt16":
		v.Type, v.Uint = TypeU16, uint64(dc.u16f(f.name))
	case "win:Int32":
		v.Type, v.Int = TypeI32, int64(int32(dc.u32f(f.name)))
	case "win:UInt32", "win:HexInt32":
		v.Type, v.Uint = TypeU32, uint64(dc.u32f(f.name))
	case "win:Int64":
		v.Type, v.Int = TypeI64, int64(dc.u64f(f.name))
	case "win:UInt64", "win:HexInt64":
		v.Type, v.Uint = TypeU64, dc.u64f(f.name)
	case "win:Float":
		v.Type, v.Uint = TypeF64, math.Float64bits(float64(math.Float32frombits(dc.u32f(f.name))))
	case "win:Double":
		v.Type, v.Uint = TypeF64, dc.u64f(f.name)
	case "win:Boolean":
		v.Type, v.Uint = TypeBool, b2u(dc.u32f(f.name) != 0)
	case "win:GUID":
		v.Type, v.GUID = TypeGUID, dc.guidf(f.name)
	case "win:Pointer":
		v.Type, v.Format, v.Uint = TypePtr, FormatHex, dc.ptrf(f.name)
	case "win:FILETIME":
		v.Type, v.Int = TypeFiletime, int64(dc.u64f(f.name))
	case "win:SYSTEMTIME":
		v.Type, v.Format = TypeFiletime, FormatSystemTime
		if b := dc.bytesf(16, f.name); len(b) == 16 {
			v.Int = systemTimeFiletime(b)
		}
	case "win:SID":
		if dc.remaining() >= 2 {
			n := int(dc.b[dc.off+1])
			v.Type, v.Str = TypeSID, FormatSID(dc.bytesf(8+4*n, f.name))
		} else {
			dc.need(2, f.name)
		}
	case "win:Binary":
		n := dc.remaining()
		if f.length != "" {
			n = resolveCount(f.length, prev)
		}
		v.Type, v.Bytes = TypeBytes, dc.bytesf(n, f.name)
	default:
		v.Type, v.Bytes = TypeBytes, dc.bytesf(dc.remaining(), f.name)
	}
	if strings.HasPrefix(f.in, "win:Hex") || f.out == "win:HexInt32" || f.out == "win:HexInt64" {
		v.Format = FormatHex
	}
	if f.out == "win:SocketAddress" && v.Type == TypeBytes {
		v.Format = FormatSockAddr
	}
	names := f.names
	if names == nil && f.mapName != "" {
		names = maps[f.mapName]
	}
	if names != nil && dc.ok() {
		x := v.Uint
		if v.Type == TypeI8 || v.Type == TypeI16 || v.Type == TypeI32 || v.Type == TypeI64 {
			x = uint64(v.Int)
		}
		v.Str = names.format(x)
	}
	return v
}

// XML shapes of an instrumentation manifest (the parts Decode uses).
type xmlManifest struct {
	Providers []xmlProvider `xml:"instrumentation>events>provider"`
	Strings   []xmlString   `xml:"localization>resources>stringTable>string"`
}

type xmlString struct {
	ID    string `xml:"id,attr"`
	Value string `xml:"value,attr"`
}

type xmlProvider struct {
	Name      string        `xml:"name,attr"`
	GUID      string        `xml:"guid,attr"`
	Tasks     []xmlTask     `xml:"tasks>task"`
	Opcodes   []xmlNamed    `xml:"opcodes>opcode"`
	ValueMaps []xmlMap      `xml:"maps>valueMap"`
	BitMaps   []xmlMap      `xml:"maps>bitMap"`
	Events    []xmlEvent    `xml:"events>event"`
	Templates []xmlTemplate `xml:"templates>template"`
}

type xmlNamed struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlTask struct {
	Name    string     `xml:"name,attr"`
	Value   string     `xml:"value,attr"`
	Opcodes []xmlNamed `xml:"opcodes>opcode"`
}

type xmlMap struct {
	Name    string `xml:"name,attr"`
	Entries []struct {
		Value   string `xml:"value,attr"`
		Message string `xml:"message,attr"`
	} `xml:"map"`
}

type xmlEvent struct {
	Value    string `xml:"value,attr"`
	Symbol   string `xml:"symbol,attr"`
	Task     string `xml:"task,attr"`
	Opcode   string `xml:"opcode,attr"`
	Template string `xml:"template,attr"`
}

type xmlTemplate struct {
	TID  string `xml:"tid,attr"`
	Data []struct {
		Name    string `xml:"name,attr"`
		InType  string `xml:"inType,attr"`
		OutType string `xml:"outType,attr"`
		Map     string `xml:"map,attr"`
		Length  string `xml:"length,attr"`
		Count   string `xml:"count,attr"`
	} `xml:"data"`
}

// parseManifest parses instrumentation-manifest XML into providers.
func parseManifest(text []byte) (map[GUID]*mfProvider, error) {
	var m xmlManifest
	if err := xml.Unmarshal(text, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", errManifest, err)
	}
	strs := map[string]string{}
	for _, s := range m.Strings {
		strs[s.ID] = s.Value
	}
	msg := func(s string) string {
		if strings.HasPrefix(s, "$(string.") && strings.HasSuffix(s, ")") {
			if v, ok := strs[s[len("$(string."):len(s)-1]]; ok {
				return v
			}
		}
		return s
	}
	out := map[GUID]*mfProvider{}
	for _, xp := range m.Providers {
		g, err := ParseGUID(strings.Trim(xp.GUID, "{}"))
		if err != nil {
			continue
		}
		p := &mfProvider{name: xp.Name, events: map[uint16]*mfEvent{}}
		maps := map[string]*valueNames{}
		for k, list := range [][]xmlMap{xp.ValueMaps, xp.BitMaps} {
			for _, xm := range list {
				vn := &valueNames{flags: k == 1}
				if vn.flags {
					// Bit maps show every entry whose bits are set, as
					// TraceEvent does, composite entries included.
					vn.sep, vn.every = "|", true
				}
				for _, e := range xm.Entries {
					v, err := strconv.ParseUint(e.Value, 0, 64)
					if err != nil {
						continue
					}
					vn.vals = append(vn.vals, v)
					vn.names = append(vn.names, msg(e.Message))
				}
				vn.sort()
				maps[xm.Name] = vn
			}
		}
		templates := map[string]*xmlTemplate{}
		for i := range xp.Templates {
			templates[xp.Templates[i].TID] = &xp.Templates[i]
		}
		for _, xe := range xp.Events {
			id, err := strconv.ParseUint(xe.Value, 0, 16)
			if err != nil {
				continue
			}
			e := &mfEvent{name: eventName(xe)}
			if t := templates[xe.Template]; t != nil {
				for _, d := range t.Data {
					e.fields = append(e.fields, mfField{
						name: d.Name, in: d.InType, out: d.OutType, length: d.Length, count: d.Count,
						names: maps[d.Map],
					})
				}
			}
			p.events[uint16(id)] = e
		}
		out[g] = p
	}
	return out, nil
}

// eventName names a manifest event as TraceEvent does: the task, then the
// opcode when there is one ("Tracing/Start"); the symbol without a task.
func eventName(xe xmlEvent) string {
	name := xe.Task
	if name == "" {
		name = xe.Symbol
		if name == "" {
			name = "EventID(" + xe.Value + ")"
		}
	}
	op := strings.TrimPrefix(xe.Opcode, "win:")
	if op == "" || op == "Info" {
		return name
	}
	return name + "/" + op
}
