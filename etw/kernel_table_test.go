package etw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// payloadBuilder writes payload bytes for tests, little-endian, with
// pointer-sized fields of the given size.
type payloadBuilder struct {
	b   []byte
	ptr int
}

func (p *payloadBuilder) u8(v uint8) *payloadBuilder { p.b = append(p.b, v); return p }
func (p *payloadBuilder) u16(v uint16) *payloadBuilder {
	p.b = binary.LittleEndian.AppendUint16(p.b, v)
	return p
}
func (p *payloadBuilder) u32(v uint32) *payloadBuilder {
	p.b = binary.LittleEndian.AppendUint32(p.b, v)
	return p
}
func (p *payloadBuilder) u64(v uint64) *payloadBuilder {
	p.b = binary.LittleEndian.AppendUint64(p.b, v)
	return p
}
func (p *payloadBuilder) ptrv(v uint64) *payloadBuilder {
	if p.ptr == 4 {
		return p.u32(uint32(v))
	}
	return p.u64(v)
}
func (p *payloadBuilder) guid(g GUID) *payloadBuilder {
	b := g.Bytes()
	p.b = append(p.b, b[:]...)
	return p
}
func (p *payloadBuilder) ansiz(s string) *payloadBuilder {
	p.b = append(append(p.b, s...), 0)
	return p
}
func (p *payloadBuilder) utf16z(s string) *payloadBuilder {
	for _, c := range utf16.Encode([]rune(s)) {
		p.u16(c)
	}
	return p.u16(0)
}

// sid writes a TOKEN_USER (SID pointer tokenPtr, attributes 0) and the SID
// S-1-auth-subs...; tokenPtr 0 with no subs writes the 4-byte empty form.
func (p *payloadBuilder) sid(tokenPtr uint64, auth uint8, subs ...uint32) *payloadBuilder {
	if tokenPtr == 0 && len(subs) == 0 {
		return p.u32(0)
	}
	p.ptrv(tokenPtr).ptrv(0)
	p.u8(1).u8(uint8(len(subs)))
	p.b = append(p.b, 0, 0, 0, 0, 0, auth)
	for _, s := range subs {
		p.u32(s)
	}
	return p
}

// synth builds a payload for the fields of a layout with pointer size ptr
// and returns it with the fields DecodeFields must return. Every field gets
// a distinct value so that a decoder reading the wrong offset is caught.
func synth(fields []FieldSpec, ptr int) ([]byte, []Field) {
	p := &payloadBuilder{ptr: ptr}
	want := []Field{}
	for i, s := range fields {
		f := Field{Name: s.Name, Type: s.Type, Format: s.Format}
		k := uint64(i + 1)
		switch s.Type {
		case TypeU8:
			f.Uint = 0x10 + k
			p.u8(uint8(f.Uint))
		case TypeI8:
			f.Int = -int64(k)
			p.u8(uint8(int8(f.Int)))
		case TypeU16:
			f.Uint = 0x100 + k
			p.u16(uint16(f.Uint))
		case TypeU32:
			f.Uint = 0x10000 + k
			p.u32(uint32(f.Uint))
		case TypeI32:
			f.Int = -0x1000 - int64(k)
			p.u32(uint32(int32(f.Int)))
		case TypeU64:
			f.Uint = 0x01d0000000000000 + k
			p.u64(f.Uint)
		case TypeI64:
			f.Int = 0x01d0000000000000 + int64(k)
			p.u64(uint64(f.Int))
		case TypePtr:
			if s.Format != FormatHex {
				f.Uint = 0x1000 + k // a pointer-sized id
			} else if ptr == 4 {
				f.Uint = 0x80000000 + k*0x100
			} else {
				f.Uint = 0xfffff80000000000 + k*0x1000
			}
			p.ptrv(f.Uint)
		case TypeGUID:
			f.GUID = GUID{Data1: uint32(k), Data2: 2, Data3: 3, Data4: [8]byte{4, 5, 6, 7, 8, 9, 10, byte(k)}}
			p.guid(f.GUID)
		case TypeSID:
			f.Str = "S-1-5-21-" + itoa(k) + "-200-300"
			tok := uint64(0xfffff8a000001230)
			if ptr == 4 {
				tok = 0x8a001230
			}
			p.sid(tok, 5, 21, uint32(k), 200, 300)
		case TypeANSIZ:
			f.Str = "image" + itoa(k) + ".exe"
			p.ansiz(f.Str)
		case TypeUTF16Z:
			f.Str = `\Device\HarddiskVolume3\Windows\é` + itoa(k) + ".dll"
			p.utf16z(f.Str)
		case TypePtrArray:
			for j := range uint64(3) {
				v := 0x7ff600001000 + j
				if ptr == 4 {
					v = 0x401000 + j
				}
				f.Array = append(f.Array, v)
				p.ptrv(v)
			}
		case TypeBytes:
			f.Bytes = []byte{1, 2, 3, 4, 5}
			p.b = append(p.b, f.Bytes...)
		case TypeSkip:
			p.b = append(p.b, make([]byte, s.Size)...)
			continue
		}
		want = append(want, f)
	}
	return p.b, want
}

// typedFields runs the typed decoder for ev and returns its result keyed by
// MOF field name, or the decoder's error. ok is false when no typed decoder
// covers the event.
func typedFields(ev *Event) (m map[string]any, err error, ok bool) {
	c, op := classOf(ev)
	if c == nil {
		return nil, nil, false
	}
	v := ev.Version
	switch c.name {
	case "PoolTrace":
		if op > 0x27 {
			return nil, nil, false
		}
		p, err := DecodePool(ev)
		m = map[string]any{"Type": uint64(p.Type), "Tag": uint64(p.Tag), "NumberOfBytes": p.NumberOfBytes, "Entry": p.Entry}
		if op == 0x21 || op == 0x23 {
			m["SessionId"] = uint64(p.SessionID)
		}
		return m, err, true
	case "StackWalk":
		switch {
		case op == opStack:
			s, err := DecodeStack(ev)
			return map[string]any{"EventTimeStamp": s.EventTimeStamp, "StackProcess": uint64(s.Process),
				"StackThread": uint64(s.Thread), "Stack": s.AppendFrames(nil)}, err, true
		case op == opStackKeyKernel || op == opStackKeyUser:
			s, err := DecodeStackKey(ev)
			if err == nil && s.Kernel != (op == opStackKeyKernel) {
				err = errors.New("Kernel flag wrong")
			}
			return map[string]any{"EventTimeStamp": s.EventTimeStamp, "StackProcess": uint64(s.Process),
				"StackThread": uint64(s.Thread), "StackKey": s.Key}, err, true
		case op >= opKeyCreate && op <= opKeyRundown:
			s, err := DecodeStackKeyDef(ev)
			return map[string]any{"StackKey": s.Key, "Stack": s.AppendFrames(nil)}, err, true
		}
	case "Image":
		if op != 10 && (op < 2 || op > 4) {
			return nil, nil, false
		}
		im, err := DecodeImage(ev)
		m = map[string]any{
			"ImageBase": im.ImageBase, "ImageSize": im.ImageSize, "ProcessId": uint64(im.ProcessID),
			"ImageChecksum": uint64(im.ImageChecksum), "TimeDateStamp": uint64(im.TimeDateStamp),
			"DefaultBase": im.DefaultBase, "FileName": im.FileName,
			"SignatureLevel": uint64(im.SignatureLevel), "SignatureType": uint64(im.SignatureType),
		}
		if v == 0 {
			m = map[string]any{"BaseAddress": im.ImageBase, "ModuleSize": im.ImageSize, "ImageFileName": im.FileName}
		}
		return m, err, true
	case "Process":
		if !(op >= 1 && op <= 4 || op == 39) {
			return nil, nil, false
		}
		p, err := DecodeProcess(ev)
		m = map[string]any{
			"UniqueProcessKey": p.UniqueProcessKey, "ProcessId": uint64(p.ProcessID), "ParentId": uint64(p.ParentID),
			"SessionId": uint64(p.SessionID), "ExitStatus": int64(p.ExitStatus),
			"DirectoryTableBase": p.DirectoryTableBase, "PageDirectoryBase": p.DirectoryTableBase,
			"Flags": uint64(p.Flags), "UserSID": p.UserSID, "ImageFileName": p.ImageFileName,
			"CommandLine": p.CommandLine, "PackageFullName": p.PackageFullName, "ApplicationId": p.ApplicationID,
			"ExitTime": p.ExitTime,
		}
		return m, err, true
	case "Thread":
		if op < 1 || op > 4 {
			return nil, nil, false
		}
		t, err := DecodeThread(ev)
		m = map[string]any{
			"ProcessId": uint64(t.ProcessID), "TThreadId": uint64(t.ThreadID), "StackBase": t.StackBase,
			"StackLimit": t.StackLimit, "UserStackBase": t.UserStackBase, "UserStackLimit": t.UserStackLimit,
			"StartAddr": t.StartAddr, "Affinity": t.Affinity, "Win32StartAddr": t.Win32StartAddr,
			"TebBase": t.TebBase, "SubProcessTag": uint64(t.SubProcessTag), "WaitMode": int64(t.WaitMode),
			"BasePriority": uint64(t.BasePriority), "PagePriority": uint64(t.PagePriority),
			"IoPriority": uint64(t.IoPriority), "ThreadFlags": uint64(t.ThreadFlags), "ThreadName": t.ThreadName,
		}
		return m, err, true
	case "KernelTraceControl":
		switch op {
		case opImageID:
			r, err := DecodeImageID(ev)
			return map[string]any{"ImageBase": r.ImageBase, "ImageSize": r.ImageSize, "ProcessId": uint64(r.ProcessID),
				"TimeDateStamp": uint64(r.TimeDateStamp), "OriginalFileName": r.OriginalFileName}, err, true
		case opDbgIDRSDS, opDbgIDILRSDS:
			r, err := DecodeDbgID(ev)
			return map[string]any{"ImageBase": r.ImageBase, "ProcessId": uint64(r.ProcessID), "GuidSig": r.GUID,
				"Age": uint64(r.Age), "PdbFileName": r.PDBFileName}, err, true
		}
	case "EventTrace":
		if op == opExtension || op == opEndExtension {
			h, err := DecodeHeaderExtension(ev)
			m = map[string]any{"KernelEventVersion": uint64(h.KernelEventVersion)}
			for i, g := range h.GroupMasks {
				m["GroupMask"+itoa(uint64(i+1))] = uint64(g)
			}
			return m, err, true
		}
	}
	return nil, nil, false
}

// fieldValue returns a Field's value in the types typedFields uses.
func fieldValue(f Field) any {
	v := f.Value()
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// decodeErrField returns the Field of a *DecodeError, or "" for nil.
func decodeErrField(t testing.TB, err error) string {
	if err == nil {
		return ""
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		if errors.Is(err, ErrUnknownEvent) {
			return "(unknown event)"
		}
		return "not a DecodeError: " + err.Error()
	}
	if !errors.Is(err, ErrShortPayload) {
		t.Errorf("DecodeError does not wrap ErrShortPayload: %v", err)
	}
	return de.Field
}

// checkAgreement checks that the typed decoder for ev and DecodeFields agree:
// both fail on the same field, or both succeed with the same values for
// every field the table declares. It returns whether a typed decoder ran.
func checkAgreement(t testing.TB, ev *Event) bool {
	m, terr, ok := typedFields(ev)
	if !ok {
		return false
	}
	fields, ferr := DecodeFields(ev)
	if decodeErrField(t, terr) != decodeErrField(t, ferr) {
		t.Fatalf("%s payload %x: typed error %v, table error %v", eventDesc(ev), ev.Payload, terr, ferr)
	}
	if terr != nil {
		return true
	}
	for _, f := range fields {
		tv, ok := m[f.Name]
		if !ok {
			if !strings.HasPrefix(f.Name, "Reserved") {
				t.Fatalf("%s: typed decoder has no field %s", eventDesc(ev), f.Name)
			}
			continue
		}
		fv := fieldValue(f)
		if f.Type == TypePtr && f.Format == FormatDefault {
			fv = f.Uint & 0xFFFFFFFF // a pointer-sized id, kept as a 32-bit PID
		}
		if !reflect.DeepEqual(tv, fv) && !(f.Type == TypePtrArray && len(f.Array) == 0 && reflect.ValueOf(tv).Len() == 0) {
			t.Fatalf("%s payload %x: field %s: typed %#v, table %#v", eventDesc(ev), ev.Payload, f.Name, tv, fv)
		}
	}
	return true
}

// headersFor returns the header types a class's events are tested under.
func headersFor(c *eventClass, ptr int) []HeaderType {
	if c.group < 0 {
		if ptr == 4 {
			return []HeaderType{HeaderFull32, HeaderEvent32}
		}
		return []HeaderType{HeaderFull64, HeaderEvent64}
	}
	if ptr == 4 {
		return []HeaderType{HeaderSystem32, HeaderPerfInfo32, HeaderCompact32, HeaderFull32}
	}
	return []HeaderType{HeaderSystem64, HeaderPerfInfo64, HeaderCompact64, HeaderFull64}
}

func testEvent(c *eventClass, h HeaderType, op uint8, v uint16, p []byte) *Event {
	ev := &Event{Header: h, Version: v, Payload: p, Opcode: op, Provider: c.guid}
	if h.IsKernel() {
		ev.Hook = HookID(c.group)<<8 | HookID(op)
		if c.group == int(GroupImage) && op == opImageLoad {
			ev.Hook = HookImageLoad
		}
	}
	return ev
}

// versionsOf returns the versions a layout is tested with: every version of
// its range, and one newer version for the newest layout of a class.
func versionsOf(l *layout) []uint16 {
	if l.maxV == anyVersion {
		return []uint16{0, 2, 3}
	}
	if l.minV == l.maxV {
		return []uint16{l.minV}
	}
	return []uint16{l.minV, l.maxV}
}

// TestTableAgreement builds a payload from every layout of the table, for
// every version, pointer size and header type, and checks that the typed
// decoders return the values DecodeFields returns, that both name the same
// field on every truncation, and that extra trailing bytes are ignored.
func TestTableAgreement(t *testing.T) {
	typed := 0
	for _, c := range classes {
		for li := range c.layouts {
			l := &c.layouts[li]
			for _, op := range l.opcodes {
				for _, v := range versionsOf(l) {
					if c.find(op, v) != l {
						continue
					}
					for _, ptr := range []int{4, 8} {
						for _, h := range headersFor(c, ptr) {
							name := fmt.Sprintf("%s/%s/v%d/%v", c.name, c.names[op], v, h)
							t.Run(name, func(t *testing.T) {
								if l.raw {
									ev := testEvent(c, h, op, v, []byte{1, 2, 3})
									fs, err := DecodeFields(ev)
									if err != nil || len(fs) != 1 || fs[0].Type != TypeBytes || len(fs[0].Bytes) != 3 {
										t.Fatalf("raw layout: %v %v", fs, err)
									}
									return
								}
								p, want := synth(l.fields, ptr)
								ev := testEvent(c, h, op, v, p)
								got, err := DecodeFields(ev)
								if err != nil {
									t.Fatalf("DecodeFields: %v", err)
								}
								if !reflect.DeepEqual(got, want) {
									t.Fatalf("DecodeFields:\n got %+v\nwant %+v", got, want)
								}
								if ev.Kind() != c.name+"/"+c.names[op] {
									t.Errorf("Kind = %q", ev.Kind())
								}
								if checkAgreement(t, ev) {
									typed++
								}
								// Every truncation: typed and table name the same field.
								for n := range len(p) {
									checkAgreement(t, testEvent(c, h, op, v, p[:n]))
								}
								// Newer versions may append bytes.
								if n := len(l.fields); n > 0 && l.fields[n-1].Type != TypePtrArray && l.fields[n-1].Type != TypeBytes {
									longer := append(slices.Clip(p), 0xEE, 0xEE, 0xEE, 0xEE, 0xEE)
									got2, err := DecodeFields(testEvent(c, h, op, v, longer))
									if err != nil || !reflect.DeepEqual(got2, want) {
										t.Fatalf("with trailing bytes: %v, %v", got2, err)
									}
									checkAgreement(t, testEvent(c, h, op, v, longer))
								}
							})
						}
					}
				}
			}
		}
	}
	if typed == 0 {
		t.Fatal("no typed decoder ran")
	}
}

// TestNewerVersionUsesNewestLayout checks that a version newer than any in
// the table decodes with the newest layout.
func TestNewerVersionUsesNewestLayout(t *testing.T) {
	img := classByGroup[GroupImage]
	p, _ := synth(imageV3, 8)
	ev := testEvent(img, HeaderSystem64, opImageDCStart, 9, p)
	im, err := DecodeImage(ev)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := DecodeFields(ev)
	if err != nil {
		t.Fatal(err)
	}
	if im.FileName == "" || fs[len(fs)-1].Str != im.FileName {
		t.Fatalf("v9 image: %+v / %+v", im, fs)
	}
	checkAgreement(t, ev)
}

func TestUnknownEvents(t *testing.T) {
	for _, ev := range []*Event{
		{Header: HeaderSystem64, Hook: 0x0124, Version: 2, Payload: make([]byte, 64)}, // DiskIo
		{Header: HeaderEvent64, Provider: MustParseGUID("0cd1c309-0878-4515-83db-749843b3f5c9"), Payload: make([]byte, 8)},
		{Header: HeaderSystem64, Hook: 0x0305, Version: 2}, // unnamed Process opcode
	} {
		if k := ev.Kind(); k != "" {
			t.Errorf("Kind = %q, want empty", k)
		}
		if _, err := DecodeFields(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodeFields: %v, want ErrUnknownEvent", err)
		}
		if _, err := DecodePool(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodePool: %v", err)
		}
		if _, err := DecodeImage(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodeImage: %v", err)
		}
		if _, err := DecodeProcess(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodeProcess: %v", err)
		}
		if _, err := DecodeThread(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodeThread: %v", err)
		}
		if _, err := DecodeStack(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodeStack: %v", err)
		}
		if _, err := DecodeDbgID(ev); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("DecodeDbgID: %v", err)
		}
	}
	// A kernel class under a header type without pointer size.
	ev := &Event{Header: HeaderMessage, Provider: ImageGUID, Opcode: 3, Payload: make([]byte, 64)}
	if _, err := DecodeImage(ev); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("DecodeImage on a MESSAGE record: %v", err)
	}
}
