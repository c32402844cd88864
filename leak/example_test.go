package leak_test

import (
	"fmt"
	"log"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// The whole job on the leak fixture: the leaking tag, its stack (resolved,
// with the WOW64 layers counted) and the pprof profile.
func Example() {
	res, err := leak.Run("../testdata/irp-leak.etl", leak.Options{}) // also "x.etl.zip", "a.zip!member"
	if err != nil {
		log.Fatal(err)
	}
	t := res.Report.Tags[0] // by outstanding bytes
	fmt.Printf("%q %s: %d blocks, %d bytes outstanding\n", t.Tag.String(), t.Pool, t.OutstandingCount, t.OutstandingBytes)
	s := res.Stacks[0]
	fmt.Printf("stack of %s: %d kernel, %d user, %d wow64 frames; innermost %s\n",
		s.Process, s.Segments.Kernel, s.Segments.User, s.Segments.WOW64, s.Frames[0])
	p, err := res.Profile("irp-leak.etl", export.Options{}) // export.Write(f, p) writes the .pb.gz
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(p.Sample), "pprof samples")
	// Output:
	// "Irp " nonpaged: 156 blocks, 159744 bytes outstanding
	// stack of ReadLeak.exe: 6 kernel, 9 user, 8 wow64 frames; innermost ntoskrnl.exe+0x3c1a5e
	// 12 pprof samples
}

// The chain assembled by hand, for a custom analyzer: stack walks attached
// to pool events by a correlator, allocations grouped in the ledger by the
// correlator's stack ID (pool.Op.Key), and each outstanding stack resolved
// against the process's modules and converted for package export.
func Example_custom() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ledger := pool.NewLedger(pool.Options{Frequency: r.Clock().Frequency,
		Start: r.HeaderEvent().Timestamp, PointerSize: r.PointerSize()})
	mods := stacks.NewModules(r.PointerSize())
	corr := stacks.NewCorrelator(stacks.Options{
		PointerSize: r.PointerSize(),
		Wait:        stacks.WaitFor(r.Clock()),
		Want:        func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID },
		Emit: func(ev *etw.Event, id stacks.StackID) {
			var pe etw.PoolEvent
			if pe.Decode(ev) != nil || !(pe.IsAlloc() || pe.IsFree()) {
				return
			}
			op := leak.PoolOp(ev, &pe)
			op.Key = uint64(id)
			ledger.Apply(&op)
		},
	})
	for ev, err := range r.All() {
		if err != nil {
			continue // damage is a *etw.FormatError; reading goes on
		}
		mods.Event(ev)
		corr.Event(ev)
	}
	corr.Finish()
	mods.Finish()

	resolver := &stacks.Resolver{Modules: mods, PointerSize: r.PointerSize()}
	var conv leak.FrameExporter
	top := ledger.Finish().Stacks[0]
	s := corr.Stack(stacks.StackID(top.Key))
	frames := resolver.Resolve(s.PID, s.Time, s.Frames())
	fmt.Printf("%q: %d blocks, %d frames\n", top.Tag.String(), top.OutstandingCount, len(frames))
	ef := conv.Frames(frames)
	fmt.Println(ef[0].Kind, ef[len(ef)-1].Kind, ef[len(ef)-1].Module.Path)
	// Output:
	// "Irp ": 156 blocks, 23 frames
	// kernel wow64 \Device\HarddiskVolume3\Windows\SysWOW64\ntdll.dll
}

// The verdict of the shipped fixture: which tag leaks, who holds it, and
// who allocates it (without symbols, the kernel's own frames cannot be told
// from the pool allocator's).
func ExampleResult_verdict() {
	res, err := leak.Run("../testdata/irp-leak.etl", leak.Options{})
	if err != nil {
		log.Fatal(err)
	}
	v := res.Verdict
	fmt.Printf("%q %s: %d bytes, leak rank %d\n", v.Tag, v.Pool, v.OutstandingBytes, v.LeakRank)
	fmt.Println("caller:", v.Caller)
	for _, line := range v.Lines() {
		fmt.Println(line)
	}
	// Output:
	// "Irp " nonpaged: 159744 bytes, leak rank 1
	// caller: ReadLeak.exe+0x11a3
	// "Irp " leaks nonpaged pool: 156 blocks, 159744 bytes outstanding, growing 16807.9 bytes/s (R² 1.00), leak rank 1.
	// Held by ReadLeak.exe (pid 6420, 159744 bytes).
	// Allocated by the kernel itself (ntoskrnl.exe+0x3c1a5e, unsymbolized), asked for by ReadLeak.exe+0x11a3.
	// That stack holds 100% of the tag's outstanding bytes.
}
