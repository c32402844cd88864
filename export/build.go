package export

import (
	"encoding/binary"
	"fmt"
	"regexp"
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

// AllocatorFrames is a regular expression, in pprof's drop_frames syntax
// (it must match a whole function name), of the kernel pool allocator's
// functions: the ExAllocatePool* family (ExAllocatePoolWithTag,
// ExAllocatePool2, ...), the ExpAllocate* internals and ExAllocateHeapPool,
// with or without a "module!" prefix. [Build] and [BuildGrowth] set it as
// the profile's DropFrames when a symbolized frame matches it, so that
// pprof shows the allocation site as the innermost frame, as Go heap
// profiles drop the runtime's malloc frames. The profile keeps the frames
// themselves: pprof drops them when it loads the file (pprof versions with
// -all_frames show them again), and [Options.KeepAllocatorFrames] leaves
// them unmarked.
const AllocatorFrames = `(?:[^!]*!)?(?:ExAllocatePool\w*|ExpAllocate\w*|ExAllocateHeapPool\w*)`

var allocatorRx = regexp.MustCompile(`^(?:` + AllocatorFrames + `)$`)

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
	b, err := newBuilder(meta, opts, types, def, samples)
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
	b, err := newBuilder(meta, opts, types, SampleGrowthSpace, samples)
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
	// frames caches the location of each distinct frame value, stacks the
	// locations of each frame slice already seen (callers commonly share
	// one []Frame among the samples of a stack).
	frames map[frameKey]frameEntry
	stacks map[stackKey][]*profile.Location

	// Slabs: profile objects are carved out of chunks to spare the
	// allocator and the garbage collector.
	locSlab    []profile.Location
	lineSlab   []profile.Line
	funcSlab   []profile.Function
	sampleSlab []profile.Sample
	valueSlab  []int64
	stackSlab  []*profile.Location
	labelSlab  []string

	stack []*profile.Location // scratch: the stack being built
	key   []byte              // scratch: the sample key being built
}

// frameKey is the cheap-to-hash part of a frame; frameEntry holds the rest,
// compared on every hit.
type frameKey struct {
	module  *Module
	address uint64
	kind    FrameKind
}

type frameEntry struct {
	loc   *profile.Location
	frame *Frame // the first frame seen with this key, in the caller's input
}

func (e *frameEntry) matches(f *Frame) bool {
	g := e.frame
	return g.Function == f.Function && g.SystemName == f.SystemName && g.File == f.File && g.Line == f.Line
}

type stackKey struct {
	first *Frame
	n     int
}

func newBuilder(meta Meta, opts Options, types []*profile.ValueType, def string, samples []Sample) (*builder, error) {
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
	// Size the tables for the usual case of stacks sharing most frames:
	// growing big maps costs more than a moderate overestimate.
	var frames int
	for i := range samples {
		frames += len(samples[i].Frames)
	}
	locHint := min(frames/8, maxSizeHint)
	sampleHint := min(len(samples), maxSizeHint)
	return &builder{
		p:        p,
		opts:     opts,
		modByPtr: make(map[*Module]*mappingInfo),
		modByKey: make(map[mappingKey]*mappingInfo),
		funcs:    make(map[functionKey]*profile.Function, locHint),
		locs:     make(map[locationKey]*profile.Location, locHint),
		samples:  make(map[string]*profile.Sample, sampleHint),
		frames:   make(map[frameKey]frameEntry, locHint),
		stacks:   make(map[stackKey][]*profile.Location, sampleHint),
	}, nil
}

// add adds sample s (index i of the input) with values v.
func (b *builder) add(i int, s *Sample, v []int64) error {
	var sk stackKey
	if len(s.Frames) > 0 {
		sk = stackKey{first: &s.Frames[0], n: len(s.Frames)}
	}
	stack, ok := b.stacks[sk]
	if !ok {
		if err := b.buildStack(i, s.Frames); err != nil {
			return err
		}
		stack = append([]*profile.Location(nil), b.stack...)
		b.stacks[sk] = stack
	}

	// Key: location IDs, then the labels, each length-prefixed.
	k := b.key[:0]
	k = binary.AppendUvarint(k, uint64(len(stack)))
	for _, l := range stack {
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
	if len(b.sampleSlab) == 0 {
		b.sampleSlab = make([]profile.Sample, slabSize)
	}
	ps := &b.sampleSlab[0]
	b.sampleSlab = b.sampleSlab[1:]
	if len(b.valueSlab) < len(v) {
		b.valueSlab = make([]int64, slabSize*len(v))
	}
	// Each sample gets its own slices, so that callers may edit one
	// sample without affecting another.
	if len(b.stackSlab) < len(stack) {
		b.stackSlab = make([]*profile.Location, max(len(stack), slabSize*16))
	}
	ps.Location = b.stackSlab[:len(stack):len(stack)]
	b.stackSlab = b.stackSlab[len(stack):]
	copy(ps.Location, stack)
	ps.Value = b.valueSlab[:len(v):len(v)]
	b.valueSlab = b.valueSlab[len(v):]
	copy(ps.Value, v)
	ps.Label = make(map[string][]string, 3)
	if s.PID != 0 {
		// pprof's wire format drops a unitless numeric label of value 0.
		ps.NumLabel = map[string][]int64{LabelPID: {int64(s.PID)}}
	}
	if s.Tag != "" {
		ps.Label[LabelTag] = b.label(s.Tag)
	}
	if s.Pool != "" {
		ps.Label[LabelPool] = b.label(s.Pool)
	}
	if s.Process != "" {
		ps.Label[LabelProcess] = b.label(s.Process)
	}
	b.samples[string(k)] = ps
	b.p.Sample = append(b.p.Sample, ps)
	return nil
}

// buildStack sets b.stack to the locations of frames (sample i), with
// WOW64 markers inserted and, if asked, the WOW64 layer folded.
func (b *builder) buildStack(i int, frames []Frame) error {
	fold := false
	if b.opts.FoldWOW64 {
		for j := range frames {
			if frames[j].Kind == WOW64 {
				fold = true
				break
			}
		}
	}
	b.stack = b.stack[:0]
	prev := Marker // kind of the previous frame kept; Marker: none
	for j := range frames {
		f := &frames[j]
		if f.Kind > Marker {
			return fmt.Errorf("%w: sample %d frame %d: unknown frame kind %d", ErrInvalidInput, i, j, f.Kind)
		}
		if fold && f.Kind == User {
			continue
		}
		if prev != Marker && f.Kind != Marker && (prev == WOW64) != (f.Kind == WOW64) {
			b.stack = append(b.stack, b.markerLocation())
		}
		fk := frameKey{module: f.Module, address: f.Address, kind: f.Kind}
		e, ok := b.frames[fk]
		if !ok || !e.matches(f) {
			loc, err := b.location(f)
			if err != nil {
				return fmt.Errorf("sample %d frame %d: %w", i, j, err)
			}
			if !ok {
				b.frames[fk] = frameEntry{loc: loc, frame: f}
			}
			e.loc = loc
		}
		b.stack = append(b.stack, e.loc)
		prev = f.Kind
	}
	return nil
}

// label returns a one-element slice holding v.
func (b *builder) label(v string) []string {
	if len(b.labelSlab) == 0 {
		b.labelSlab = make([]string, slabSize)
	}
	l := b.labelSlab[:1:1]
	b.labelSlab = b.labelSlab[1:]
	l[0] = v
	return l
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
	if len(b.locSlab) == 0 {
		b.locSlab = make([]profile.Location, slabSize)
	}
	l := &b.locSlab[0]
	b.locSlab = b.locSlab[1:]
	l.ID, l.Mapping, l.Address = uint64(len(b.p.Location)+1), m, addr
	if fn != nil {
		if len(b.lineSlab) == 0 {
			b.lineSlab = make([]profile.Line, slabSize)
		}
		l.Line = b.lineSlab[:1:1]
		b.lineSlab = b.lineSlab[1:]
		l.Line[0] = profile.Line{Function: fn, Line: line}
	}
	b.p.Location = append(b.p.Location, l)
	return l
}

func (b *builder) function(name, systemName, file string) *profile.Function {
	k := functionKey{name: name, systemName: systemName, file: file}
	if f, ok := b.funcs[k]; ok {
		return f
	}
	if len(b.funcSlab) == 0 {
		b.funcSlab = make([]profile.Function, slabSize)
	}
	f := &b.funcSlab[0]
	b.funcSlab = b.funcSlab[1:]
	f.ID, f.Name, f.SystemName, f.Filename = uint64(len(b.p.Function)+1), name, systemName, file
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
	if !b.opts.KeepAllocatorFrames {
		for _, fn := range b.p.Function {
			if allocatorRx.MatchString(fn.Name) {
				b.p.DropFrames = AllocatorFrames
				break
			}
		}
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

// maxSizeHint caps the initial size of the builder's tables.
const maxSizeHint = 1 << 18

// slabSize is the number of objects allocated at once for a slab.
const slabSize = 1024

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
