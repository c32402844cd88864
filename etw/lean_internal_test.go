package etw

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// leanRecord builds a kernel record: a SYSTEM (32-byte) or PERFINFO
// (16-byte) header of the given type, version and hook, then payload.
func leanRecord(htype HeaderType, version uint16, hook HookID, payload []byte) []byte {
	hs := 32
	if htype == HeaderPerfInfo32 || htype == HeaderPerfInfo64 {
		hs = 16
	}
	b := make([]byte, hs+len(payload))
	binary.LittleEndian.PutUint16(b, version)
	b[2], b[3] = byte(htype), markerTraceHeader|markerEventTrace
	binary.LittleEndian.PutUint16(b[4:], uint16(len(b)))
	binary.LittleEndian.PutUint16(b[6:], uint16(hook))
	if hs == 32 {
		binary.LittleEndian.PutUint32(b[8:], 0x1c3c)
		binary.LittleEndian.PutUint32(b[12:], 0x0a54)
		binary.LittleEndian.PutUint64(b[16:], 0x01d9_0000_1234)
		binary.LittleEndian.PutUint32(b[24:], 7)
		binary.LittleEndian.PutUint32(b[28:], 9)
	} else {
		binary.LittleEndian.PutUint64(b[8:], 0x01d9_0000_1234)
	}
	copy(b[hs:], payload)
	return b
}

// FuzzFrameLean checks lean framing against full framing on arbitrary
// bytes, with every hook lean: a record frameLean takes, frameRecord takes
// too, at the same size and without an error; the fields lean framing sets
// are the full ones; and completing the lean Event gives the full one,
// whatever an earlier record left in it.
func FuzzFrameLean(f *testing.F) {
	pl := make([]byte, 40)
	for i := range pl {
		pl[i] = byte(i * 7)
	}
	f.Add(leanRecord(HeaderSystem64, 2, HookPoolAlloc, pl[:24]), []byte{})
	f.Add(leanRecord(HeaderPerfInfo64, 2, HookStackWalk, pl), leanRecord(HeaderSystem64, 2, HookPoolFree, pl[:24]))
	f.Add(leanRecord(HeaderSystem32, 2, HookStackKeyKernel, pl[:16]), []byte{})
	f.Add(leanRecord(HeaderPerfInfo32, 2|perfInfoPEBSFlag, HookStackWalk, pl), []byte{})
	f.Add(leanRecord(HeaderPerfInfo64, 2|1<<8, HookPoolAlloc, pl), []byte{})
	f.Add(leanRecord(HeaderSystem64, 2, HookPoolAlloc, pl[:24])[:40], []byte{})
	var every leanHooks
	for i := range every {
		every[i] = ^uint64(0)
	}
	f.Fuzz(func(t *testing.T, rec, earlier []byte) {
		var full, lean Event
		fsize, ferr := frameRecord(&full, rec, 0, len(rec))
		// Whatever an earlier record (framed in full, as a stream's
		// Event may hold) left in the Event.
		frameRecord(&lean, earlier, 0, len(earlier))
		lean.Processor, lean.Buffer, lean.Offset, lean.inComp = 3, 5, 77, true
		size := frameLean(&lean, &every, rec, 0, len(rec))
		if size == 0 {
			return
		}
		if ferr != nil || fsize != size {
			t.Fatalf("lean framing took %d bytes; full framing: %d, %v", size, fsize, ferr)
		}
		if lean.Header != full.Header || lean.Hook != full.Hook || lean.PID != full.PID || lean.TID != full.TID ||
			lean.Timestamp != full.Timestamp || string(lean.Payload) != string(full.Payload) || string(lean.raw) != string(full.raw) ||
			cap(lean.Payload) != cap(full.Payload) || !lean.lean {
			t.Fatalf("lean fields differ:\n%+v\n%+v", lean, full)
		}
		lean.complete()
		if lean.Processor != 3 || lean.Buffer != 5 || lean.Offset != 77 || !lean.inComp {
			t.Fatalf("complete lost the buffer-derived fields: %+v", lean)
		}
		full.Processor, full.Buffer, full.Offset, full.inComp = 3, 5, 77, true
		if !reflect.DeepEqual(lean, full) {
			t.Fatalf("completed lean event differs:\n%+v\n%+v", lean, full)
		}
	})
}
