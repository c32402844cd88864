package stacks

import (
	"testing"
)

// BenchmarkSymbolize looks up addresses through a PathSymbolizer whose
// module source (the x64 test DLL's PDB, found in a plain folder) is
// already cached: the per-frame cost of symbolization. One op is one
// lookup.
func BenchmarkSymbolize(b *testing.B) {
	s, err := NewPathSymbolizer(symbolsDir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := testModule(&testing.T{}, "x64dll.dll", true)
	if _, ok := s.Symbolize(m, 0x1010); !ok {
		b.Fatal("no symbol")
	}
	rvas := []uint64{0x1005, 0x1030, 0x1075, 0x10a0, 0x1120, 0x1170, 0x11c0, 0x11d5}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Symbolize(m, rvas[i%len(rvas)])
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
}

// BenchmarkModuleLookup resolves addresses against a process map of 200
// modules. One op is one lookup.
func BenchmarkModuleLookup(b *testing.B) {
	ms := NewModules(8)
	a := ms.space(42)
	for i := range 200 {
		a.add(&Module{PID: 42, Base: 0x7ff800000000 + uint64(i)*0x100000, Size: 0x80000, Name: "m.dll", Loaded: -Always, Unloaded: Always})
	}
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		ms.Lookup(42, 0x7ff800000000+(i%200)*0x100000+0x1234, 100)
		i++
	}
}
