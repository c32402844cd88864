package etw_test

import (
	"fmt"
	"log"

	"github.com/etwkit/etwkit/etw"
)

// Open a trace and count its pool allocations and frees, in time order
// across processors.
func ExampleOpen() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	h := r.Header()
	fmt.Printf("%s, %d-bit, %d processors, build %d\n", h.LoggerName, h.PointerSize*8, h.NumberOfProcessors, h.OSBuild())

	allocs, frees := 0, 0
	for ev, err := range r.All() {
		if err != nil {
			log.Print(err) // damage is reported and reading goes on
			continue
		}
		if p, err := etw.DecodePool(ev); err == nil {
			if p.IsAlloc() {
				allocs++
			} else if p.IsFree() {
				frees++
			}
		}
	}
	fmt.Println(allocs, "allocations,", frees, "frees")
	// Output:
	// NT Kernel Logger, 64-bit, 4 processors, build 19045
	// 2312 allocations, 2156 frees
}

// The reader's events alias its buffers until the next call; Clone keeps
// one.
func ExampleEvent_Clone() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var first *etw.Event
	for ev, err := range r.All() {
		if err == nil && ev.Kind() == "PoolTrace/PoolAllocation" {
			first = ev.Clone()
			break
		}
	}
	p, _ := etw.DecodePool(first)
	fmt.Println(first.Kind(), p.Tag, p.Type.Kind(), p.NumberOfBytes)
	// Output:
	// PoolTrace/PoolAllocation Ntfx nonpaged 416
}

// File order gives the records as stored, buffer by buffer; per-buffer facts
// are available too.
func ExampleReader_SetOrder() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if err := r.SetOrder(etw.FileOrder); err != nil {
		log.Fatal(err)
	}
	ev, err := r.ReadEvent()
	if err != nil {
		log.Fatal(err)
	}
	b := r.Buffers()[ev.Buffer]
	fmt.Println(ev.Hook, ev.Header, b.Type == etw.BufferHeader, len(r.Buffers()))
	// Output:
	// 0000 SYSTEM64 true 41
}
