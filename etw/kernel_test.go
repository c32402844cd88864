package etw

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func poolEvent(h HeaderType, op uint8, p []byte) *Event {
	ev := &Event{Header: h, Version: 2, Payload: p}
	if h.IsKernel() {
		ev.Hook = HookID(GroupPool)<<8 | HookID(op)
	} else {
		ev.Provider, ev.Opcode = PoolGUID, op
	}
	return ev
}

func TestDecodePool(t *testing.T) {
	tag, _ := ParsePoolTag("Irp")
	for _, c := range []struct {
		h    HeaderType
		op   uint8
		p    []byte
		want PoolEvent
	}{
		{HeaderPerfInfo64, 0x20, (&payloadBuilder{ptr: 8}).u32(0x200).u32(uint32(tag)).u64(0x90).u64(0xffffc30d12345670).b,
			PoolEvent{Op: PoolAlloc, Type: 0x200, Tag: tag, NumberOfBytes: 0x90, Entry: 0xffffc30d12345670}},
		{HeaderSystem64, 0x22, (&payloadBuilder{ptr: 8}).u32(1).u32(uint32(tag)).u64(0).u64(0xffffc30d12345670).b,
			PoolEvent{Op: PoolFree, Type: 1, Tag: tag, Entry: 0xffffc30d12345670}},
		{HeaderSystem32, 0x21, (&payloadBuilder{ptr: 4}).u32(0x21).u32(uint32(tag)).u32(0x40).u32(0x8a001000).u32(3).b,
			PoolEvent{Op: PoolSessionAlloc, Type: 0x21, Tag: tag, NumberOfBytes: 0x40, Entry: 0x8a001000, SessionID: 3}},
		{HeaderPerfInfo32, 0x23, (&payloadBuilder{ptr: 4}).u32(0x20).u32(uint32(tag)).u32(0).u32(0x8a001000).u32(1).b,
			PoolEvent{Op: PoolSessionFree, Type: 0x20, Tag: tag, Entry: 0x8a001000, SessionID: 1}},
		{HeaderFull64, 0x20, (&payloadBuilder{ptr: 8}).u32(0x10000000).u32(uint32(tag)).u64(0x10000).u64(0xffff800000000000).u32(0xdead).b,
			PoolEvent{Op: PoolAlloc, Type: 0x10000000, Tag: tag, NumberOfBytes: 0x10000, Entry: 0xffff800000000000}},
		{HeaderSystem64, 0x28, []byte{1, 2, 3}, PoolEvent{Op: PoolSnapDCStart, Raw: []byte{1, 2, 3}}},
	} {
		ev := poolEvent(c.h, c.op, c.p)
		got, err := DecodePool(ev)
		if err != nil {
			t.Fatalf("%v op %#x: %v", c.h, c.op, err)
		}
		if got.Op != c.want.Op || got.Type != c.want.Type || got.Tag != c.want.Tag || got.NumberOfBytes != c.want.NumberOfBytes ||
			got.Entry != c.want.Entry || got.SessionID != c.want.SessionID || !slices.Equal(got.Raw, c.want.Raw) {
			t.Errorf("%v op %#x: got %+v, want %+v", c.h, c.op, got, c.want)
		}
		if ev.Kind() != "PoolTrace/"+c.want.Op.String() {
			t.Errorf("Kind %q, op %v", ev.Kind(), c.want.Op)
		}
	}
	// Short payload: the error names the field and wraps ErrShortPayload.
	_, err := DecodePool(poolEvent(HeaderSystem64, 0x21, make([]byte, 25)))
	var de *DecodeError
	if !errors.As(err, &de) || de.Field != "SessionId" || de.Offset != 24 || !errors.Is(err, ErrShortPayload) {
		t.Fatalf("short session alloc: %v", err)
	}
	if _, err := DecodePool(poolEvent(HeaderSystem32, 0x20, make([]byte, 11))); !errors.As(err, &de) || de.Field != "NumberOfBytes" {
		t.Fatalf("short alloc: %v", err)
	}
}

func TestPoolOpPredicates(t *testing.T) {
	for _, c := range []struct {
		op                   PoolOp
		alloc, free, session bool
		name                 string
	}{
		{PoolAlloc, true, false, false, "PoolAllocation"},
		{PoolSessionAlloc, true, false, true, "SessionPoolAllocation"},
		{PoolFree, false, true, false, "PoolFree"},
		{PoolSessionFree, false, true, true, "SessionPoolFree"},
		{PoolBigPage, false, false, false, "BigPoolPage"},
		{PoolSessionBigSnapEnd, false, false, true, "SessionBigPoolSnapDCEnd"},
		{0x30, false, false, false, "PoolOp(0x30)"},
	} {
		e := PoolEvent{Op: c.op}
		if e.IsAlloc() != c.alloc || e.IsFree() != c.free || e.IsSession() != c.session || c.op.String() != c.name {
			t.Errorf("%v: alloc %v free %v session %v name %q", c.op, e.IsAlloc(), e.IsFree(), e.IsSession(), c.op.String())
		}
	}
}

func TestPoolType(t *testing.T) {
	for _, c := range []struct {
		t                    PoolType
		kind                 string
		paged, nx, sess, big bool
		base                 PoolType
	}{
		{0, "nonpaged", false, false, false, false, 0},
		{1, "paged", true, false, false, false, 1},
		{5, "paged", true, false, false, false, 5},
		{4, "nonpaged", false, false, false, false, 4},
		{0x200, "nonpaged", false, true, false, false, 0x200},
		{0x20, "nonpaged-session", false, false, true, false, 0x20},
		{0x21, "paged-session", true, false, true, false, 0x21},
		{0x220, "nonpaged-session", false, true, true, false, 0x220},
		{0x10000001, "paged", true, false, false, true, 1},
		{0x10000200, "nonpaged", false, true, false, true, 0x200},
	} {
		if c.t.Kind().String() != c.kind || c.t.IsPaged() != c.paged || c.t.IsNX() != c.nx || c.t.IsSession() != c.sess ||
			c.t.IsBigPool() != c.big || c.t.Base() != c.base {
			t.Errorf("%#x: kind %s paged %v nx %v session %v big %v base %#x", uint32(c.t), c.t.Kind(), c.t.IsPaged(),
				c.t.IsNX(), c.t.IsSession(), c.t.IsBigPool(), uint32(c.t.Base()))
		}
	}
}

func TestPoolTag(t *testing.T) {
	for _, c := range []struct {
		v PoolTag
		s string
	}{
		{0x20707249, "Irp "},
		{0x6d4d6d4d, "MmMm"},
		{0x00000041, `A\x00\x00\x00`},
		{0xe1656c46, `Fle\xe1`}, // a protected tag (high bit set)
		{0x5c5c5c5c, `\x5c\x5c\x5c\x5c`},
	} {
		if got := c.v.String(); got != c.s {
			t.Errorf("%#x: %q, want %q", uint32(c.v), got, c.s)
		}
		back, err := ParsePoolTag(c.s)
		if err != nil || back != c.v {
			t.Errorf("ParsePoolTag(%q) = %#x, %v", c.s, uint32(back), err)
		}
		mt, _ := c.v.MarshalText()
		if string(mt) != c.s {
			t.Errorf("MarshalText %q", mt)
		}
	}
	if v, _ := ParsePoolTag("Irp"); v != 0x20707249 {
		t.Errorf("ParsePoolTag(Irp) = %#x", uint32(v))
	}
	if _, err := ParsePoolTag("Toolong"); err == nil {
		t.Error("ParsePoolTag accepted 7 characters")
	}
}

func stackEvent(h HeaderType, op uint8, p []byte) *Event {
	return &Event{Header: h, Hook: HookID(GroupStackWalk)<<8 | HookID(op), Version: 2, Payload: p}
}

func TestDecodeStack(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		h := HeaderPerfInfo64
		k, u := uint64(0xfffff80012345678), uint64(0x7ff612340000)
		if ptr == 4 {
			h, k, u = HeaderPerfInfo32, 0x82345678, 0x401000
		}
		p := (&payloadBuilder{ptr: ptr}).u64(123456789).u32(4).u32(8).ptrv(k).ptrv(u).b
		// A trailing partial frame is ignored.
		s, err := DecodeStack(stackEvent(h, opStack, append(p, 0xAA)))
		if err != nil {
			t.Fatal(err)
		}
		if s.EventTimeStamp != 123456789 || s.Process != 4 || s.Thread != 8 || s.Len() != 2 || s.Frame(0) != k || s.Frame(1) != u ||
			!slices.Equal(slices.Collect(s.Frames()), []uint64{k, u}) || s.PointerSize() != ptr {
			t.Errorf("ptr %d: %+v", ptr, s)
		}
		key, err := DecodeStackKey(stackEvent(h, opStackKeyUser, (&payloadBuilder{ptr: ptr}).u64(5).u32(6).u32(7).ptrv(k).b))
		if err != nil || key != (StackKey{EventTimeStamp: 5, Process: 6, Thread: 7, Key: k}) {
			t.Errorf("key: %+v %v", key, err)
		}
		def, err := DecodeStackKeyDef(stackEvent(h, opKeyRundown, (&payloadBuilder{ptr: ptr}).ptrv(k).ptrv(u).ptrv(u+1).b))
		if err != nil || def.Key != k || def.Opcode != opKeyRundown || !slices.Equal(def.AppendFrames(nil), []uint64{u, u + 1}) {
			t.Errorf("def: %+v %v", def, err)
		}
	}
	_, err := DecodeStack(stackEvent(HeaderPerfInfo64, opStack, make([]byte, 10)))
	var de *DecodeError
	if !errors.As(err, &de) || de.Field != "StackProcess" {
		t.Fatalf("short stack: %v", err)
	}
	if _, err := DecodeStack(stackEvent(HeaderPerfInfo64, opStackKeyUser, make([]byte, 24))); !errors.Is(err, ErrUnknownEvent) {
		t.Fatalf("DecodeStack on a key event: %v", err)
	}
}

// extItem encodes one EVENT_HEADER extended data item.
func extItem(typ ExtType, data []byte, more bool) []byte {
	n := 8 + (len(data)+7)&^7
	b := make([]byte, n)
	binary.LittleEndian.PutUint16(b, uint16(n))
	binary.LittleEndian.PutUint16(b[2:], uint16(typ))
	if more {
		binary.LittleEndian.PutUint16(b[4:], 1)
	}
	binary.LittleEndian.PutUint16(b[6:], uint16(len(data)))
	copy(b[8:], data)
	return b
}

func TestExtStack(t *testing.T) {
	tsid := extItem(ExtTSID, []byte{1, 0, 0, 0}, true)
	for _, c := range []struct {
		name   string
		ext    []byte
		want   []uint64
		key    uint64
		isKey  bool
		size   int
		header HeaderType
	}{
		{"trace64 on EVENT_HEADER32", append(slices.Clip(tsid), extItem(ExtStackTrace64, (&payloadBuilder{ptr: 8}).u64(0).u64(0x7ff600001000).u64(0x77001234).b, false)...),
			[]uint64{0x7ff600001000, 0x77001234}, 0, false, 8, HeaderEvent32},
		{"trace32", extItem(ExtStackTrace32, (&payloadBuilder{ptr: 4}).u64(7).u32(0x401000).u32(0x77001234).u32(0x77001300).b, false),
			[]uint64{0x401000, 0x77001234, 0x77001300}, 0, false, 4, HeaderEvent32},
		{"key64", extItem(ExtStackKey64, (&payloadBuilder{ptr: 8}).u64(0).u64(0xffffe00012345678).b, false),
			nil, 0xffffe00012345678, true, 8, HeaderEvent64},
		{"key32", extItem(ExtStackKey32, (&payloadBuilder{ptr: 4}).u64(0).u32(0x82345678).u32(0).b, false),
			nil, 0x82345678, true, 4, HeaderEvent32},
	} {
		ev := &Event{Header: c.header, ext: c.ext}
		st, ok := ev.ExtStack()
		if !ok || st.IsKey != c.isKey || st.Key != c.key || st.PointerSize() != c.size || !slices.Equal(st.AppendFrames(nil), c.want) {
			t.Errorf("%s: %+v %v", c.name, st, ok)
		}
	}
	if _, ok := (&Event{Header: HeaderEvent64, ext: tsid[:len(tsid):len(tsid)]}).ExtStack(); ok {
		t.Error("stack found in an event without one")
	}
}

func TestDecodeImageSignature(t *testing.T) {
	p := (&payloadBuilder{ptr: 8}).ptrv(0x7ff6aa000000).ptrv(0x2000).u32(1234).u32(0xabcd).u32(0x5f000000).
		u8(0x0c).u8(1).u16(0).ptrv(0x140000000).u32(0).u32(0).u32(0).u32(0).utf16z(`\Device\HarddiskVolume3\Windows\System32\notepad.exe`).b
	ev := &Event{Header: HeaderSystem64, Hook: HookImageLoad, Version: 3, Payload: p}
	im, err := DecodeImage(ev)
	want := Image{Opcode: opImageLoad, ImageBase: 0x7ff6aa000000, ImageSize: 0x2000, ProcessID: 1234, ImageChecksum: 0xabcd,
		TimeDateStamp: 0x5f000000, SignatureLevel: 0x0c, SignatureType: 1, DefaultBase: 0x140000000,
		FileName: `\Device\HarddiskVolume3\Windows\System32\notepad.exe`}
	if err != nil || im != want || ev.Kind() != "Image/Load" {
		t.Fatalf("got %+v %v %q", im, err, ev.Kind())
	}
	// Hook 0x140A (Image group, type 10) decodes the same way.
	ev.Hook = HookID(GroupImage)<<8 | 10
	if im2, err := DecodeImage(ev); err != nil || im2 != want {
		t.Fatalf("0x140a: %+v %v", im2, err)
	}
}

func TestDecodeProcessFlagsAndSID(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		h := HeaderSystem64
		if ptr == 4 {
			h = HeaderSystem32
		}
		b := &payloadBuilder{ptr: ptr}
		b.ptrv(0xffffa804db26a1c0 >> (64 - 8*ptr)).u32(3780).u32(3988).u32(1).u32(259).ptrv(0x1aa000).u32(uint32(ProcessWOW64 | ProcessPackaged))
		b.sid(0xffffa804e0000000>>(64-8*ptr), 5, 21, 1, 2, 3, 1001).ansiz("PerfView.exe").utf16z(`"C:\PerfView.exe" collect`).utf16z("Pkg_1.0").utf16z("App")
		b.u64(0x01d6662ea2f0e6d0)
		ev := &Event{Header: h, Hook: HookID(GroupProcess)<<8 | opDefunct, Version: 5, Payload: b.b}
		p, err := DecodeProcess(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !p.IsWOW64() || p.UserSID != "S-1-5-21-1-2-3-1001" || p.ImageFileName != "PerfView.exe" || p.CommandLine != `"C:\PerfView.exe" collect` ||
			p.PackageFullName != "Pkg_1.0" || p.ApplicationID != "App" || p.ExitTime != 0x01d6662ea2f0e6d0 || p.ProcessID != 3780 || p.ParentID != 3988 {
			t.Errorf("ptr %d: %+v", ptr, p)
		}
		// No SID: 4 zero bytes.
		b = &payloadBuilder{ptr: ptr}
		b.ptrv(1).u32(4).u32(0).u32(0xFFFFFFFF).u32(259).ptrv(0x1aa000).u32(0).sid(0, 0).ansiz("System").utf16z("")
		ev = &Event{Header: h, Hook: HookID(GroupProcess)<<8 | opDCStart, Version: 4, Payload: b.b}
		p, err = DecodeProcess(ev)
		if err != nil || p.UserSID != "" || p.ImageFileName != "System" || p.IsWOW64() {
			t.Errorf("ptr %d no SID: %+v %v", ptr, p, err)
		}
	}
}

func TestFormatSID(t *testing.T) {
	b := (&payloadBuilder{ptr: 8}).u8(1).u8(2).b
	b = append(b, 0, 0, 0, 0, 0, 5)
	b = binary.LittleEndian.AppendUint32(b, 32)
	b = binary.LittleEndian.AppendUint32(b, 544)
	if s := FormatSID(b); s != "S-1-5-32-544" {
		t.Errorf("FormatSID = %q", s)
	}
	if s := FormatSID(b[:10]); s != "" {
		t.Errorf("short SID = %q", s)
	}
}

// TestDecodeMethodsReuse checks that the Decode methods leave nothing of
// an earlier event in a reused value, and zero it on error.
func TestDecodeMethodsReuse(t *testing.T) {
	tag := uint32(0x20707249)
	session := poolEvent(HeaderSystem64, 0x21, (&payloadBuilder{ptr: 8}).u32(0x21).u32(tag).u64(0x40).u64(0xffffa00000001000).u32(3).b)
	regular := poolEvent(HeaderSystem64, 0x20, (&payloadBuilder{ptr: 8}).u32(0x200).u32(tag).u64(0x80).u64(0xffffa00000002000).b)
	snap := poolEvent(HeaderSystem64, 0x28, []byte{1, 2, 3})
	var e PoolEvent
	for _, ev := range []*Event{session, regular, snap, session, snap, regular} {
		want, err := DecodePool(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Decode(ev); err != nil {
			t.Fatal(err)
		}
		if e.Op != want.Op || e.Type != want.Type || e.Tag != want.Tag || e.NumberOfBytes != want.NumberOfBytes ||
			e.Entry != want.Entry || e.SessionID != want.SessionID || !slices.Equal(e.Raw, want.Raw) {
			t.Errorf("reused %+v, want %+v", e, want)
		}
	}
	if err := e.Decode(poolEvent(HeaderSystem64, 0x20, []byte{1})); err == nil || e.Op != 0 || e.Entry != 0 {
		t.Errorf("short payload: %v, %+v", err, e)
	}
	var k StackKey
	ev := &Event{Header: HeaderPerfInfo64, Hook: HookStackKeyUser, Opcode: opStackKeyUser, Payload: (&payloadBuilder{ptr: 8}).u64(9).u32(4).u32(8).ptrv(0x77).b}
	if err := k.Decode(ev); err != nil || k != (StackKey{EventTimeStamp: 9, Process: 4, Thread: 8, Key: 0x77}) {
		t.Errorf("StackKey.Decode = %+v, %v", k, err)
	}
	ev.Payload = ev.Payload[:10]
	if err := k.Decode(ev); err == nil || k != (StackKey{}) {
		t.Errorf("short StackKey: %+v, %v", k, err)
	}
}
