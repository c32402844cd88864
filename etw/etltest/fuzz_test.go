package etltest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
)

// FuzzParseBufferHeader checks that any 72 bytes parse and re-encode to
// themselves.
func FuzzParseBufferHeader(f *testing.F) {
	var seed etltest.MemFile
	w, _ := etltest.NewWriter(&seed, etltest.Options{BufferSize: 1024})
	_ = w.WriteRecord(1, 5, etltest.System(8, etltest.KernelHeader{Version: 2}))
	_ = w.Close()
	f.Add(seed.Bytes()[:72])
	f.Add(seed.Bytes()[1024 : 1024+72])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := etltest.ParseBufferHeader(b)
		if err != nil {
			if len(b) >= etltest.BufferHeaderSize || !errors.Is(err, etltest.ErrShortBuffer) {
				t.Fatalf("unexpected error %v for %d bytes", err, len(b))
			}
			return
		}
		out, _ := h.AppendBinary(nil)
		if !bytes.Equal(out, b[:etltest.BufferHeaderSize]) {
			t.Fatalf("re-encoding differs")
		}
		_ = h.Processor()
		_ = h.DataEnd()
	})
}

// FuzzWriteRecord feeds arbitrary records to the writer: it must not panic,
// and every record it accepts must come back unchanged from the reader,
// or the reader must report a format error (for records whose contents a
// reader frames differently, such as EVENT_HEADER records with broken
// extended items).
func FuzzWriteRecord(f *testing.F) {
	for _, ptr := range []int{4, 8} {
		f.Add(etltest.Pool(ptr, etltest.PoolEvent{Opcode: etltest.PoolAlloc, Tag: etltest.Tag("Irp "), Size: 1024, Entry: 0x8a000010}), uint8(1), false)
		f.Add(etltest.StackWalk(ptr, etltest.Stack{EventTimeStamp: 4, Frames: []uint64{1, 2, 3}}), uint8(2), true)
		f.Add(etltest.EventHeader(ptr, etltest.ProviderHeader{ID: 3, Ext: []etw.ExtItem{etltest.StackTrace64(0, 7)}}, []byte("x")), uint8(0), false)
		f.Add(etltest.Message(etltest.MessageHeader{OptionFlags: etltest.MessageSystemInfo}, []byte("m")), uint8(3), true)
		f.Add(etltest.PerfInfo(ptr, etltest.PerfInfoHeader{PEBS: true, PMC: []uint64{1}}), uint8(0), false)
	}
	f.Fuzz(func(t *testing.T, rec []byte, cpu uint8, compress bool) {
		var out etltest.MemFile
		w, err := etltest.NewWriter(&out, etltest.Options{BufferSize: 1024, NumberOfProcessors: 4, Compress: compress})
		if err != nil {
			t.Fatal(err)
		}
		werr := w.WriteRecord(int(cpu%4), etltest.DefaultStartTicks+1, rec)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := etw.NewReader(&out, out.Size())
		if err != nil {
			t.Fatalf("reader rejects the writer's output: %v", err)
		}
		var got [][]byte
		for ev, err := range r.All() {
			if err != nil {
				var fe *etw.FormatError
				if !errors.As(err, &fe) {
					t.Fatal(err)
				}
				return
			}
			if ev.Buffer != 0 {
				got = append(got, append([]byte(nil), ev.Raw()...))
			}
		}
		if werr != nil {
			if len(got) != 0 {
				t.Fatalf("rejected record (%v) appeared in the file", werr)
			}
			return
		}
		if len(got) != 1 || !bytes.Equal(got[0], rec) {
			t.Fatalf("accepted record came back as %d records", len(got))
		}
	})
}
