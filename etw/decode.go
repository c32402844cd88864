package etw

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file holds the generic decoder: Decode names any event whose schema
// etwkit knows (the kernel classes of schema_kernel.go, the classic classes
// KernelTraceControl and SysConfig write) and returns its fields in order
// with typed values. Names follow TraceEvent's (PerfView) so that output can
// be diffed against it: provider "Windows Kernel", event "DiskIO/Read",
// field "ElapsedTimeMSec" and so on. A few fields are derived the way
// TraceEvent derives them (times in milliseconds, build times from PE time
// stamps, bit fields); payload fields TraceEvent does not list are still
// read (they attribute PID and TID) but not returned.

// Field types used by Decode in addition to the layout types of
// kernel_layout.go.
const (
	// TypeF64 is a float64, stored as its bits in Field.Uint; Decode uses it
	// for durations in milliseconds.
	TypeF64 FieldType = iota + 64
	// TypeFiletime is a point in time as a FILETIME (100 ns ticks since
	// 1601, UTC) in Field.Int.
	TypeFiletime
	// TypeIPv4 is an IPv4 address in Field.Bytes (4 bytes, network order).
	TypeIPv4
	// TypeIPv6 is an IPv6 address in Field.Bytes (16 bytes).
	TypeIPv6
	// TypeBool is a boolean in Field.Uint (0 or 1).
	TypeBool
	// TypeI16 is a signed 16-bit integer in Field.Int.
	TypeI16
)

// FormatSystemTime marks a TypeFiletime field that the payload holds as a
// SYSTEMTIME (milliseconds resolution).
const FormatSystemTime FieldFormat = 16

// Wire forms that decode into one of the types above.
const (
	wireU16BE        FieldType = iota + 96 // port number, network order -> TypeU16
	wireUnixTime                           // u32 seconds since 1970 -> TypeFiletime
	wireTicksMS                            // u64 clock ticks -> TypeF64 milliseconds
	wireSinceMS                            // i64 raw timestamp -> TypeF64 ms until the event
	wireBool32                             // Win32 BOOL -> TypeBool
	wireBool8                              // one byte -> TypeBool
	wireFiletime                           // i64 FILETIME -> TypeFiletime
	wireSystemTime                         // SYSTEMTIME -> TypeFiletime
	wireIPv4                               // 4 bytes -> TypeIPv4
	wireIPv6                               // 16 bytes -> TypeIPv6
	wireI16                                // -> TypeI16
	wireF64                                // IEEE double -> TypeF64
	wireUTF16N                             // UTF-16 string of a fixed byte size (prop.size)
	wireCountedUTF16                       // u16 byte count + UTF-16 -> TypeUTF16Z
	wireCPU                                // no bytes: the event's processor -> TypeU16
)

// Float returns the value of a TypeF64 field.
func (f Field) Float() float64 { return math.Float64frombits(f.Uint) }

// Time returns the value of a TypeFiletime field as UTC time.
func (f Field) Time() time.Time { return FiletimeToTime(f.Int) }

// extValue and extString give Field.Value and Field.String for the types
// defined in this file.
func (f Field) extValue() (any, bool) {
	switch f.Type {
	case TypeF64:
		return f.Float(), true
	case TypeFiletime:
		return f.Time(), true
	case TypeIPv4, TypeIPv6:
		return f.ipString(), true
	case TypeBool:
		return f.Uint != 0, true
	case TypeI16:
		return f.Int, true
	}
	return nil, false
}

func (f Field) extString() (string, bool) {
	switch f.Type {
	case TypeF64:
		return strconv.FormatFloat(f.Float(), 'f', 3, 64), true
	case TypeFiletime:
		return f.Time().Format("2006-01-02T15:04:05.0000000Z"), true
	case TypeIPv4, TypeIPv6:
		return f.ipString(), true
	case TypeBool:
		if f.Uint != 0 {
			return "True", true
		}
		return "False", true
	case TypeI16:
		return strconv.FormatInt(f.Int, 10), true
	}
	return "", false
}

// ipString renders an IPv4 or IPv6 address field.
func (f Field) ipString() string {
	b := f.Bytes
	if len(b) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
	}
	if len(b) != 16 {
		return ""
	}
	// RFC 5952 style: lowercase, leading zeros dropped, the longest run
	// of two or more zero groups written "::".
	var g [8]uint16
	for i := range g {
		g[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	best, bestLen := -1, 1
	for i := 0; i < 8; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		i = j
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if i == best {
			sb.WriteString("::")
			i += bestLen - 1
			continue
		}
		if i > 0 && i != best+bestLen {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(g[i]), 16))
	}
	return sb.String()
}

// Decoded is one event as [Decode] names and decodes it.
type Decoded struct {
	// Provider is the provider name: "Windows Kernel" for the kernel
	// classes TraceEvent's kernel parser knows, "MSNT_SystemTrace" for
	// the other kernel events of the MOF, "KernelTraceControl" for image
	// identities and TDH metadata, the name a schema or [ProviderName]
	// gives, or the provider GUID when unknown.
	Provider string
	// Name is "Task/Opcode" ("DiskIO/Read", "Image/DCStart"), the task
	// alone for opcode 0 of some classes ("EventTrace"), and
	// "Task/Opcode(N)" for an opcode the schema does not name.
	Name string
	// PID and TID attribute the event to a process and thread: the
	// header's, or the ids the payload carries for records whose header
	// has none (NoPID/NoTID when neither has one).
	PID PID
	TID TID
	// Fields are the payload fields in order, with typed values.
	Fields []Field
	// Source says where the schema came from.
	Source Source
}

// Source is where Decode found an event's schema.
type Source uint8

// Schema sources.
const (
	SourceNone         Source = iota // no schema: name from the opcode or id
	SourceKernel                     // etwkit's table of classic kernel classes
	SourceTraceLogging               // the event's own TraceLogging metadata
	SourceManifest                   // a manifest the trace carries (SchemaSet)
	SourceTDH                        // TDH metadata the trace carries (SchemaSet)
)

// FullName returns "Provider/Name".
func (d *Decoded) FullName() string { return d.Provider + "/" + d.Name }

// Field returns the field called name, or false.
func (d *Decoded) Field(name string) (Field, bool) {
	for _, f := range d.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Decode names ev and decodes its payload with the schema etwkit knows for
// it. Events without a schema get their provider (name or GUID) and a name
// built from the opcode, no fields, and an error wrapping ErrUnknownEvent.
// A payload that ends inside a field yields the fields before it and a
// [*DecodeError] naming the field; Decode never reads outside the payload.
// A schema whose array counts ask for thousands of values that read no
// payload bytes yields a [*DecodeError] wrapping [ErrCorrupt].
func Decode(ev *Event) (Decoded, error) {
	d := Decoded{PID: ev.PID, TID: ev.TID}
	if ev.Header == HeaderEvent32 || ev.Header == HeaderEvent64 {
		if ok, err := decodeTraceLogging(ev, &d); ok {
			return d, err
		}
	}
	s := lookupSchema(ev)
	if s == nil && ev.Kind() != "" {
		// Classes only the layout table of kernel_layout.go has
		// (PoolTrace, StackWalk).
		return decodeLayoutTable(ev, d)
	}
	if s == nil {
		d.Provider, d.Name = fallbackName(ev)
		return d, fmt.Errorf("%w: %s", ErrUnknownEvent, eventDesc(ev))
	}
	d.Source = SourceKernel
	d.Provider = s.class.provider
	if s.provider != "" {
		d.Provider = s.provider
	}
	d.Name = s.name
	if s.layout == nil {
		return d, nil
	}
	err := s.layout.decode(ev, &d)
	return d, err
}

// decodeLayoutTable decodes ev with the layout table of kernel_layout.go.
func decodeLayoutTable(ev *Event, d Decoded) (Decoded, error) {
	d.Source = SourceKernel
	d.Provider = "Windows Kernel"
	if ev.Provider == KernelTraceControlGUID {
		d.Provider = "KernelTraceControl"
	}
	d.Name = ev.Kind()
	fields, err := DecodeFields(ev)
	d.Fields = fields
	return d, err
}

// fallbackName names an event without a schema.
func fallbackName(ev *Event) (provider, name string) {
	if ev.IsKernel() {
		return "MSNT_SystemTrace", "Hook(" + ev.Hook.String() + ")"
	}
	provider = ev.Provider.String()
	if n, ok := ProviderName(ev.Provider); ok {
		provider = n
	}
	if ev.Header == HeaderEvent32 || ev.Header == HeaderEvent64 {
		return provider, "EventID(" + itoa(uint64(ev.ID)) + ")"
	}
	return provider, "Opcode(" + itoa(uint64(ev.Opcode)) + ")"
}

// prop is one field of a schema layout.
type prop struct {
	name  string
	typ   FieldType // a layout type, a Decode type or a wire form
	fmt   FieldFormat
	names *valueNames // symbolic names of integer values
	at    int         // 1 + absolute payload offset of an overlay read; 0: next bytes
	size  int         // byte size of TypeSkip and wireUTF16N
	shift uint8       // bit field: value >> shift & mask
	mask  uint64
	hide  bool   // read but not returned
	attr  uint8  // attrPID or attrTID: the value attributes the event
	opt   bool   // trailing field older writers omit
	late  bool   // listed after the other fields
	minV  uint16 // first event version that has the field
	ref   string // derived from the earlier field of that name, no bytes read
}

const (
	attrPID = 1 + iota
	attrTID
)

// schemaLayout is the payload of events of some opcodes and versions.
type schemaLayout struct {
	opcodes    []uint8
	minV, maxV uint16
	props      []prop
	order      []string // display order of the fields, when not payload order
}

// decode reads the layout's fields from ev's payload into d.
func (l *schemaLayout) decode(ev *Event, d *Decoded) error {
	ptrSize := ev.PointerSize()
	if ptrSize == 0 {
		ptrSize = 8
	}
	var dc decoder
	dc.init(ev.Payload, ptrSize)
	all := make([]Field, 0, len(l.props))
	shown := make([]bool, 0, len(l.props))
	var late []Field
	for i := range l.props {
		p := &l.props[i]
		if ev.Version < p.minV {
			continue
		}
		if p.opt && dc.remaining() == 0 && p.at == 0 && p.ref == "" {
			break
		}
		var f Field
		if p.ref != "" {
			f = derive(p, all)
		} else {
			var ok bool
			if f, ok = readProp(&dc, p, ev); !ok {
				break
			}
		}
		switch p.attr {
		case attrPID:
			d.PID = PID(f.Uint)
		case attrTID:
			d.TID = TID(f.Uint)
		}
		if p.late && !p.hide {
			late = append(late, f)
			continue
		}
		all = append(all, f)
		shown = append(shown, !p.hide)
	}
	out := make([]Field, 0, len(all)+len(late))
	for i, f := range all {
		if shown[i] {
			out = append(out, f)
		}
	}
	out = append(out, late...)
	if l.order != nil {
		out = reorder(out, l.order)
	}
	d.Fields = out
	if !dc.ok() {
		return dc.err(eventDesc(ev))
	}
	return nil
}

// derive computes a field from the earlier field p.ref names.
func derive(p *prop, all []Field) Field {
	f := Field{Name: p.name, Type: p.typ, Format: p.fmt}
	var src Field
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Name == p.ref {
			src = all[i]
			break
		}
	}
	switch p.typ {
	case wireUnixTime:
		// The stamp counts unsigned seconds even where TraceEvent shows
		// TimeDateStamp itself as a signed number.
		secs := int64(uint32(src.Uint))
		if src.Type == TypeI32 {
			secs = int64(uint32(src.Int))
		}
		f.Type, f.Int = TypeFiletime, secs*1e7+unixEpochFiletime
	}
	return f
}

// reorder returns fields in the order of names; fields not named keep
// their relative order after the named ones.
func reorder(fields []Field, names []string) []Field {
	out := make([]Field, 0, len(fields))
	used := make([]bool, len(fields))
	for _, n := range names {
		for i, f := range fields {
			if !used[i] && f.Name == n {
				out = append(out, f)
				used[i] = true
				break
			}
		}
	}
	for i, f := range fields {
		if !used[i] {
			out = append(out, f)
		}
	}
	return out
}

// readProp reads one field; it returns false once the payload is exhausted.
func readProp(dc *decoder, p *prop, ev *Event) (Field, bool) {
	if p.at > 0 {
		// Overlay: read at an absolute offset without moving the cursor.
		sub := *dc
		sub.off = p.at - 1
		if sub.off > len(sub.b) {
			sub.off = len(sub.b)
		}
		q := *p
		q.at = 0
		f, _ := readProp(&sub, &q, ev)
		if sub.failed {
			// An overlay past the end is reported as zero, not an error:
			// it reinterprets bytes an earlier field already covered.
			f.Uint, f.Int, f.Str, f.Bytes = 0, 0, "", nil
		}
		return f, true
	}
	f := Field{Name: p.name, Type: p.typ, Format: p.fmt}
	switch p.typ {
	case wireI16:
		f.Type, f.Int = TypeI16, int64(int16(dc.u16f(p.name)))
	case wireU16BE:
		v := dc.u16f(p.name)
		f.Type, f.Uint = TypeU16, uint64(v>>8|v<<8)
	case wireUTF16N:
		f.Type = TypeUTF16Z
		f.Str = decodeFixedUTF16(dc.bytesf(p.size, p.name))
	case wireCountedUTF16:
		n := int(dc.u16f(p.name))
		f.Type = TypeUTF16Z
		f.Str = decodeFixedUTF16(dc.bytesf(n, p.name))
	case TypeSkip:
		dc.skipf(p.size, p.name)
	case wireBool32:
		f.Type = TypeBool
		f.Uint = b2u(dc.u32f(p.name) != 0)
	case wireBool8:
		f.Type = TypeBool
		f.Uint = b2u(dc.u8f(p.name)>>p.shift&1 != 0)
	case wireFiletime:
		f.Type, f.Int = TypeFiletime, int64(dc.u64f(p.name))
	case wireSystemTime:
		b := dc.bytesf(16, p.name)
		f.Type, f.Format = TypeFiletime, FormatSystemTime
		if len(b) == 16 {
			f.Int = systemTimeFiletime(b)
		}
	case wireUnixTime:
		f.Type = TypeFiletime
		f.Int = int64(dc.u32f(p.name))*1e7 + unixEpochFiletime
	case wireCPU:
		f.Type, f.Uint = TypeU16, uint64(ev.Processor)
	case wireTicksMS:
		f.Type = TypeF64
		f.Uint = math.Float64bits(ticksMS(ev, int64(dc.u64f(p.name))))
	case wireSinceMS:
		f.Type = TypeF64
		f.Uint = math.Float64bits(ticksMS(ev, ev.Timestamp-int64(dc.u64f(p.name))))
	case wireF64:
		f.Type, f.Uint = TypeF64, dc.u64f(p.name)
	case wireIPv4:
		f.Type, f.Bytes = TypeIPv4, dc.bytesf(4, p.name)
	case wireIPv6:
		f.Type, f.Bytes = TypeIPv6, dc.bytesf(16, p.name)
	default:
		dc.scalar(p.typ, p.name, &f)
	}
	if dc.failed {
		return f, false
	}
	if p.mask != 0 {
		f.Uint = f.Uint >> p.shift & p.mask
	}
	if p.names != nil {
		v := f.Uint
		if f.Type == TypeI8 || f.Type == TypeI32 || f.Type == TypeI64 || f.Type == TypeI16 {
			v = uint64(f.Int)
		}
		f.Str = p.names.format(v)
	}
	return f, true
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// unixEpochFiletime is 1970-01-01 as a FILETIME.
const unixEpochFiletime = 116444736000000000

// ticksMS converts clock ticks to milliseconds with the event's clock.
func ticksMS(ev *Event, ticks int64) float64 {
	c := ev.Clock()
	if c == nil || c.Frequency <= 0 {
		return 0
	}
	return float64(ticks) * 1000 / float64(c.Frequency)
}

// systemTimeFiletime converts a SYSTEMTIME (8 little-endian uint16) to a
// FILETIME; an invalid date gives 0.
func systemTimeFiletime(b []byte) int64 {
	w := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	y, mo, d := w(0), w(1), w(3)
	if y < 1601 || y > 30827 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0
	}
	t := time.Date(y, time.Month(mo), d, w(4), w(5), w(6), w(7)*1e6, time.UTC)
	return TimeToFiletime(t)
}

// valueNames gives symbolic names to integer values: one name per value,
// or, for flags, the names of the bits set.
type valueNames struct {
	flags bool
	sep   string // between flag names; ", " when empty
	every bool   // flags: list every named value whose bits are all set, ascending
	vals  []uint64
	names []string
}

// sort orders the values ascending, as format needs for flags.
func (n *valueNames) sort() {
	idx := make([]int, len(n.vals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(n.vals[a], n.vals[b]) })
	vals := make([]uint64, len(idx))
	names := make([]string, len(idx))
	for i, j := range idx {
		vals[i], names[i] = n.vals[j], n.names[j]
	}
	n.vals, n.names = vals, names
}

func enumOf(flags bool, kv ...any) *valueNames {
	n := &valueNames{flags: flags}
	for i := 0; i+1 < len(kv); i += 2 {
		n.vals = append(n.vals, toU64(kv[i]))
		n.names = append(n.names, kv[i+1].(string))
	}
	n.sort()
	return n
}

func toU64(v any) uint64 {
	switch x := v.(type) {
	case int:
		return uint64(x)
	case uint64:
		return x
	case uint32:
		return uint64(x)
	}
	panic("enumOf: bad value type")
}

// format renders v the way .NET renders an enum: the value's name, or for
// flags the names of its parts, largest first in the search and listed
// smallest first; the number when no name fits.
func (n *valueNames) format(v uint64) string {
	if !n.flags {
		for i, x := range n.vals {
			if x == v {
				return n.names[i]
			}
		}
		return strconv.FormatInt(int64(int32(v)), 10)
	}
	if v == 0 {
		for i, x := range n.vals {
			if x == 0 {
				return n.names[i]
			}
		}
		return "0"
	}
	if n.every {
		var parts []string
		for i, x := range n.vals {
			if x != 0 && v&x == x {
				parts = append(parts, n.names[i])
			}
		}
		if len(parts) == 0 {
			return "0x" + strconv.FormatUint(v, 16)
		}
		return strings.Join(parts, n.sep)
	}
	rest := v
	var parts []string
	for i := len(n.vals) - 1; i >= 0; i-- {
		x := n.vals[i]
		if x != 0 && rest&x == x {
			parts = append(parts, n.names[i])
			rest &^= x
			if rest == 0 {
				break
			}
		}
	}
	if rest != 0 {
		return strconv.FormatUint(v, 10)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	sep := n.sep
	if sep == "" {
		sep = ", "
	}
	return strings.Join(parts, sep)
}

// lookupSchema finds the class, name and layout of ev in the schema table.
func lookupSchema(ev *Event) *schemaHit {
	schemasOnce.Do(indexSchemas)
	var c *schemaClass
	var op uint8
	if ev.IsKernel() {
		h := ev.Hook
		if h == HookImageLoad {
			c, op = schemaByGroup[GroupImage], opImageLoad
		} else if g := h.Group(); int(g) < len(schemaByGroup) {
			c, op = schemaByGroup[g], h.Type()
		}
	} else if ev.Header == HeaderFull32 || ev.Header == HeaderFull64 ||
		ev.Header == HeaderInstance32 || ev.Header == HeaderInstance64 {
		c, op = schemaByGUID[ev.Provider], ev.Opcode
	}
	if c == nil {
		return nil
	}
	h := &schemaHit{class: c, layout: c.find(op, ev.Version)}
	switch n := c.names[op]; {
	case c.taskOnly == op+1:
		h.name = c.task
	case n != "":
		h.name = c.task + "/" + n
	case c.mof[op]:
		h.provider = "MSNT_SystemTrace"
		h.name = c.task + "/" + mofName(c, op)
	default:
		h.name = c.task + "/Opcode(" + itoa(uint64(op)) + ")"
		h.layout = nil
	}
	return h
}

// find returns the layout for opcode op and version v; a version newer
// than every known one uses the newest layout of the opcode.
func (c *schemaClass) find(op uint8, v uint16) *schemaLayout {
	var newest *schemaLayout
	for i := range c.layouts {
		l := &c.layouts[i]
		if !slices.Contains(l.opcodes, op) {
			continue
		}
		if v >= l.minV && v <= l.maxV {
			return l
		}
		if v > l.maxV && (newest == nil || l.maxV > newest.maxV) {
			newest = l
		}
	}
	return newest
}

// The schema table by kernel group and by class GUID, built by
// indexSchemas on the first lookup.
var (
	schemaByGroup [numKernelGroups]*schemaClass
	schemaByGUID  map[GUID]*schemaClass
	schemasOnce   sync.Once
)

func indexSchemas() {
	schemaByGUID = map[GUID]*schemaClass{}
	for _, c := range kernelSchemas() {
		if c.provider == "" {
			c.provider = "Windows Kernel"
		}
		if c.group >= 0 {
			schemaByGroup[c.group] = c
		}
		schemaByGUID[c.guid] = c
	}
}
