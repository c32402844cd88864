package export_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/etwkit/etwkit/export"
	"github.com/google/pprof/profile"
)

// A 32-bit program leaks nonpaged "Irp " blocks through ReadFile; a driver
// without symbols allocates and frees "File" blocks.
func Example() {
	nt := &export.Module{Path: `\SystemRoot\system32\ntoskrnl.exe`, Start: 0xfffff80350a00000, Limit: 0xfffff80351a46000,
		BuildID: "3844dbb920174967be7aa4a2c20430fa1", HasFunctions: true}
	flt := &export.Module{Path: `\SystemRoot\System32\drivers\FLTMGR.SYS`, Start: 0xfffff80354200000, Limit: 0xfffff80354279000}
	ntdll64 := &export.Module{Path: `\Windows\System32\ntdll.dll`, Start: 0x7ffb1d6e0000, Limit: 0x7ffb1d8d8000, HasFunctions: true}
	ntdll32 := &export.Module{Path: `\Windows\SysWOW64\ntdll.dll`, Start: 0x77d50000, Limit: 0x77ef4000, HasFunctions: true}
	kb32 := &export.Module{Path: `\Windows\SysWOW64\KernelBase.dll`, Start: 0x76a10000, Limit: 0x76c24000, HasFunctions: true}

	samples := []export.Sample{{
		Frames: []export.Frame{
			{Address: nt.Start + 0x2a1f30, Module: nt, Function: "IopAllocateIrpPrivate", Kind: export.Kernel},
			{Address: nt.Start + 0x6b0c12, Module: nt, Function: "NtReadFile", Kind: export.Kernel},
			{Address: ntdll64.Start + 0x9d0a4, Module: ntdll64, Function: "NtReadFile", Kind: export.User},
			{Address: ntdll32.Start + 0x72ecc, Module: ntdll32, Function: "NtReadFile", SystemName: "_NtReadFile@36", Kind: export.WOW64},
			{Address: kb32.Start + 0x10a5f, Module: kb32, Function: "ReadFile", SystemName: "_ReadFile@20", Kind: export.WOW64},
		},
		Tag: "Irp ", Pool: export.PoolNonPaged, Process: "leaky.exe", PID: 4242,
		AllocObjects: 300, AllocBytes: 300 * 1024, InuseObjects: 156, InuseBytes: 156 * 1024,
	}, {
		Frames: []export.Frame{
			{Address: nt.Start + 0x9c1010, Module: nt, Function: "ExAllocatePool2", Kind: export.Kernel},
			{Address: flt.Start + 0x1a2b0, Module: flt, Kind: export.Kernel},
		},
		Tag: "File", Pool: export.PoolPaged, Process: "explorer.exe", PID: 3100,
		AllocObjects: 64, AllocBytes: 64 * 512,
	}}
	meta := export.Meta{Trace: "irp-leak.etl", Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Duration: time.Minute}

	p, err := export.Build(samples, meta, export.Options{})
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if err := export.Write(&buf, p); err != nil { // a .pb.gz file for go tool pprof
		panic(err)
	}
	q, err := profile.Parse(&buf)
	if err != nil {
		panic(err)
	}

	fmt.Println(q.Comments, "default:", q.DefaultSampleType)
	for _, s := range q.Sample {
		fmt.Printf("%q %s %s pid %d: inuse %d bytes of %d allocated\n",
			s.Label["tag"][0], s.Label["pool"][0], s.Label["process"][0], s.NumLabel["pid"][0], s.Value[3], s.Value[1])
		for _, l := range s.Location {
			fmt.Println("   ", l.Line[0].Function.Name)
		}
	}
	// Output:
	// [trace: irp-leak.etl] default: inuse_space
	// "Irp " nonpaged leaky.exe pid 4242: inuse 159744 bytes of 307200 allocated
	//     IopAllocateIrpPrivate
	//     NtReadFile
	//     NtReadFile
	//     [wow64 transition]
	//     NtReadFile
	//     ReadFile
	// "File" paged explorer.exe pid 3100: inuse 0 bytes of 32768 allocated
	//     ExAllocatePool2
	//     FLTMGR.SYS+0x1a2b0
}

// Diff compares two windows of a trace: what grew between them.
func ExampleDiff() {
	m := &export.Module{Path: `\SystemRoot\system32\ntoskrnl.exe`, Start: 0xfffff80350a00000, Limit: 0xfffff80351a46000, HasFunctions: true}
	window := func(inuse int64) *profile.Profile {
		p, err := export.Build([]export.Sample{{
			Frames: []export.Frame{{Address: m.Start + 0x10, Module: m, Function: "IopAllocateIrpPrivate"}},
			Tag:    "Irp ", InuseObjects: inuse, InuseBytes: inuse * 1024,
		}}, export.Meta{Trace: "irp-leak.etl"}, export.Options{})
		if err != nil {
			panic(err)
		}
		return p
	}
	d, err := export.Diff(window(78), window(156))
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Sample[0].Value[3], "bytes more outstanding")
	// Output: 79872 bytes more outstanding
}
