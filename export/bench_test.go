package export

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// benchSamples returns samples for nStacks distinct stacks (two tags each)
// holding blocks outstanding blocks in all. Stacks are 20 to 36 frames deep:
// kernel frames (ntoskrnl and unsymbolized drivers), then either native
// user frames or the WOW64 layer and 32-bit frames, like real pool stacks.
func benchSamples(nStacks int, blocks int64) []Sample {
	r := rand.New(rand.NewPCG(1, 2))
	drivers := []*Module{modFlt, modContoso}
	kfuncs := make([]string, 400)
	for i := range kfuncs {
		kfuncs[i] = fmt.Sprintf("KernelFunction%03d", i)
	}
	ufuncs := make([]string, 400)
	for i := range ufuncs {
		ufuncs[i] = fmt.Sprintf("UserFunction%03d", i)
	}
	// Functions live at fixed offsets so that locations repeat across
	// stacks as in real traces.
	kframe := func() Frame {
		i := r.IntN(len(kfuncs))
		return fn(modNt, uint64(i)*0x1000+uint64(r.IntN(4))*0x10, kfuncs[i], Kernel)
	}
	uframe := func(m *Module, kind FrameKind) Frame {
		i := r.IntN(len(ufuncs))
		return fn(m, (uint64(i)*0x100+uint64(r.IntN(4))*0x8)%(m.Limit-m.Start), ufuncs[i], kind)
	}
	tags := []string{"Irp ", "File", "MmSt", "Toke", "Ntfx", "CcSc"}
	pools := []string{PoolNonPaged, PoolPaged}
	perSample := blocks / int64(2*nStacks)
	samples := make([]Sample, 0, 2*nStacks)
	for s := 0; s < nStacks; s++ {
		var frames []Frame
		for i := 0; i < 6+r.IntN(6); i++ {
			frames = append(frames, kframe())
		}
		d := drivers[r.IntN(len(drivers))]
		frames = append(frames, raw(d, uint64(r.IntN(int(d.Limit-d.Start))), Kernel), kframe(), kframe())
		process, pid := "native.exe", uint32(1000+s%50)
		if s%2 == 0 {
			frames = append(frames, uframe(modNtdll64, User), uframe(modWow64, User), uframe(modWow64cpu, User), uframe(modWow64, User))
			for i := 0; i < 6+r.IntN(8); i++ {
				frames = append(frames, uframe(modLeaky, WOW64))
			}
			frames = append(frames, uframe(modKernel3232, WOW64), uframe(modNtdll32, WOW64))
			process = "leaky.exe"
		} else {
			frames = append(frames, uframe(modNtdll64, User), uframe(modKernelBase64, User))
			for i := 0; i < 6+r.IntN(8); i++ {
				frames = append(frames, raw(modExplorer, uint64(r.IntN(0x40000)), User))
			}
		}
		for t := 0; t < 2; t++ {
			samples = append(samples, Sample{
				Frames: frames, Tag: tags[(s+t)%len(tags)], Pool: pools[t], Process: process, PID: pid,
				AllocObjects: 2 * perSample, AllocBytes: 2 * perSample * 256,
				InuseObjects: perSample, InuseBytes: perSample * 256, AllocatedMinusFreedBytes: perSample * 256,
			})
		}
	}
	return samples
}

// BenchmarkBuild exports 1,000,000 outstanding blocks over 10,000 stacks
// (20,000 samples). One op is a whole export: Build, plus for the "+"
// variants the gzip-compressed protobuf encoding by [Write] or by
// [profile.Profile.Write].
func BenchmarkBuild(b *testing.B) {
	const stacks, blocks = 10000, 1000000
	samples := benchSamples(stacks, blocks)
	meta := irpLeakMeta(0)
	for _, write := range []string{"", "Write", "profile.Write"} {
		name := "build"
		if write != "" {
			name = "build+" + write
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				p, err := Build(samples, meta, Options{})
				if err != nil {
					b.Fatal(err)
				}
				switch write {
				case "Write":
					err = Write(io.Discard, p)
				case "profile.Write":
					err = p.Write(io.Discard)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if cpu := cpuTime() - cpu0; cpu0 > 0 {
				// On a shared machine wall time overstates the cost; CPU
				// time (all threads: includes the GC's) does not.
				b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
			}
			b.ReportMetric(float64(blocks)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(samples)), "ns/sample")
		})
	}
}

func TestBenchSamples(t *testing.T) {
	samples := benchSamples(100, 10000)
	var inuse int64
	for _, s := range samples {
		inuse += s.InuseObjects
	}
	if inuse != 10000 || len(samples) != 200 {
		t.Fatalf("got %d blocks in %d samples", inuse, len(samples))
	}
	p := mustBuild(t, samples, Meta{}, Options{})
	if len(p.Sample) != 200 {
		t.Fatalf("got %d pprof samples, want 200", len(p.Sample))
	}
}
