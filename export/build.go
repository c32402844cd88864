package export

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// Sample type names, the same as Go heap profiles use, so that pprof's
// -sample_index, -inuse_space, -alloc_space, ... flags work.
const (
	SampleAllocObjects = "alloc_objects" // unit "count"
	SampleAllocSpace   = "alloc_space"   // unit "bytes"
	SampleInuseObjects = "inuse_objects" // unit "count"
	SampleInuseSpace   = "inuse_space"   // unit "bytes"
	// SampleGrowthSpace is the only sample type of [BuildGrowth] profiles:
	// bytes allocated minus bytes freed per stack over the window.
	SampleGrowthSpace = "growth_space" // unit "bytes"
)

// Label keys set on samples. "tag", "pool" and "process" are string labels,
// omitted when empty; "pid" is a numeric label, omitted when 0 (pprof's
// encoding cannot carry a unitless numeric 0).
const (
	LabelTag     = "tag"
	LabelPool    = "pool"
	LabelProcess = "process"
	LabelPID     = "pid"
)

// WOW64Transition is the function name of the marker frame inserted between
// the 64-bit and the 32-bit part of a WOW64 stack, and the name given to
// Marker frames that carry no Function.
const WOW64Transition = "[wow64 transition]"

// Limits on what is accepted, so that a profile never holds absurd values.
const (
	// MaxBuildIDLen is the longest accepted Module.BuildID: 32 GUID digits
	// plus an age of at most 8 hex digits.
	MaxBuildIDLen = 40
	minBuildIDLen = 33
)

// Build returns a pprof heap-style profile of samples: sample types
// alloc_objects/count, alloc_space/bytes, inuse_objects/count and
// inuse_space/bytes (in that order), one pprof sample per distinct (stack,
// tag, pool, process, pid) with labels tag, pool, process and pid. Samples
// whose four values are all zero are left out. The profile passes
// CheckValid; the result is a deterministic function of the input,
// including its order. See the package documentation for how stacks,
// modules and WOW64 frames are represented.
func Build(samples []Sample, meta Meta, opts Options) (*profile.Profile, error) {
	def := opts.DefaultSampleType
	switch def {
	case "":
		def = SampleInuseSpace
	case SampleAllocObjects, SampleAllocSpace, SampleInuseObjects, SampleInuseSpace:
	default:
		return nil, fmt.Errorf("%w: unknown default sample type %q", ErrInvalidInput, def)
	}
	types := []*profile.ValueType{
		{Type: SampleAllocObjects, Unit: "count"},
		{Type: SampleAllocSpace, Unit: "bytes"},
		{Type: SampleInuseObjects, Unit: "count"},
		{Type: SampleInuseSpace, Unit: "bytes"},
	}
	b, err := newBuilder(meta, opts, types, def)
	if err != nil {
		return nil, err
	}
	for i := range samples {
		s := &samples[i]
		v := [4]int64{s.AllocObjects, s.AllocBytes, s.InuseObjects, s.InuseBytes}
		if v == [4]int64{} {
			continue
		}
		if err := b.add(i, s, v[:]); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// BuildGrowth returns the growth view of samples: a profile with the single
// sample type growth_space/bytes holding each Sample's
// AllocatedMinusFreedBytes (negative values are kept; pprof sums and
// prints them as it does for -diff_base). Samples with zero growth are left
// out. Labels, stacks and mappings are as for [Build];
// Options.DefaultSampleType is ignored.
func BuildGrowth(samples []Sample, meta Meta, opts Options) (*profile.Profile, error) {
	types := []*profile.ValueType{{Type: SampleGrowthSpace, Unit: "bytes"}}
	b, err := newBuilder(meta, opts, types, SampleGrowthSpace)
	if err != nil {
		return nil, err
	}
	for i := range samples {
		s := &samples[i]
		if s.AllocatedMinusFreedBytes == 0 {
			continue
		}
		if err := b.add(i, s, []int64{s.AllocatedMinusFreedBytes}); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

type mappingKey struct {
	path, buildID string
	start, limit  uint64
}

type mappingInfo struct {
	m    *profile.Mapping
	base string // file name of the module, for synthetic names
	// flags as reported by the modules, OR-ed over equal modules
	hasFunctions, hasFilenames, hasLineNumbers bool
}

type functionKey struct {
	name, systemName, file string
}

type locationKey struct {
	m    *profile.Mapping
	addr uint64
	fn   *profile.Function
	line int64
}

type builder struct {
	p    *profile.Profile
	opts Options

	modByPtr map[*Module]*mappingInfo
	modByKey map[mappingKey]*mappingInfo
	modList  []*mappingInfo
	funcs    map[functionKey]*profile.Function
	locs     map[locationKey]*profile.Location
	samples  map[string]*profile.Sample
	marker   *profile.Location

	stack []*profile.Location // scratch: the stack being built
	key   []byte              // scratch: the sample key being built
}

func newBuilder(meta Meta, opts Options, types []*profile.ValueType, def string) (*builder, error) {
	if meta.Duration < 0 {
		return nil, fmt.Errorf("%w: negative duration %v", ErrInvalidInput, meta.Duration)
	}
	p := &profile.Profile{
		SampleType:        types,
		DefaultSampleType: def,
		// Every allocation is traced: no sampling, period 1 byte.
		PeriodType:    &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:        1,
		DurationNanos: meta.Duration.Nanoseconds(),
	}
	if !meta.Start.IsZero() {
		p.TimeNanos = meta.Start.UnixNano()
	}
	if meta.Trace != "" {
		p.Comments = append(p.Comments, "trace: "+meta.Trace)
	}
	p.Comments = append(p.Comments, meta.Comments...)
	return &builder{
		p:        p,
		opts:     opts,
		modByPtr: make(map[*Module]*mappingInfo),
		modByKey: make(map[mappingKey]*mappingInfo),
		funcs:    make(map[functionKey]*profile.Function),
		locs:     make(map[locationKey]*profile.Location),
		samples:  make(map[string]*profile.Sample),
	}, nil
}

// add adds sample s (index i of the input) with values v.
func (b *builder) add(i int, s *Sample, v []int64) error {
	fold := false
	if b.opts.FoldWOW64 {
		for j := range s.Frames {
			if s.Frames[j].Kind == WOW64 {
				fold = true
				break
			}
		}
	}
	b.stack = b.stack[:0]
	prev := Marker // kind of the previous frame kept; Marker: none
	for j := range s.Frames {
		f := &s.Frames[j]
		if f.Kind > Marker {
			return fmt.Errorf("%w: sample %d frame %d: unknown frame kind %d", ErrInvalidInput, i, j, f.Kind)
		}
		if fold && f.Kind == User {
			continue
		}
		if prev != Marker && f.Kind != Marker && (prev == WOW64) != (f.Kind == WOW64) {
			b.stack = append(b.stack, b.markerLocation())
		}
		loc, err := b.location(f)
		if err != nil {
			return fmt.Errorf("sample %d frame %d: %w", i, j, err)
		}
		b.stack = append(b.stack, loc)
		prev = f.Kind
	}

	// Key: location IDs, then the labels, each length-prefixed.
	k := b.key[:0]
	k = binary.AppendUvarint(k, uint64(len(b.stack)))
	for _, l := range b.stack {
		k = binary.AppendUvarint(k, l.ID)
	}
	for _, str := range [...]string{s.Tag, s.Pool, s.Process} {
		k = binary.AppendUvarint(k, uint64(len(str)))
		k = append(k, str...)
	}
	k = binary.AppendUvarint(k, uint64(s.PID))
	b.key = k
	if ps, ok := b.samples[string(k)]; ok {
		for n := range v {
			ps.Value[n] += v[n]
		}
		return nil
	}
	ps := &profile.Sample{
		Location: append([]*profile.Location(nil), b.stack...),
		Value:    append([]int64(nil), v...),
		Label: make(map[string][]string, 3),
	}
	if s.PID != 0 {
		// pprof's wire format drops a unitless numeric label of value 0.
		ps.NumLabel = map[string][]int64{LabelPID: {int64(s.PID)}}
	}
	if s.Tag != "" {
		ps.Label[LabelTag] = []string{s.Tag}
	}
	if s.Pool != "" {
		ps.Label[LabelPool] = []string{s.Pool}
	}
	if s.Process != "" {
		ps.Label[LabelProcess] = []string{s.Process}
	}
	b.samples[string(k)] = ps
	b.p.Sample = append(b.p.Sample, ps)
	return nil
}

func (b *builder) markerLocation() *profile.Location {
	if b.marker == nil {
		b.marker = b.intern(nil, 0, b.function(WOW64Transition, "", ""), 0)
	}
	return b.marker
}

// location returns the interned location of frame f.
func (b *builder) location(f *Frame) (*profile.Location, error) {
	if f.Kind == Marker {
		name := f.Function
		if name == "" {
			name = WOW64Transition
		}
		return b.intern(nil, f.Address, b.function(name, "", ""), 0), nil
	}
	name := f.Function
	if name == "" {
		name = f.SystemName
	}
	var mi *mappingInfo
	if f.Module != nil {
		var err error
		if mi, err = b.mapping(f.Module); err != nil {
			return nil, err
		}
		if f.Address < f.Module.Start || f.Address >= f.Module.Limit {
			return nil, fmt.Errorf("%w: address %#x outside module %s [%#x, %#x)",
				ErrInvalidInput, f.Address, f.Module.Path, f.Module.Start, f.Module.Limit)
		}
	}
	var m *profile.Mapping
	if mi != nil {
		m = mi.m
	}
	switch {
	case name != "":
		if b.opts.QualifyNames && mi != nil {
			name = mi.base + "!" + name
		}
		return b.intern(m, f.Address, b.function(name, f.SystemName, f.File), int64(f.Line)), nil
	case b.opts.LeaveUnsymbolized:
		return b.intern(m, f.Address, nil, 0), nil
	case mi != nil:
		name = mi.base + "+0x" + strconv.FormatUint(f.Address-f.Module.Start, 16)
	default:
		name = "0x" + strconv.FormatUint(f.Address, 16)
	}
	return b.intern(m, f.Address, b.function(name, "", f.File), int64(f.Line)), nil
}

func (b *builder) intern(m *profile.Mapping, addr uint64, fn *profile.Function, line int64) *profile.Location {
	k := locationKey{m: m, addr: addr, fn: fn, line: line}
	if l, ok := b.locs[k]; ok {
		return l
	}
	l := b.newLocation(m, addr, fn, line)
	b.locs[k] = l
	return l
}

func (b *builder) newLocation(m *profile.Mapping, addr uint64, fn *profile.Function, line int64) *profile.Location {
	l := &profile.Location{
		ID:      uint64(len(b.p.Location) + 1),
		Mapping: m,
		Address: addr,
	}
	if fn != nil {
		l.Line = []profile.Line{{Function: fn, Line: line}}
	}
	b.p.Location = append(b.p.Location, l)
	return l
}

func (b *builder) function(name, systemName, file string) *profile.Function {
	k := functionKey{name: name, systemName: systemName, file: file}
	if f, ok := b.funcs[k]; ok {
		return f
	}
	f := &profile.Function{
		ID:         uint64(len(b.p.Function) + 1),
		Name:       name,
		SystemName: systemName,
		Filename:   file,
	}
	b.funcs[k] = f
	b.p.Function = append(b.p.Function, f)
	return f
}

// mapping returns the mapping of module md, creating it on first use.
func (b *builder) mapping(md *Module) (*mappingInfo, error) {
	if mi, ok := b.modByPtr[md]; ok {
		return mi, nil
	}
	if md.Start >= md.Limit {
		return nil, fmt.Errorf("%w: module %s: start %#x not below limit %#x", ErrInvalidInput, md.Path, md.Start, md.Limit)
	}
	if !validBuildID(md.BuildID) {
		return nil, fmt.Errorf("%w: module %s: build ID %q is not 32 lowercase hex digits and a hex age", ErrInvalidInput, md.Path, md.BuildID)
	}
	k := mappingKey{path: md.Path, buildID: md.BuildID, start: md.Start, limit: md.Limit}
	mi, ok := b.modByKey[k]
	if !ok {
		mi = &mappingInfo{
			m: &profile.Mapping{
				ID:      uint64(len(b.p.Mapping) + 1),
				Start:   md.Start,
				Limit:   md.Limit,
				File:    md.Path,
				BuildID: md.BuildID,
			},
			base: baseName(md.Path),
		}
		b.p.Mapping = append(b.p.Mapping, mi.m)
		b.modByKey[k] = mi
		b.modList = append(b.modList, mi)
	}
	mi.hasFunctions = mi.hasFunctions || md.HasFunctions
	mi.hasFilenames = mi.hasFilenames || md.HasFilenames
	mi.hasLineNumbers = mi.hasLineNumbers || md.HasLineNumbers
	b.modByPtr[md] = mi
	return mi, nil
}

func (b *builder) finish() (*profile.Profile, error) {
	for _, mi := range b.modList {
		// Unless told otherwise every location carries a function line,
		// real or synthetic, which is what pprof's has_functions means
		// and what keeps pprof from symbolizing the mapping itself.
		mi.m.HasFunctions = mi.hasFunctions || !b.opts.LeaveUnsymbolized
		mi.m.HasFilenames = mi.hasFilenames
		mi.m.HasLineNumbers = mi.hasLineNumbers
	}
	if len(b.p.Mapping) == 0 && len(b.p.Location) > 0 {
		// pprof gives a profile without mappings a fake main mapping
		// holding every location and then warns that the main binary's
		// file name is unknown. A mapping no location uses, with a file
		// name pprof knows it cannot symbolize, prevents both.
		b.p.Mapping = append(b.p.Mapping, &profile.Mapping{ID: 1, File: noModuleFile})
	}
	if err := b.p.CheckValid(); err != nil {
		return nil, fmt.Errorf("export: built an invalid profile: %w", err)
	}
	return b.p, nil
}

// noModuleFile names the placeholder mapping of profiles whose frames all
// lie outside known modules. pprof treats base names starting with '[' as
// unsymbolizable.
const noModuleFile = "[no module]"

// baseName returns the last element of a Windows or slash-separated path.
func baseName(path string) string {
	if i := strings.LastIndexAny(path, `\/`); i >= 0 && i+1 < len(path) {
		return path[i+1:]
	}
	if path == "" {
		return "[unnamed]"
	}
	return path
}

// validBuildID reports whether id is "" or 32 lowercase hex digits followed
// by 1 to 8 lowercase hex digits of age.
func validBuildID(id string) bool {
	if id == "" {
		return true
	}
	if len(id) < minBuildIDLen || len(id) > MaxBuildIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
