package export

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	// profile.String prints times in the local zone; keep goldens stable.
	time.Local = time.UTC
	os.Exit(m.Run())
}

// checkProfile asserts the invariants every exported profile must keep:
// CheckValid passes and the profile survives Write + Parse unchanged.
func checkProfile(t *testing.T, p *profile.Profile) {
	t.Helper()
	require.NoError(t, p.CheckValid())
	var buf bytes.Buffer
	require.NoError(t, p.Write(&buf))
	q, err := profile.Parse(&buf)
	require.NoError(t, err)
	require.NoError(t, q.CheckValid())
	assert.Equal(t, p.String(), q.String(), "round trip through Write and Parse")
}

// golden compares got with testdata/<name>.golden, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./export -update to create it")
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d (run with -update if intended):\n got: %q\nwant: %q", path, i+1, g, w)
		}
	}
}

func mustBuild(t *testing.T, samples []Sample, meta Meta, opts Options) *profile.Profile {
	t.Helper()
	p, err := Build(samples, meta, opts)
	require.NoError(t, err)
	checkProfile(t, p)
	return p
}

func TestGolden(t *testing.T) {
	build := func(half int, opts Options) *profile.Profile {
		return mustBuild(t, irpLeakWindow(half), irpLeakMeta(half), opts)
	}
	growth, err := BuildGrowth(irpLeakWindow(0), irpLeakMeta(0), Options{})
	require.NoError(t, err)
	checkProfile(t, growth)
	diff, err := Diff(build(1, Options{}), build(2, Options{}))
	require.NoError(t, err)
	checkProfile(t, diff)
	merged, err := Merge(build(1, Options{}), build(2, Options{}))
	require.NoError(t, err)
	checkProfile(t, merged)

	for name, p := range map[string]*profile.Profile{
		"irp-leak":              build(0, Options{}),
		"irp-leak-fold-qualify": build(0, Options{FoldWOW64: true, QualifyNames: true, DefaultSampleType: SampleAllocSpace}),
		"irp-leak-growth":       growth,
		"irp-leak-diff":         diff,
		"irp-leak-merge":        merged,
	} {
		t.Run(name, func(t *testing.T) { golden(t, name, p.String()) })
	}
}

func TestBuildIrpLeak(t *testing.T) {
	p := mustBuild(t, irpLeakWindow(0), irpLeakMeta(0), Options{})

	types := make([]string, len(p.SampleType))
	for i, st := range p.SampleType {
		types[i] = st.Type + "/" + st.Unit
	}
	assert.Equal(t, []string{"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"}, types)
	assert.Equal(t, SampleInuseSpace, p.DefaultSampleType)
	assert.Equal(t, fxStart.UnixNano(), p.TimeNanos)
	assert.Equal(t, fxDuration.Nanoseconds(), p.DurationNanos)
	assert.Equal(t, []string{"trace: irp-leak.etl"}, p.Comments)

	// The two ledger entries of the leak are one sample.
	require.Len(t, p.Sample, 5)
	var irp *profile.Sample
	for _, s := range p.Sample {
		if s.Label[LabelTag][0] == "Irp " && s.Label[LabelProcess][0] == "leaky.exe" {
			require.Nil(t, irp, "leak split over several samples")
			irp = s
		}
	}
	require.NotNil(t, irp)
	assert.Equal(t, []int64{300, 300 * 1024, 156, 159744}, irp.Value)
	assert.Equal(t, []string{PoolNonPaged}, irp.Label[LabelPool])
	assert.Equal(t, []int64{4242}, irp.NumLabel[LabelPID])

	// Stack: kernel, 64-bit WOW64 layer, marker, 32-bit part.
	var names []string
	for _, l := range irp.Location {
		names = append(names, l.Line[0].Function.Name)
	}
	assert.Equal(t, []string{"IopAllocateIrpPrivate", "IoAllocateIrpEx", "NtReadFile", "KiSystemServiceCopyEnd",
		"NtReadFile", "whNtReadFile", "Wow64SystemServiceEx", "CpupSyscallStub", "TurboDispatchJumpAddressEnd", "RunCpuSimulation",
		WOW64Transition,
		"NtReadFile", "ReadFile", "ReadLoop", "WorkerThread", "BaseThreadInitThunk", "__RtlUserThreadStart", "RtlUserThreadStart"}, names)
	loop := irp.Location[13]
	assert.Equal(t, modLeaky.Start+0x1234, loop.Address)
	assert.Equal(t, "?ReadLoop@@YGXPAX@Z", loop.Line[0].Function.SystemName)
	assert.Equal(t, `C:\src\leaky\leaky.cpp`, loop.Line[0].Function.Filename)
	assert.Equal(t, int64(42), loop.Line[0].Line)
	assert.Equal(t, modLeaky.Path, loop.Mapping.File)
	assert.True(t, loop.Mapping.HasFilenames && loop.Mapping.HasLineNumbers)
	marker := irp.Location[10]
	assert.Nil(t, marker.Mapping)
	assert.Zero(t, marker.Address)

	// Mappings: one per distinct module; build IDs and flags as given,
	// except has_functions (see the package doc).
	byFile := map[string]*profile.Mapping{}
	for _, m := range p.Mapping {
		byFile[m.File] = m
	}
	nt := byFile[modNt.Path]
	require.NotNil(t, nt)
	assert.Equal(t, p.Mapping[0], nt, "the kernel is the main mapping")
	assert.Equal(t, modNt.Start, nt.Start)
	assert.Equal(t, modNt.Limit, nt.Limit)
	assert.Equal(t, modNt.BuildID, nt.BuildID)
	assert.True(t, nt.HasFunctions)
	assert.False(t, nt.HasFilenames || nt.HasLineNumbers)
	flt := byFile[modFlt.Path]
	require.NotNil(t, flt)
	assert.True(t, flt.HasFunctions, "synthetic names count as functions")
	assert.False(t, flt.HasFilenames || flt.HasLineNumbers)
	// leaky.exe and other.exe overlap (different processes): two mappings.
	require.NotNil(t, byFile[modLeaky.Path])
	require.NotNil(t, byFile[modOther.Path])
	assert.Len(t, p.Mapping, 13)

	// Unsymbolized frames: module+offset, address and mapping kept;
	// no module: the address.
	fnames := map[string]*profile.Location{}
	for _, l := range p.Location {
		fnames[l.Line[0].Function.Name] = l
	}
	if l := fnames["FLTMGR.SYS+0x1a2b0"]; assert.NotNil(t, l) {
		assert.Equal(t, modFlt.Start+0x1a2b0, l.Address)
		assert.Equal(t, flt, l.Mapping)
		assert.Empty(t, l.Line[0].Function.SystemName)
	}
	if l := fnames["0xfffff80361234567"]; assert.NotNil(t, l) {
		assert.Nil(t, l.Mapping)
		assert.Equal(t, uint64(0xfffff80361234567), l.Address)
	}
	assert.NotNil(t, fnames["contoso.sys+0x1234"])
	assert.NotNil(t, fnames["other.exe+0x2200"])
}

func TestBuildSharesModulesByValue(t *testing.T) {
	// Two equal Modules (one per process, as an adapter may produce) give
	// one mapping and one location per address.
	a, b := *modNtdll64, *modNtdll64
	a.HasFunctions, b.HasFunctions = false, false
	b.HasLineNumbers = true
	samples := []Sample{
		{Frames: []Frame{raw(&a, 0x10, User)}, Tag: "Aaaa", PID: 1, InuseObjects: 1, InuseBytes: 8},
		{Frames: []Frame{raw(&b, 0x10, User)}, Tag: "Aaaa", PID: 2, InuseObjects: 1, InuseBytes: 8},
	}
	p := mustBuild(t, samples, Meta{}, Options{})
	require.Len(t, p.Mapping, 1)
	require.Len(t, p.Location, 1)
	require.Len(t, p.Sample, 2, "different pids stay apart")
	assert.True(t, p.Mapping[0].HasLineNumbers, "flags are OR-ed over equal modules")
	assert.Equal(t, "ntdll.dll+0x10", p.Location[0].Line[0].Function.Name)
	assert.Zero(t, p.TimeNanos)
	assert.Empty(t, p.Comments)
}

func TestSamplesOwnTheirSlices(t *testing.T) {
	// Samples sharing a frame slice and label values get their own
	// Location and Label slices: editing one leaves the others alone.
	frames := irpStack()
	p := mustBuild(t, []Sample{
		{Frames: frames, Tag: "Irp ", PID: 1, InuseObjects: 1},
		{Frames: frames, Tag: "Irp ", PID: 2, InuseObjects: 1},
	}, Meta{}, Options{})
	require.Len(t, p.Sample, 2)
	a, b := p.Sample[0], p.Sample[1]
	assert.Equal(t, a.Location, b.Location)
	a.Location[0] = a.Location[1]
	a.Label[LabelTag][0] = "edit"
	assert.NotEqual(t, a.Location[0], b.Location[0])
	assert.Equal(t, "Irp ", b.Label[LabelTag][0])
}

func TestBuildSkipsZeroSamples(t *testing.T) {
	samples := []Sample{
		{Frames: irpStack(), Tag: "Zero"},
		{Frames: irpStack(), Tag: "Grow", AllocatedMinusFreedBytes: 64},
	}
	p := mustBuild(t, samples, Meta{}, Options{})
	assert.Empty(t, p.Sample)
	assert.Empty(t, p.Location)
	g, err := BuildGrowth(samples, Meta{}, Options{})
	require.NoError(t, err)
	checkProfile(t, g)
	require.Len(t, g.Sample, 1)
	assert.Equal(t, []int64{64}, g.Sample[0].Value)
	assert.Equal(t, SampleGrowthSpace, g.DefaultSampleType)
}

func stackNames(p *profile.Profile, s *profile.Sample) string {
	var names []string
	for _, l := range s.Location {
		if len(l.Line) == 0 {
			names = append(names, "<none>")
			continue
		}
		names = append(names, l.Line[0].Function.Name)
	}
	return strings.Join(names, " ")
}

func TestWOW64Marker(t *testing.T) {
	k := fn(modNt, 1, "k", Kernel)
	u := fn(modNtdll64, 1, "u", User)
	w := fn(modNtdll32, 1, "w", WOW64)
	m := Frame{Kind: Marker}
	named := Frame{Kind: Marker, Function: "[callback]"}
	tests := []struct {
		name   string
		frames []Frame
		opts   Options
		want   string
	}{
		{"native", []Frame{k, u, u}, Options{}, "k u u"},
		{"wow64", []Frame{k, u, w, w}, Options{}, "k u [wow64 transition] w w"},
		{"kernel then 32-bit", []Frame{k, w}, Options{}, "k [wow64 transition] w"},
		{"given marker kept, not doubled", []Frame{k, u, m, w}, Options{}, "k u [wow64 transition] w"},
		{"named marker", []Frame{k, named, w}, Options{}, "k [callback] w"},
		{"callback: 32-bit inside 64-bit", []Frame{k, u, w, u, w}, Options{},
			"k u [wow64 transition] w [wow64 transition] u [wow64 transition] w"},
		{"fold", []Frame{k, u, u, w, w}, Options{FoldWOW64: true}, "k [wow64 transition] w w"},
		{"fold keeps native stacks", []Frame{k, u}, Options{FoldWOW64: true}, "k u"},
		{"fold with given marker", []Frame{k, u, m, w}, Options{FoldWOW64: true}, "k [wow64 transition] w"},
		{"qualified", []Frame{k, u, w}, Options{QualifyNames: true},
			"ntoskrnl.exe!k ntdll.dll!u [wow64 transition] ntdll.dll!w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustBuild(t, []Sample{{Frames: tt.frames, InuseObjects: 1}}, Meta{}, tt.opts)
			require.Len(t, p.Sample, 1)
			assert.Equal(t, tt.want, stackNames(p, p.Sample[0]))
		})
	}
}

func TestFoldMergesStacks(t *testing.T) {
	// Stacks that differ only in the folded WOW64 layer become one sample.
	a := []Frame{fn(modNt, 1, "k", Kernel), fn(modWow64, 1, "x", User), fn(modNtdll32, 1, "w", WOW64)}
	b := []Frame{fn(modNt, 1, "k", Kernel), fn(modWow64, 2, "y", User), fn(modNtdll32, 1, "w", WOW64)}
	samples := []Sample{{Frames: a, InuseObjects: 1}, {Frames: b, InuseObjects: 2}}
	p := mustBuild(t, samples, Meta{}, Options{FoldWOW64: true})
	require.Len(t, p.Sample, 1)
	assert.Equal(t, []int64{0, 0, 3, 0}, p.Sample[0].Value)
	assert.Len(t, mustBuild(t, samples, Meta{}, Options{}).Sample, 2)
}

func TestNoModuleAtAll(t *testing.T) {
	// Without any mapping pprof would invent a main mapping for every
	// location and warn; Build adds an unused, unsymbolizable one.
	samples := []Sample{{Frames: []Frame{{Address: 0xfffff80300001000}, {Address: 0x7ff600001000, Kind: User}}, InuseObjects: 1}}
	p := mustBuild(t, samples, Meta{}, Options{})
	require.Len(t, p.Mapping, 1)
	assert.Equal(t, noModuleFile, p.Mapping[0].File)
	assert.True(t, p.Mapping[0].Unsymbolizable())
	for _, l := range p.Location {
		assert.Nil(t, l.Mapping)
	}
	assert.Equal(t, "0xfffff80300001000 0x7ff600001000", stackNames(p, p.Sample[0]))
	assert.Empty(t, mustBuild(t, nil, Meta{}, Options{}).Mapping, "no placeholder without locations")
}

func TestLeaveUnsymbolized(t *testing.T) {
	samples := []Sample{{Frames: []Frame{raw(modFlt, 0x10, Kernel), fn(modNt, 0x20, "f", Kernel), {Address: 5}}, InuseObjects: 1}}
	p := mustBuild(t, samples, Meta{}, Options{LeaveUnsymbolized: true})
	assert.Equal(t, "<none> f <none>", stackNames(p, p.Sample[0]))
	require.Len(t, p.Mapping, 2)
	assert.False(t, p.Mapping[0].HasFunctions, "fltmgr: flag copied as is")
	assert.True(t, p.Mapping[1].HasFunctions)
}

func TestNamesFallBack(t *testing.T) {
	// A frame with only a decorated name is named by it.
	samples := []Sample{{Frames: []Frame{{Address: modNt.Start, Module: modNt, SystemName: "?f@@YAXXZ"}}, InuseObjects: 1}}
	p := mustBuild(t, samples, Meta{}, Options{})
	f := p.Sample[0].Location[0].Line[0].Function
	assert.Equal(t, "?f@@YAXXZ", f.Name)
	assert.Equal(t, "?f@@YAXXZ", f.SystemName)
	// A module with an empty path still names its unsymbolized frames.
	anon := &Module{Start: 0x1000, Limit: 0x2000}
	p = mustBuild(t, []Sample{{Frames: []Frame{raw(anon, 0x10, User)}, InuseObjects: 1}}, Meta{}, Options{})
	assert.Equal(t, "[unnamed]+0x10", stackNames(p, p.Sample[0]))
}

func TestBuildErrors(t *testing.T) {
	bad := func(m Module) *Module { return &m }
	tests := []struct {
		name    string
		samples []Sample
		meta    Meta
		opts    Options
		want    string
	}{
		{"outside module", []Sample{{Frames: []Frame{{Address: modNt.Limit, Module: modNt}}, InuseObjects: 1}}, Meta{}, Options{},
			"sample 0 frame 0: export: invalid input: address 0xfffff80351a46000 outside module"},
		{"below module", []Sample{{InuseObjects: 1}, {Frames: []Frame{k0(), {Address: modNt.Start - 1, Module: modNt}}, InuseObjects: 1}}, Meta{}, Options{},
			"sample 1 frame 1"},
		{"empty range", []Sample{{Frames: []Frame{{Address: 1, Module: bad(Module{Path: "x", Start: 1, Limit: 1})}}, InuseObjects: 1}}, Meta{}, Options{},
			"start 0x1 not below limit 0x1"},
		{"uppercase build ID", []Sample{{Frames: []Frame{{Address: 1, Module: bad(Module{Path: "x", Limit: 2, BuildID: strings.Repeat("A", 33)})}}, InuseObjects: 1}}, Meta{}, Options{},
			"build ID"},
		{"short build ID", []Sample{{Frames: []Frame{{Address: 1, Module: bad(Module{Path: "x", Limit: 2, BuildID: "a"})}}, InuseObjects: 1}}, Meta{}, Options{},
			"build ID"},
		{"long build ID", []Sample{{Frames: []Frame{{Address: 1, Module: bad(Module{Path: "x", Limit: 2, BuildID: strings.Repeat("a", 41)})}}, InuseObjects: 1}}, Meta{}, Options{},
			"build ID"},
		{"frame kind", []Sample{{Frames: []Frame{{Kind: Marker + 1}}, InuseObjects: 1}}, Meta{}, Options{},
			"unknown frame kind 4"},
		{"duration", nil, Meta{Duration: -1}, Options{}, "negative duration"},
		{"default type", nil, Meta{}, Options{DefaultSampleType: "growth_space"}, "unknown default sample type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(tt.samples, tt.meta, tt.opts)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := BuildGrowth(nil, Meta{Duration: -time.Second}, Options{})
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func k0() Frame { return fn(modNt, 0, "k", Kernel) }

func TestFrameKindString(t *testing.T) {
	assert.Equal(t, "kernel user wow64 marker FrameKind(9)",
		strings.Join([]string{Kernel.String(), User.String(), WOW64.String(), Marker.String(), FrameKind(9).String()}, " "))
}

func TestMerge(t *testing.T) {
	first := mustBuild(t, irpLeakWindow(1), irpLeakMeta(1), Options{})
	last := mustBuild(t, irpLeakWindow(2), irpLeakMeta(2), Options{})
	m, err := Merge(first, last)
	require.NoError(t, err)
	checkProfile(t, m)
	assert.Equal(t, fxStart.UnixNano(), m.TimeNanos)
	assert.Equal(t, fxDuration.Nanoseconds(), m.DurationNanos)
	assert.Equal(t, []string{"trace: irp-leak.etl", "window: first half", "window: last half"}, m.Comments)
	var inuse, alloc int64
	for _, s := range m.Sample {
		alloc += s.Value[1]
		inuse += s.Value[3]
	}
	whole := mustBuild(t, irpLeakWindow(0), irpLeakMeta(0), Options{})
	var wholeAlloc int64
	for _, s := range whole.Sample {
		wholeAlloc += s.Value[1]
	}
	assert.Equal(t, wholeAlloc, alloc, "the halves' allocations add up to the trace's")
	assert.Equal(t, int64(78+156)*1024+2*8192, inuse)
	assert.Len(t, m.Sample, len(whole.Sample))

	// A profile without start time does not reset the merged one's.
	untimed := mustBuild(t, irpLeakWindow(2), Meta{}, Options{})
	m, err = Merge(last, untimed)
	require.NoError(t, err)
	assert.Equal(t, last.TimeNanos, m.TimeNanos)

	// Inputs untouched.
	assert.Equal(t, mustBuild(t, irpLeakWindow(1), irpLeakMeta(1), Options{}).String(), first.String())
}

// relocate returns samples with every module moved by delta, as in a trace
// of another boot (ASLR).
func relocate(samples []Sample, delta uint64) []Sample {
	moved := map[*Module]*Module{}
	out := make([]Sample, len(samples))
	for i, s := range samples {
		s.Frames = append([]Frame(nil), s.Frames...)
		for j := range s.Frames {
			f := &s.Frames[j]
			if f.Module == nil {
				continue
			}
			nm, ok := moved[f.Module]
			if !ok {
				c := *f.Module
				c.Start += delta
				c.Limit += delta
				nm = &c
				moved[f.Module] = nm
			}
			f.Module = nm
			f.Address += delta
		}
		out[i] = s
	}
	return out
}

func TestMergeTracesAcrossASLR(t *testing.T) {
	a := mustBuild(t, irpLeakWindow(0), irpLeakMeta(0), Options{})
	b := mustBuild(t, relocate(irpLeakWindow(0), 0x20000), Meta{Trace: "irp-leak-2.etl", Start: fxStart.Add(time.Hour), Duration: time.Minute}, Options{})
	m, err := Merge(a, b)
	require.NoError(t, err)
	checkProfile(t, m)
	assert.Len(t, m.Mapping, len(a.Mapping), "relocated modules merge")
	assert.Len(t, m.Sample, len(a.Sample), "relocated stacks merge")
	assert.Equal(t, 2*time.Minute, time.Duration(m.DurationNanos))
	assert.Equal(t, []string{"trace: irp-leak.etl", "trace: irp-leak-2.etl"}, m.Comments)
	for _, s := range m.Sample {
		if s.Label[LabelProcess][0] == "leaky.exe" {
			assert.Equal(t, int64(2*159744), s.Value[3])
		}
	}
}

func TestMergeReordersSampleTypes(t *testing.T) {
	a := mustBuild(t, irpLeakWindow(0), irpLeakMeta(0), Options{})
	b := a.Copy()
	// Reverse b's sample types and values.
	for i, j := 0, len(b.SampleType)-1; i < j; i, j = i+1, j-1 {
		b.SampleType[i], b.SampleType[j] = b.SampleType[j], b.SampleType[i]
	}
	for _, s := range b.Sample {
		for i, j := 0, len(s.Value)-1; i < j; i, j = i+1, j-1 {
			s.Value[i], s.Value[j] = s.Value[j], s.Value[i]
		}
	}
	before := b.String()
	m, err := Merge(a, b)
	require.NoError(t, err)
	checkProfile(t, m)
	assert.Equal(t, before, b.String(), "input untouched")
	for _, s := range m.Sample {
		if s.Label[LabelProcess][0] == "leaky.exe" {
			assert.Equal(t, []int64{600, 600 * 1024, 312, 2 * 159744}, s.Value)
		}
	}
}

func TestMergeErrors(t *testing.T) {
	heap := mustBuild(t, irpLeakWindow(0), irpLeakMeta(0), Options{})
	growth, err := BuildGrowth(irpLeakWindow(0), irpLeakMeta(0), Options{})
	require.NoError(t, err)

	_, err = Merge()
	assert.ErrorIs(t, err, ErrNoProfiles)
	_, err = Merge(heap, nil)
	assert.ErrorIs(t, err, ErrNoProfiles)
	_, err = Merge(heap, growth)
	assert.ErrorIs(t, err, ErrIncompatible)
	assert.Contains(t, err.Error(), "growth_space/bytes")
	_, err = Diff(heap, growth)
	assert.ErrorIs(t, err, ErrIncompatible)
	_, err = Diff(nil, heap)
	assert.ErrorIs(t, err, ErrNoProfiles)

	renamed := heap.Copy()
	renamed.SampleType[0] = &profile.ValueType{Type: "alloc_objects", Unit: "objects"}
	_, err = Merge(heap, renamed)
	assert.ErrorIs(t, err, ErrIncompatible)

	period := heap.Copy()
	period.PeriodType = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	_, err = Merge(heap, period)
	assert.ErrorIs(t, err, ErrIncompatible)
	period.PeriodType = nil
	_, err = Merge(heap, period)
	assert.ErrorIs(t, err, ErrIncompatible)

	broken := heap.Copy()
	broken.Sample[0].Value = broken.Sample[0].Value[:1]
	_, err = Merge(heap, broken)
	assert.ErrorIs(t, err, ErrIncompatible)
}

func TestDiff(t *testing.T) {
	first := mustBuild(t, irpLeakWindow(1), irpLeakMeta(1), Options{})
	last := mustBuild(t, irpLeakWindow(2), irpLeakMeta(2), Options{})
	d, err := Diff(first, last)
	require.NoError(t, err)
	checkProfile(t, d)
	assert.Equal(t, last.TimeNanos, d.TimeNanos)
	assert.Equal(t, last.DurationNanos, d.DurationNanos)
	assert.Equal(t, []string{"trace: irp-leak.etl", "window: last half", "base: trace: irp-leak.etl", "base: window: first half"}, d.Comments)
	var leak *profile.Sample
	for _, s := range d.Sample {
		if s.Label[LabelProcess][0] == "leaky.exe" {
			leak = s
		}
		// Allocation counts are equal in both halves; MmSt's inuse is
		// unchanged: only the Irp leak's inuse values remain.
		assert.Zero(t, s.Value[0])
		assert.Zero(t, s.Value[1])
	}
	require.Len(t, d.Sample, 1)
	require.NotNil(t, leak)
	assert.Equal(t, []int64{0, 0, 78, 79872}, leak.Value)

	self, err := Diff(last, last)
	require.NoError(t, err)
	assert.Empty(t, self.Sample)
}

func TestGrowth(t *testing.T) {
	g, err := BuildGrowth(irpLeakWindow(0), irpLeakMeta(0), Options{DefaultSampleType: "ignored"})
	require.NoError(t, err)
	checkProfile(t, g)
	require.Len(t, g.SampleType, 1)
	assert.Equal(t, "growth_space", g.SampleType[0].Type)
	assert.Equal(t, "bytes", g.SampleType[0].Unit)
	got := map[string]int64{}
	for _, s := range g.Sample {
		got[s.Label[LabelTag][0]] += s.Value[0]
	}
	assert.Equal(t, map[string]int64{"Irp ": 159744, "MmSt": -16384}, got)
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{
		`\SystemRoot\system32\ntoskrnl.exe`: "ntoskrnl.exe",
		`C:/x/y.dll`:                        "y.dll",
		`plain.sys`:                         "plain.sys",
		`odd\`:                              `odd\`,
		``:                                  "[unnamed]",
	} {
		assert.Equal(t, want, baseName(in), in)
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrInvalidInput, ErrIncompatible))
	assert.False(t, errors.Is(ErrNoProfiles, ErrIncompatible))
}
