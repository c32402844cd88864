package pdb

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// largestPDB is the biggest committed test PDB (by bytes; cppdll.pdb has
// the most symbols and is also benchmarked).
const largestPDB = "x86dll.pdb"

var benchPDBs = []string{largestPDB, "cppdll.pdb"}

func BenchmarkLookup(b *testing.B) {
	for _, name := range benchPDBs {
		b.Run(name, func(b *testing.B) { benchLookup(b, name) })
	}
}

func benchLookup(b *testing.B, name string) {
	p := openPDB(b, name)
	syms, err := p.Symbols()
	if err != nil || len(syms) == 0 {
		b.Fatal(err)
	}
	lo, hi := syms[0].RVA, syms[len(syms)-1].RVA+0x100
	rng := rand.New(rand.NewPCG(1, 2))
	rvas := make([]uint32, 4096)
	for i := range rvas {
		rvas[i] = lo + rng.Uint32N(hi-lo)
	}
	b.ReportAllocs()
	i, found := 0, 0
	for b.Loop() {
		if _, _, ok := p.Lookup(rvas[i&(len(rvas)-1)]); ok {
			found++
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
	_ = found
}

func BenchmarkLine(b *testing.B) {
	p := openPDB(b, largestPDB)
	rng := rand.New(rand.NewPCG(3, 4))
	rvas := make([]uint32, 4096)
	for i := range rvas {
		rvas[i] = 0x1000 + rng.Uint32N(0x200)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Line(rvas[i&(len(rvas)-1)])
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
}

// BenchmarkOpenPDB measures Open plus building the symbol and line tables.
func BenchmarkOpenPDB(b *testing.B) {
	for _, name := range benchPDBs {
		b.Run(name, func(b *testing.B) { benchOpen(b, name) })
	}
}

func benchOpen(b *testing.B, name string) {
	data := readTestdata(b, name)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		p.Lookup(0x1000)
		p.Line(0x1000)
	}
}
