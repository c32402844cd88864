package etw_test

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/alloclimit"
	"github.com/etwkit/etwkit/internal/corpus"
)

// FuzzReader reads arbitrary bytes as an ETL file in both orders and
// touches every accessor. Contract: NewReader fails or yields a reader;
// reading ends in io.EOF after finitely many events and errors; every error
// during reading is a FormatError naming a buffer inside the file; no event
// payload lies outside its record; one run allocates no more than
// fuzzReaderAllocLimit, whatever the headers claim.
func FuzzReader(f *testing.F) {
	if dir := corpus.Path(); dir != "" {
		for _, name := range []string{
			"airbus-cert__etl-parser__lxcore_kernel.etl",
			"microsoft__perfview__smallEtlFile.etl",
			"microsoft__perfview__SelfDescribingSingleEvent.etl",
			"jtmoon79__super-speedy-syslog-searcher__SIH.20230422.034724.362.1.etl",
		} {
			if b, err := os.ReadFile(dir + "/" + name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte("not an etl file at all, just some text that is long enough to look like a header maybe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		alloclimit.Check(t, "FuzzReader run", fuzzReaderAllocLimit(len(data)), func() { fuzzReader(t, data) })
	})
}

// fuzzReaderAllocLimit is the heap ceiling of one FuzzReader run (two
// readers, one per order): per reader, its buffer index and the buffers in
// flight, each at most MaxExpansion times its bytes in the input plus a
// little, and what the test itself clones.
func fuzzReaderAllocLimit(n int) uint64 { return 16<<20 + 4*(etw.MaxExpansion+8)*uint64(n) }

// fuzzReader is one FuzzReader run.
func fuzzReader(t *testing.T, data []byte) {
	for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
		r, err := etw.NewReader(bytesReaderAt(data), int64(len(data)))
		if err != nil {
			if r != nil {
				t.Fatal("reader and error")
			}
			continue
		}
		_ = r.Header()
		_ = r.Buffers()
		if err := r.SetOrder(order); err != nil {
			t.Fatal(err)
		}
		limit := len(data) + 16
		for i := 0; ; i++ {
			if i > limit {
				t.Fatalf("more than %d results from %d bytes", limit, len(data))
			}
			ev, err := r.ReadEvent()
			if err == io.EOF {
				break
			}
			if errors.Is(err, etw.ErrLimit) {
				t.Fatalf("%d bytes of input hit a resource limit: %v", len(data), err)
			}
			if err != nil {
				var fe *etw.FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("non-format error: %v", err)
				}
				if fe.Buffer < 0 || fe.Buffer > len(r.Buffers()) || fe.Offset < 0 || fe.Offset > int64(len(data)) {
					t.Fatalf("error outside the file: %v", err)
				}
				continue
			}
			raw := ev.Raw()
			if len(ev.Payload) > len(raw) {
				t.Fatalf("payload larger than record")
			}
			_ = ev.Time()
			_ = ev.PMC()
			for range ev.ExtendedData() {
			}
			_ = ev.Clone()
		}
	}
}
