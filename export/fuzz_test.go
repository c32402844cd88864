package export

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/pprof/profile"
)

// fuzzSamples decodes fuzz input into samples: a byte stream choosing
// modules (some invalid), addresses, kinds, names and values. Every input
// decodes to something.
func fuzzSamples(data []byte) []Sample {
	mods := []*Module{modNt, modFlt, modNtdll64, modNtdll32, modLeaky, modOther,
		{Path: "bad", Start: 5, Limit: 5},
		{Path: `\x\bad.dll`, Start: 0x1000, Limit: 0x2000, BuildID: "XYZ"},
		{Path: "", Start: 0, Limit: 0x100}}
	names := []string{"", "f", "NtReadFile", "?g@@YAXXZ", "[wow64 transition]", "\xff\xfe", "a::b<c>(d)"}
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	u64 := func() uint64 {
		var b [8]byte
		n := copy(b[:], data)
		data = data[n:]
		return binary.LittleEndian.Uint64(b[:])
	}
	var samples []Sample
	for len(data) > 0 && len(samples) < 64 {
		var s Sample
		depth := int(next() % 40)
		for i := 0; i < depth && len(data) > 0; i++ {
			c := next()
			f := Frame{Kind: FrameKind(c % 5), Function: names[int(c>>3)%len(names)]}
			if c&0x80 != 0 {
				f.SystemName = names[int(c>>4)%len(names)]
			}
			if m := int(next()); m < len(mods) {
				f.Module = mods[m]
				f.Address = f.Module.Start + uint64(next())*16
			} else {
				f.Address = u64()
			}
			if c&0x40 != 0 {
				f.File, f.Line = "x.c", int(c)
			}
			s.Frames = append(s.Frames, f)
		}
		s.Tag = string([]byte{next(), 'r', 'p', ' '})
		s.Pool = []string{PoolNonPaged, PoolPaged, "", "weird"}[next()%4]
		s.Process = names[int(next())%len(names)]
		s.PID = uint32(next()) * 1000
		s.AllocObjects, s.AllocBytes = int64(next()), int64(u64())
		s.InuseObjects, s.InuseBytes = int64(int8(next())), int64(next())<<10
		s.AllocatedMinusFreedBytes = int64(u64())
		if next()&1 == 0 && len(samples) > 0 {
			s.Frames = samples[len(samples)-1].Frames // shared stack
		}
		samples = append(samples, s)
	}
	return samples
}

// FuzzBuild checks Build's contract on arbitrary samples: either an error
// wrapping ErrInvalidInput and no profile, or a valid profile that
// round-trips through Write and Parse, merges with itself and diffs to
// nothing.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 0, 0, 1, 9, 2, 2, 0x12, 3, 4, 'I', 0, 0, 42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2})
	f.Add(bytes.Repeat([]byte{7, 0x2b, 1, 9, 0x13, 2, 44, 0x0a, 4, 200}, 30))
	f.Add([]byte{5, 4, 250, 1, 2, 3, 4, 5, 6, 7, 8, 2, 3, 1, 4, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		samples := fuzzSamples(data)
		for _, opts := range []Options{{}, {FoldWOW64: true, QualifyNames: true}, {LeaveUnsymbolized: true}} {
			for _, build := range []func([]Sample, Meta, Options) (*profile.Profile, error){Build, BuildGrowth} {
				p, err := build(samples, Meta{Trace: "fuzz.etl"}, opts)
				if err != nil {
					if p != nil || !errors.Is(err, ErrInvalidInput) {
						t.Fatalf("error %v with profile %v", err, p != nil)
					}
					continue
				}
				if err := p.CheckValid(); err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := Write(&buf, p); err != nil {
					t.Fatal(err)
				}
				q, err := profile.Parse(&buf)
				if err != nil {
					t.Fatal(err)
				}
				if err := q.CheckValid(); err != nil {
					t.Fatal(err)
				}
				if len(q.Sample) != len(p.Sample) || len(q.Location) != len(p.Location) {
					t.Fatalf("round trip: %d/%d samples, %d/%d locations", len(q.Sample), len(p.Sample), len(q.Location), len(p.Location))
				}
				if _, err := Merge(p, q); err != nil {
					t.Fatal(err)
				}
				d, err := Diff(q, p)
				if err != nil {
					t.Fatal(err)
				}
				if len(d.Sample) != 0 {
					t.Fatalf("diff of a profile with itself has %d samples", len(d.Sample))
				}
			}
		}
	})
}
