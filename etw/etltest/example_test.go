package etltest_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
)

// Write a pool allocation with its stack into an in-memory trace and read
// it back.
func ExampleNewWriter() {
	var f etltest.MemFile
	w, err := etltest.NewWriter(&f, etltest.Options{NumberOfProcessors: 2})
	if err != nil {
		log.Fatal(err)
	}
	ts := int64(etltest.DefaultStartTicks + 1000)
	alloc := etltest.Pool(8, etltest.PoolEvent{
		Meta:   etltest.Meta{TID: 0x1c94, PID: 6420, Timestamp: ts},
		Opcode: etltest.PoolAlloc, PoolType: 0x200, Tag: etltest.Tag("Irp "), Size: 1024, Entry: 0xffffc20a1c000010,
	})
	stack := etltest.StackWalk(8, etltest.Stack{Timestamp: ts + 1, EventTimeStamp: ts, PID: 6420, TID: 0x1c94,
		Frames: []uint64{0xfffff8057a5c1a5e, 0xfffff8057a4b8e11, 0x7ffd1c36d4f4, 0x77c92e6c}})
	if err := w.WriteRecord(1, ts, alloc); err != nil {
		log.Fatal(err)
	}
	if err := w.WriteRecord(1, ts+1, stack); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := etw.NewReader(&f, f.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("buffers:", r.Header().BuffersWritten, "pointer size:", r.PointerSize())
	for ev, err := range r.All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("cpu %d %-9v hook %v payload %d bytes\n", ev.Processor, ev.Header, ev.Hook, len(ev.Payload))
	}
	// Output:
	// buffers: 2 pointer size: 8
	// cpu 0 SYSTEM64  hook 0000 payload 316 bytes
	// cpu 0 SYSTEM64  hook 0050 payload 48 bytes
	// cpu 1 SYSTEM64  hook 0e20 payload 24 bytes
	// cpu 1 PERFINFO64 hook 1820 payload 48 bytes
}

// The irp-leak scenario and its ground truth.
func ExampleIrpLeak() {
	sc := etltest.IrpLeak(1, 4000)
	if err := sc.WriteTo(mustWriter(sc.WriterOptions())); err != nil {
		log.Fatal(err)
	}
	s := sc.Summary()
	irp := s.Outstanding[etltest.Tag("Irp ")]
	fmt.Printf("Irp: %d blocks, %d bytes outstanding\n", irp.Blocks, irp.Bytes)
	fmt.Printf("Toke: %d block (its free was lost), %d events lost\n", s.Outstanding[etltest.Tag("Toke")].Blocks, s.LostEvents)
	fmt.Printf("frees without allocation: %d\n", s.UnmatchedFrees)
	// Output:
	// Irp: 156 blocks, 159744 bytes outstanding
	// Toke: 1 block (its free was lost), 2 events lost
	// frees without allocation: 1
}

func ExampleScaleFull() {
	sc := etltest.ScaleFull(1, 20_000)
	if err := sc.WriteTo(mustWriter(sc.WriterOptions())); err != nil {
		log.Fatal(err)
	}
	s := sc.Summary()
	fmt.Println("stack records per pool event:", float64(s.Stacks)/float64(s.PoolAllocs+s.PoolFrees) > 1)
	fmt.Println("stack-key references:", s.StackKeyRefs)
	// Output:
	// stack records per pool event: true
	// stack-key references: 0
}

func mustWriter(o etltest.Options) *etltest.Writer {
	w, err := etltest.NewWriter(&etltest.MemFile{}, o)
	if err != nil {
		log.Fatal(err)
	}
	return w
}

func ExampleTag() {
	fmt.Printf("%#x\n", etltest.Tag("Irp "))
	// Output: 0x20707249
}

// Re-emit a trace through the reader, compressed, keeping every event.
func ExampleReemit() {
	sc := etltest.IrpLeak(1, 1000)
	src, err := sc.Bytes(sc.WriterOptions())
	if err != nil {
		log.Fatal(err)
	}
	var dst etltest.MemFile
	n, err := etltest.Reemit(&dst, bytes.NewReader(src), int64(len(src)), etltest.ReemitOptions{Compress: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("events:", n, "smaller:", dst.Size() < int64(len(src))/3)
	// Output: events: 3951 smaller: true
}
