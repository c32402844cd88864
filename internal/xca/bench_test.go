package xca

import (
	"sync"
	"testing"
)

// benchInput is one benchmark data set: the raw bytes, split in the chunks
// compressed separately (one per ETL buffer for real data).
type benchInput struct {
	name   string
	chunks [][]byte
	total  int
}

var (
	etlBenchOnce sync.Once
	etlBench     benchInput
)

// etlBenchInput returns the decompressed contents of the corpus' compressed
// ETL buffers, or skips when the corpus is absent.
func etlBenchInput(b *testing.B) benchInput {
	etlBenchOnce.Do(func() {
		bufs := compressedBuffers(b, compressedTraces...)
		etlBench.name = "etl"
		for _, buf := range bufs {
			data := make([]byte, buf.size)
			if _, err := DecompressLZ77(data, buf.comp); err != nil {
				b.Fatal(err)
			}
			etlBench.chunks = append(etlBench.chunks, data)
			etlBench.total += len(data)
		}
	})
	if etlBench.total == 0 {
		b.Skip("no compressed ETL traces in the corpus")
	}
	return etlBench
}

func generatedBenchInput(kind string) benchInput {
	in := benchInput{name: kind}
	for i := 0; i < 16; i++ {
		c := genData(kind, 65536, uint64(i))
		in.chunks = append(in.chunks, c)
		in.total += len(c)
	}
	return in
}

type namedInput struct {
	name string
	get  func(b *testing.B) benchInput
}

var benchInputs = []namedInput{
	{"etl", etlBenchInput},
	{"records", func(*testing.B) benchInput { return generatedBenchInput("records") }},
	{"text", func(*testing.B) benchInput { return generatedBenchInput("text") }},
	{"random", func(*testing.B) benchInput { return generatedBenchInput("random") }},
}

func BenchmarkDecompress(b *testing.B) {
	for _, c := range codecs {
		for _, ni := range benchInputs {
			b.Run(c.f.String()+"/"+ni.name, func(b *testing.B) {
				in := ni.get(b)
				comp := make([][]byte, len(in.chunks))
				size := 0
				for i, ch := range in.chunks {
					comp[i] = c.compress(nil, ch)
					size += len(comp[i])
				}
				dst := make([]byte, 1<<20)
				b.SetBytes(int64(in.total))
				b.ReportAllocs()
				b.ReportMetric(float64(size)/float64(in.total), "ratio")
				for b.Loop() {
					for i, cp := range comp {
						n, err := c.decompress(dst[:len(in.chunks[i])], cp)
						if err != nil || n != len(in.chunks[i]) {
							b.Fatal(n, err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkDecompressWindowsLZ77 decodes the original Windows-compressed
// ETL buffers.
func BenchmarkDecompressWindowsLZ77(b *testing.B) {
	bufs := compressedBuffers(b, compressedTraces...)
	if len(bufs) == 0 {
		b.Skip("no compressed ETL traces in the corpus")
	}
	total := 0
	for _, buf := range bufs {
		total += buf.size
	}
	dst := make([]byte, 1<<20)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, buf := range bufs {
			if n, err := DecompressLZ77(dst[:buf.size], buf.comp); err != nil || n != buf.size {
				b.Fatal(n, err)
			}
		}
	}
	b.ReportMetric(float64(len(bufs))*float64(b.N)/b.Elapsed().Seconds(), "buffers/s")
}

func BenchmarkCompress(b *testing.B) {
	var c Compressor
	methods := []struct {
		f Format
		m func(dst, src []byte) []byte
	}{{FormatXpress, c.AppendLZ77}, {FormatLZNT1, c.AppendLZNT1}, {FormatXpressHuffman, c.AppendHuffman}}
	for _, m := range methods {
		for _, ni := range benchInputs {
			b.Run(m.f.String()+"/"+ni.name, func(b *testing.B) {
				in := ni.get(b)
				buf := make([]byte, 0, 2<<20)
				b.SetBytes(int64(in.total))
				b.ReportAllocs()
				size := 0
				for b.Loop() {
					size = 0
					for _, ch := range in.chunks {
						size += len(m.m(buf[:0], ch))
					}
				}
				b.ReportMetric(float64(size)/float64(in.total), "ratio")
			})
		}
	}
}
