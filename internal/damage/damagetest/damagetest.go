// Package damagetest writes the generated traces the example tools' exit
// code tests read: a complete pool-leak trace and damaged copies of it,
// made with etw/etltest's writer.
package damagetest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/etw/etltest"
)

// BufferSize is the data buffer size of the traces.
const BufferSize = 16 << 10

// Traces are the files of one generated trace and its damaged copies.
type Traces struct {
	// Complete is the whole trace (24 buffers or more).
	Complete string
	// Cut is the trace cut at a buffer boundary, half of its buffers
	// missing (no record is damaged: only BuffersWritten shows it).
	Cut string
	// BigHeader claims 16 MiB buffers in the header buffer, so the rest of
	// the file reads as one truncated buffer.
	BigHeader string
	// Corrupt has a damaged record in a data buffer.
	Corrupt string
	// Unreadable is not a trace at all.
	Unreadable string
	// CircularCut is the same trace written as a circular log file
	// (EVENT_TRACE_FILE_MODE_CIRCULAR), cut as Cut is.
	CircularCut string
	// Trailing is Complete with 10 bytes appended, too short for a
	// buffer header: damage the buffer walk finds when the trace is opened.
	Trailing string
	// CorruptZip names the member of a zip of Complete whose deflated data
	// is damaged half-way ("x.zip!trace.etl"): damage found when the
	// trace is opened, reported after the events before it.
	CorruptZip string
	// Limited is a compressed trace whose first data buffer holds
	// LimitedEvents pool allocations and whose later buffers inflate to
	// 64 KiB each: read with a memory ceiling of LimitedMaxMemory, it stops
	// with an *etw.LimitError after those events (in either order).
	Limited string
	// Buffers is the number of buffers of Complete.
	Buffers int
}

// LimitedMaxMemory is the memory ceiling, in the syntax of the tools'
// -max-memory flag, at which [Traces.Limited] stops after LimitedEvents
// pool events; LimitedEvents is that count.
const (
	LimitedMaxMemory = "32K"
	LimitedEvents    = 10
)

// Write generates the irp-leak scenario (4,000 events; with stackKeys
// the background stacks use stack keys, without them every stack is a
// full stack walk) into t's temporary folder and returns the file names.
func Write(t testing.TB, stackKeys bool) Traces {
	t.Helper()
	data := generate(t, stackKeys, 0)
	dir := t.TempDir()
	tr := Traces{Buffers: len(data) / BufferSize}
	put := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tr.Complete = put("complete.etl", data)
	tr.Cut = put("cut.etl", data[:tr.Buffers/2*BufferSize])
	big := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(big, 16<<20)
	tr.BigHeader = put("bigheader.etl", big)
	bad := append([]byte(nil), data...)
	// The first record of buffer 3 (a kernel record: its size is at +4)
	// runs past the end of the buffer.
	binary.LittleEndian.PutUint16(bad[3*BufferSize+etltest.BufferHeaderSize+4:], 0xfff8)
	tr.Corrupt = put("corrupt.etl", bad)
	tr.Unreadable = put("unreadable.etl", []byte("this is not a trace\n"))
	tr.CircularCut = put("circular-cut.etl", generate(t, stackKeys, modeCircular)[:tr.Buffers/2*BufferSize])
	tr.Trailing = put("trailing.etl", append(data[:len(data):len(data)], make([]byte, 10)...))
	tr.CorruptZip = put("corrupt.zip", corruptZip(t, data)) + "!trace.etl"
	tr.Limited = put("limited.etl", limited(t))
	return tr
}

// corruptZip returns a zip of data with its deflated bytes damaged
// half-way.
func corruptZip(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	err := etltest.WriteZip(&buf, "trace.etl", func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := zr.File[0].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	pos := off + int64(zr.File[0].CompressedSize64/2)
	for i := range int64(64) {
		b[pos+i] ^= 0xA5
	}
	return b
}

// limited writes Traces.Limited: one processor, compressed 64 KiB
// buffers, the first flushed after LimitedEvents pool allocations.
func limited(t testing.TB) []byte {
	var f etltest.MemFile
	w, err := etltest.NewWriter(&f, etltest.Options{NumberOfProcessors: 1, BufferSize: 64 << 10, Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		ts := etltest.DefaultStartTicks + 1 + int64(i)
		rec := etltest.Pool(8, etltest.PoolEvent{Meta: etltest.Meta{TID: 8, PID: 4, Timestamp: ts}, Opcode: etltest.PoolAlloc,
			Tag: etltest.Tag("Lim "), Size: 64, Entry: 0xFFFF800000000000 + uint64(i)*0x40})
		if err := w.WriteRecord(0, ts, rec); err != nil {
			t.Fatal(err)
		}
		if i == LimitedEvents-1 {
			if err := w.Flush(0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Bytes()
}

// modeCircular is EVENT_TRACE_FILE_MODE_CIRCULAR.
const modeCircular = 0x2

// generate writes the scenario with the given LogFileMode.
func generate(t testing.TB, stackKeys bool, mode uint32) []byte {
	sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 1, Events: 4000, Leak: true, StackKeys: stackKeys, Damage: true, Processors: 4, PointerSize: 8})
	o := sc.WriterOptions()
	o.BufferSize = BufferSize
	o.LogFileMode = mode
	data, err := sc.Bytes(o)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
