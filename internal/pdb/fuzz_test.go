package pdb

import (
	"bytes"
	"errors"
	"testing"
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
}
