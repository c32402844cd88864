package etw_test

import (
	"archive/zip"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
)

// BenchmarkReadCorpus reads the largest corpus traces from memory. One op is
// one full pass over a trace; MB/s is measured on the file size (the
// decompressed size for compressed traces is larger).
func BenchmarkReadCorpus(b *testing.B) {
	for _, name := range []string{
		"airbus-cert__etl-parser__ShutdownPerfDiagLogger.etl",
		"microsoft__ebpf-for-windows__ebpforwindows.etl",
		"microsoft__Tx__Process.etl",
		"net.4.5.2.x64.etl",
	} {
		tr := corpus.Find(b, name)
		var data []byte
		if !strings.Contains(tr.Path, ".zip!") {
			var err error
			data, err = os.ReadFile(tr.Path)
			if err != nil {
				b.Fatal(err)
			}
		} else {
			data = inflate(b, tr.Path)
		}
		for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
			b.Run(tr.Name+"/"+orderName(order), func(b *testing.B) {
				events := benchRead(b, data, order)
				b.ReportMetric(float64(events)/float64(b.N), "events/op")
			})
		}
	}
}

// BenchmarkReadScale reads generated traces of the scale scenario (300,000
// records) from memory in both orders, in the two stack shapes: "keys"
// (stack-key references, etlgen -scenario scale) and "full" (full
// StackWalk records, etlgen -scenario scale -stackwalk full). One op is
// one pass; MB/s counts file bytes.
func BenchmarkReadScale(b *testing.B) {
	for _, shape := range []string{"keys", "full"} {
		sc := etltest.Scale(1, 300_000)
		if shape == "full" {
			sc = etltest.ScaleFull(1, 300_000)
		}
		data := scenarioBytes(b, sc, sc.WriterOptions())
		for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
			b.Run(shape+"/"+orderName(order), func(b *testing.B) { benchRead(b, data, order) })
		}
	}
}

// benchRead reads the trace in data in the given order once per op,
// reports MB/s, allocations and events/s, and returns the events read.
func benchRead(b *testing.B, data []byte, order etw.Order) int64 {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var events int64
	for b.Loop() {
		r, err := etw.NewReader(bytesReaderAt(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		r.SetOrder(order)
		for _, err := range r.All() {
			if err != nil {
				b.Fatal(err)
			}
			events++
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	return events
}

func orderName(o etw.Order) string {
	if o == etw.FileOrder {
		return "file"
	}
	return "time"
}

// inflate reads a zip member ("a.zip!m") wholly into memory.
func inflate(b *testing.B, path string) []byte {
	i := strings.Index(path, ".zip!")
	zr, err := zip.OpenReader(path[:i+4])
	if err != nil {
		b.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open(path[i+5:])
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		b.Fatal(err)
	}
	return data
}
