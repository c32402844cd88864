package etw_test

import (
	"encoding/binary"
	"fmt"

	"github.com/etwkit/etwkit/etw"
)

// poolAllocPayload builds the payload of a 64-bit PoolAllocation event.
func poolAllocPayload(typ etw.PoolType, tag etw.PoolTag, size, entry uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(typ))
	b = binary.LittleEndian.AppendUint32(b, uint32(tag))
	b = binary.LittleEndian.AppendUint64(b, size)
	return binary.LittleEndian.AppendUint64(b, entry)
}

func ExampleDecodePool() {
	tag, _ := etw.ParsePoolTag("Irp")
	// A PoolAllocation record (hook 0x0E20) as the reader delivers it.
	ev := &etw.Event{
		Header:  etw.HeaderPerfInfo64,
		Hook:    0x0E20,
		Version: 2,
		Payload: poolAllocPayload(0x200, tag, 0x90, 0xffffc30d12345670),
	}
	p, err := etw.DecodePool(ev)
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.Kind())
	fmt.Printf("%q %s nx=%v %d bytes at %#x alloc=%v\n", p.Tag.String(), p.Type.Kind(), p.Type.IsNX(), p.NumberOfBytes, p.Entry, p.IsAlloc())
	// Output:
	// PoolTrace/PoolAllocation
	// "Irp " nonpaged nx=true 144 bytes at 0xffffc30d12345670 alloc=true
}

func ExampleDecodeFields() {
	tag, _ := etw.ParsePoolTag("MmSt")
	ev := &etw.Event{
		Header:  etw.HeaderSystem64,
		Hook:    0x0E22, // PoolFree
		Version: 2,
		Payload: poolAllocPayload(1, tag, 0, 0xffffa00012340000),
	}
	fields, err := etw.DecodeFields(ev)
	if err != nil {
		panic(err)
	}
	for _, f := range fields {
		fmt.Printf("%s=%s\n", f.Name, f)
	}
	// Output:
	// Type=1
	// Tag=MmSt
	// NumberOfBytes=0x0
	// Entry=0xffffa00012340000
}

func ExampleDecodeStack() {
	p := binary.LittleEndian.AppendUint64(nil, 1942903333) // EventTimeStamp
	p = binary.LittleEndian.AppendUint32(p, 4)             // StackProcess
	p = binary.LittleEndian.AppendUint32(p, 584)           // StackThread
	p = binary.LittleEndian.AppendUint64(p, 0xfffff80020c1d003)
	p = binary.LittleEndian.AppendUint64(p, 0xfffff88000dce191)
	ev := &etw.Event{Header: etw.HeaderPerfInfo64, Hook: etw.HookStackWalk, Version: 2, Payload: p}
	s, err := etw.DecodeStack(ev)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Process, s.Thread, s.Len())
	for f := range s.Frames() {
		fmt.Printf("%#x\n", f)
	}
	// Output:
	// 4 584 2
	// 0xfffff80020c1d003
	// 0xfffff88000dce191
}

func ExamplePoolTag_String() {
	fmt.Printf("%q\n", etw.PoolTag(0x20707249).String())
	fmt.Println(etw.PoolTag(0x00416141))
	// Output:
	// "Irp "
	// AaA\x00
}
