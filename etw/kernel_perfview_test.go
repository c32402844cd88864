package etw_test

import (
	"errors"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
)

// TestPerfViewWOW64 reads the PerfView traces and checks the 32-bit
// records (EVENT_HEADER32 from the 32-bit PerfView and CLR providers,
// FULL_HEADER32 KernelTraceControl records) decode with 4-byte pointers,
// and that their extended-data stacks decode with the frame size of the
// item (STACK_TRACE64 items occur on EVENT_HEADER32 records).
func TestPerfViewWOW64(t *testing.T) {
	for _, name := range []string{"net.4.5.x86.etl.zip!PerfViewData.etl", "net.4.5.2.x64.etl.zip!net.4.5.2.x64.etl"} {
		t.Run(name, func(t *testing.T) {
			tr := corpus.Find(t, name)
			r, err := etw.Open(tr.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.SetOrder(etw.FileOrder)
			var narrow, stacks, frames, decoded32 int
			for ev, err := range r.All() {
				if err != nil {
					if errors.Is(err, etw.ErrUnsupportedCompression) {
						t.Skipf("reader cannot decompress this trace yet: %v", err)
					}
					t.Fatalf("ReadEvent: %v", err)
				}
				if st, ok := ev.ExtStack(); ok {
					stacks++
					if !st.IsKey && st.Len() == 0 {
						t.Errorf("empty stack item on %v event at %d", ev.Header, ev.Timestamp)
					}
					for f := range st.Frames() {
						if f == 0 && st.PointerSize() == 4 {
							t.Errorf("zero frame in a 32-bit stack")
						}
						frames++
					}
				}
				if ev.PointerSize() != 4 {
					continue
				}
				narrow++
				if ev.Kind() == "" {
					continue
				}
				fields, err := etw.DecodeFields(ev)
				if err != nil {
					t.Errorf("%s (%v) at %d: %v", ev.Kind(), ev.Header, ev.Timestamp, err)
					continue
				}
				decoded32++
				for _, f := range fields {
					if f.Type == etw.TypePtr && f.Uint > 0xFFFFFFFF {
						t.Errorf("%s: pointer field %s = %#x in a 32-bit record", ev.Kind(), f.Name, f.Uint)
					}
				}
				if ev.Kind() == "KernelTraceControl/DbgID_RSDS" {
					d, err := etw.DecodeDbgID(ev)
					if err != nil || d.PDBFileName == "" {
						t.Errorf("DbgID_RSDS in a 32-bit record: %+v, %v", d, err)
					}
				}
			}
			if narrow == 0 {
				t.Fatal("no 32-bit records")
			}
			if stacks == 0 || frames == 0 {
				t.Fatalf("no extended-data stacks (%d items, %d frames)", stacks, frames)
			}
			t.Logf("%d 32-bit records (%d of decoded classes), %d stack items, %d frames", narrow, decoded32, stacks, frames)
		})
	}
}
