package pooltag

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds crafted pooltag.txt files: Parse must never panic,
// fail only with ErrFormat or a scanner error, and every entry it keeps
// must be found again by its tag.
func FuzzParse(f *testing.F) {
	f.Add([]byte("\ufeffrem comment\r\nIrp  - nt!io      - Io, IRP packets\r\n"))
	f.Add([]byte("// x\nAb - desc\nAb - second\n;x\n"))
	f.Add([]byte("Toolong - x\n"))
	f.Add([]byte(" - x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(bytes.NewReader(data))
		if err != nil {
			if tab != nil {
				t.Fatal("table with an error")
			}
			if !errors.Is(err, ErrFormat) && !bytes.Contains([]byte(err.Error()), []byte("line")) {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for tag, e := range tab.entries {
			if len(tag) != 4 || e.Tag != tag {
				t.Fatalf("entry %q under %q", e.Tag, tag)
			}
			if got, ok := tab.Lookup(tag); !ok || got != e {
				t.Fatalf("Lookup(%q) = %v, %v", tag, got, ok)
			}
			_ = tab.Describe(tag)
		}
	})
}
