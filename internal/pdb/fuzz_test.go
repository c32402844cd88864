package pdb

import (
	"bytes"
	"errors"
	"testing"

	"github.com/etwkit/etwkit/internal/alloclimit"
)

func FuzzPDB(f *testing.F) {
	for _, tt := range images {
		b := readTestdata(f, tt.pdb)
		f.Add(b)
		// A 512-byte-block copy: a different layout, and a smaller seed.
		p, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(repack(f, p, 512))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		alloclimit.Check(t, "FuzzPDB run", fuzzAllocLimit(len(b)), func() {
			p, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				var fe *FormatError
				if p != nil || !errors.As(err, &fe) {
					t.Fatalf("Open: file %v, error %v", p, err)
				}
				return
			}
			exerciseAll(t, p)
		})
	})
}

// fuzzAllocLimit is the heap ceiling of one FuzzPDB run: a fixed allowance
// plus a multiple of the input, since what a PDB holds is bounded by its
// size.
func fuzzAllocLimit(n int) uint64 { return 16<<20 + 32*uint64(n) }
