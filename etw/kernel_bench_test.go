package etw

import (
	"testing"
)

// BenchmarkDecodePool measures decoding one PoolAllocation event (one op =
// one DecodePool call); it must not allocate.
func BenchmarkDecodePool(b *testing.B) {
	for _, c := range []struct {
		name string
		h    HeaderType
		ptr  int
	}{{"PERFINFO64", HeaderPerfInfo64, 8}, {"SYSTEM32", HeaderSystem32, 4}} {
		b.Run(c.name, func(b *testing.B) {
			p := (&payloadBuilder{ptr: c.ptr}).u32(0x200).u32(0x20707249).ptrv(0x90).ptrv(0x8a001000).b
			ev := poolEvent(c.h, 0x20, p)
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			var sum uint64
			for b.Loop() {
				e, err := DecodePool(ev)
				if err != nil {
					b.Fatal(err)
				}
				sum += e.NumberOfBytes
			}
			_ = sum
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkPoolEventDecode is BenchmarkDecodePool through the method that
// fills a caller's PoolEvent (one op = one event).
func BenchmarkPoolEventDecode(b *testing.B) {
	p := (&payloadBuilder{ptr: 8}).u32(0x200).u32(0x20707249).ptrv(0x90).ptrv(0x8a001000).b
	ev := poolEvent(HeaderPerfInfo64, 0x20, p)
	b.ReportAllocs()
	var e PoolEvent
	var sum uint64
	for b.Loop() {
		if err := e.Decode(ev); err != nil {
			b.Fatal(err)
		}
		sum += e.NumberOfBytes
	}
	_ = sum
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeStackKey compares DecodeStackKey with StackKey.Decode on
// a 64-bit StackKeyKernel record (one op = one event).
func BenchmarkDecodeStackKey(b *testing.B) {
	p := (&payloadBuilder{ptr: 8}).u64(0x1234).u32(4).u32(8).ptrv(0xffffa00012340000).b
	ev := &Event{Header: HeaderPerfInfo64, Hook: HookStackKeyKernel, Opcode: opStackKeyKernel, Payload: p}
	b.Run("func", func(b *testing.B) {
		b.ReportAllocs()
		var sum uint64
		for b.Loop() {
			k, err := DecodeStackKey(ev)
			if err != nil {
				b.Fatal(err)
			}
			sum += k.Key
		}
		_ = sum
	})
	b.Run("method", func(b *testing.B) {
		b.ReportAllocs()
		var k StackKey
		var sum uint64
		for b.Loop() {
			if err := k.Decode(ev); err != nil {
				b.Fatal(err)
			}
			sum += k.Key
		}
		_ = sum
	})
}

// BenchmarkDecodeStack measures decoding a 32-frame Stack event and
// walking its frames (one op = one event).
func BenchmarkDecodeStack(b *testing.B) {
	pb := (&payloadBuilder{ptr: 8}).u64(1).u32(4).u32(8)
	for i := range 32 {
		pb.ptrv(0xfffff80000001000 + uint64(i))
	}
	ev := stackEvent(HeaderPerfInfo64, opStack, pb.b)
	b.ReportAllocs()
	b.SetBytes(int64(len(pb.b)))
	var sum uint64
	for b.Loop() {
		s, err := DecodeStack(ev)
		if err != nil {
			b.Fatal(err)
		}
		for f := range s.Frames() {
			sum += f
		}
	}
	_ = sum
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeImage measures decoding an Image DCStart v3 event with a
// typical path (one op = one event; the FileName string is the only
// allocation).
func BenchmarkDecodeImage(b *testing.B) {
	p, _ := synth(imageV3, 8)
	ev := &Event{Header: HeaderPerfInfo64, Hook: HookID(GroupImage)<<8 | opImageDCStart, Version: 3, Payload: p}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := DecodeImage(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKind measures Event.Kind (one op = one lookup).
func BenchmarkKind(b *testing.B) {
	ev := poolEvent(HeaderPerfInfo64, 0x22, nil)
	b.ReportAllocs()
	for b.Loop() {
		if ev.Kind() == "" {
			b.Fatal("no kind")
		}
	}
}

func TestDecodePoolAllocs(t *testing.T) {
	ev := poolEvent(HeaderPerfInfo64, 0x21, (&payloadBuilder{ptr: 8}).u32(0x21).u32(0x20707249).ptrv(0x90).ptrv(0x8a001000).u32(1).b)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := DecodePool(ev); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodePool allocates %v times per event", n)
	}
	sev := stackEvent(HeaderPerfInfo64, opStack, make([]byte, 16+8*10))
	if n := testing.AllocsPerRun(100, func() {
		s, err := DecodeStack(sev)
		if err != nil {
			t.Fatal(err)
		}
		for range s.Frames() {
		}
		_ = poolEvent(HeaderPerfInfo64, 0x20, nil).Kind()
	}); n != 0 {
		t.Errorf("DecodeStack/Kind allocate %v times per event", n)
	}
}
