package etltest

import (
	"archive/zip"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/etw"
)

// BombOptions configures [WriteBomb].
type BombOptions struct {
	// Processors is the processor count the header claims; every
	// processor gets BuffersPerProcessor buffers (default 2048).
	Processors int
	// BufferSize is the buffer size the header claims; every data buffer
	// inflates to a full buffer of this size (default 16 MiB).
	BufferSize int
	// BuffersPerProcessor is the number of buffers of each processor
	// (default 1).
	BuffersPerProcessor int
	// PointerSize is 4 or 8 (default).
	PointerSize int
	// PerfInfo writes the pool records with PERFINFO headers instead of
	// SYSTEM headers.
	PerfInfo bool
	// Distinct is the number of distinct records in a buffer, in runs of
	// equal records (default 1). More distinct records compress less: a 16
	// MiB buffer takes 1 KB with 1, 46 KB with 3072 (as in the file of
	// issue 16) and 940 KB with 65536, an expansion of 18 times that real
	// traces could have.
	Distinct int
}

// WriteBomb writes a compression bomb to w: a trace whose header claims
// o.Processors processors and o.BufferSize-byte buffers, and whose every
// data buffer is an XPRESS stream that inflates to a full buffer of pool
// allocation records. The file is small (a 16 MiB buffer of identical
// records compresses to about 46 KB) but a reader that merges the
// processors in time order, trusting the headers, needs Processors ×
// BufferSize bytes at once. It returns the bytes written.
//
// Every buffer is laid out as Windows writes it; only the sizes are
// hostile. One buffer is compressed and copied to every processor, so
// building even the 94 MB default takes well under a second.
func WriteBomb(w io.Writer, o BombOptions) (int64, error) {
	if o.Processors == 0 {
		o.Processors = maxProcessors
	}
	if o.BufferSize == 0 {
		o.BufferSize = etw.MaxBufferSize
	}
	if o.BuffersPerProcessor == 0 {
		o.BuffersPerProcessor = 1
	}
	if o.PointerSize == 0 {
		o.PointerSize = 8
	}
	if o.Processors < 1 || o.Processors > maxProcessors || o.BuffersPerProcessor < 1 {
		return 0, fmt.Errorf("%w: bomb of %d processors × %d buffers", ErrBadOptions, o.Processors, o.BuffersPerProcessor)
	}
	// Fill one buffer of processor 0, then one record more so that it
	// completes; the second buffer is dropped.
	var mf MemFile
	wr, err := NewWriter(&mf, Options{PointerSize: o.PointerSize, NumberOfProcessors: o.Processors, BufferSize: o.BufferSize, Compress: true})
	if err != nil {
		return 0, err
	}
	m := Meta{TID: 4, PID: 4, Timestamp: DefaultStartTicks + 1}
	if o.PerfInfo {
		m.Kind = HeaderPerfInfo
	}
	e := PoolEvent{Meta: m, Opcode: PoolAlloc, PoolType: 1, Tag: Tag("Bomb"), Size: 64, Entry: 0xFFFF800000001000}
	rec := Pool(o.PointerSize, e)
	step := (len(rec) + 7) &^ 7
	count := (o.BufferSize-BufferHeaderSize)/step + 1
	run := max(1, count/max(1, o.Distinct))
	for i := range count {
		if i%run == 0 && i > 0 {
			e.Entry += 0x1010
			e.Size = e.Entry % 4093
			rec = Pool(o.PointerSize, e)
		}
		if err := wr.WriteRecord(0, m.Timestamp, rec); err != nil {
			return 0, err
		}
	}
	if err := wr.Close(); err != nil {
		return 0, err
	}
	file := mf.Bytes()
	hdr, err := ParseBufferHeader(file)
	if err != nil {
		return 0, err
	}
	head := file[:hdr.BufferSize]
	bh, err := ParseBufferHeader(file[len(head):])
	if err != nil {
		return 0, err
	}
	data := file[len(head) : len(head)+int(bh.BufferSize)]
	n, err := w.Write(head)
	total := int64(n)
	if err != nil {
		return total, err
	}
	buf := make([]byte, len(data))
	copy(buf, data)
	seq := int64(0)
	for k := range o.BuffersPerProcessor {
		for cpu := range o.Processors {
			bh.ProcessorIndex = uint16(cpu)
			bh.SequenceNumber = seq
			bh.TimeStamp = m.Timestamp + int64(k)
			seq++
			bh.put(buf)
			n, err := w.Write(buf)
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// WriteZip writes a zip archive to w with one deflated member, name, whose
// content is what write produces. It is the wrapper in which traces are
// attached to bug reports.
func WriteZip(w io.Writer, name string, write func(io.Writer) error) error {
	zw := zip.NewWriter(w)
	f, err := zw.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		return err
	}
	return zw.Close()
}
