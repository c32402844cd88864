package pe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/internal/alloclimit"
)

func FuzzPE(f *testing.F) {
	for _, name := range images {
		b, err := os.ReadFile(filepath.Join(symDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		alloclimit.Check(t, "FuzzPE run", fuzzAllocLimit(len(b)), func() { fuzzPE(t, b) })
	})
}

// fuzzAllocLimit is the heap ceiling of one FuzzPE run: a fixed allowance
// plus a multiple of the input, since what a PE file holds is bounded by
// its size.
func fuzzAllocLimit(n int) uint64 { return 8<<20 + 16*uint64(n) }

// fuzzPE is one FuzzPE run.
func fuzzPE(t *testing.T, b []byte) {
	pf, err := NewFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		var fe *FormatError
		if pf != nil || !errors.As(err, &fe) {
			t.Fatalf("NewFile: file %v, error %v", pf, err)
		}
		return
	}
	exps, err := pf.Exports()
	if err != nil && exps != nil {
		t.Fatalf("Exports returned both a result and %v", err)
	}
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("Exports: error %v is not a *FormatError", err)
		}
	}
	for i := 1; i < len(exps); i++ {
		if exps[i-1].RVA > exps[i].RVA {
			t.Fatalf("exports not sorted")
		}
	}
	cv, ok, err := pf.CodeView()
	if err != nil && (ok || cv != (CodeView{})) {
		t.Fatalf("CodeView returned both a result and %v", err)
	}
	exerciseAll(pf)
	for _, e := range exps {
		if got, off, ok := pf.LookupExport(e.RVA); ok && got.RVA+off != e.RVA {
			t.Fatalf("LookupExport(%#x) = %+v+%#x", e.RVA, got, off)
		}
	}
}
