package etw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/internal/corpus"
)

// capturedRecord is an EVENT_RECORD laid out as a consumer callback sees
// it: the 80-byte EVENT_HEADER, the 4-byte ETW_BUFFER_CONTEXT, then (in
// place of the pointers of the real structure) the extended data items and
// the user data they point to.
type capturedRecord struct {
	header   []byte // EVENT_HEADER, 80 bytes
	context  []byte // ETW_BUFFER_CONTEXT, 4 bytes
	ext      []ExtItem
	userData []byte
}

func (c capturedRecord) decode(t testing.TB, d *RecordDecoder, e *Event) error {
	t.Helper()
	var h RecordHeader
	require.NoError(t, h.UnmarshalBinary(c.header))
	ctx := BufferContext{
		ProcessorIndex: binary.LittleEndian.Uint16(c.context),
		LoggerID:       binary.LittleEndian.Uint16(c.context[2:]),
	}
	return d.Decode(e, &h, ctx, c.ext, c.userData)
}

// eventHeaderBytes lays out an EVENT_HEADER the way the consumer fills it.
func eventHeaderBytes(flags uint16, tid, pid uint32, ts int64, provider GUID, id uint16, version, level, opcode uint8, task uint16, keyword uint64, kt, ut uint32, activity GUID) []byte {
	b := make([]byte, 80)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0) // Size: not meaningful in a real-time record
	le.PutUint16(b[2:], 0) // HeaderType: reserved
	le.PutUint16(b[4:], flags)
	le.PutUint32(b[8:], tid)
	le.PutUint32(b[12:], pid)
	le.PutUint64(b[16:], uint64(ts))
	g := provider.Bytes()
	copy(b[24:], g[:])
	le.PutUint16(b[40:], id)
	b[42] = version
	b[44] = level
	b[45] = opcode
	le.PutUint16(b[46:], task)
	le.PutUint64(b[48:], keyword)
	le.PutUint32(b[56:], kt)
	le.PutUint32(b[60:], ut)
	g = activity.Bytes()
	copy(b[64:], g[:])
	return b
}

func ctxBytes(proc, logger uint16) []byte {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint16(b, proc)
	binary.LittleEndian.PutUint16(b[2:], logger)
	return b
}

func poolPayload(ptr int, typ, tag uint32, size, entry uint64) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, typ)
	b = le.AppendUint32(b, tag)
	if ptr == 8 {
		b = le.AppendUint64(b, size)
		b = le.AppendUint64(b, entry)
	} else {
		b = le.AppendUint32(b, uint32(size))
		b = le.AppendUint32(b, uint32(entry))
	}
	return b
}

const tagIrp = 0x20707249 // "Irp "

func TestRecordPoolAlloc(t *testing.T) {
	for _, ptr := range []int{8, 4} {
		t.Run(fmt.Sprintf("ptr%d", ptr), func(t *testing.T) {
			flags := uint16(EventHeaderFlagClassicHeader | EventHeaderFlagProcessorIndex | EventHeaderFlag64BitHeader)
			want := HeaderSystem64
			if ptr == 4 {
				flags = EventHeaderFlagClassicHeader | EventHeaderFlagProcessorIndex | EventHeaderFlag32BitHeader
				want = HeaderSystem32
			}
			pay := poolPayload(ptr, 1, tagIrp, 0x90, 0xffffc00012345670)
			rec := capturedRecord{
				header:   eventHeaderBytes(flags, 0x1234, 4, 987654321, PoolGUID, 0, 2, 0, 0x20, 0, 0, 7, 9, GUID{}),
				context:  ctxBytes(3, 0x21),
				userData: pay,
			}
			clk := &Clock{Type: ClockPerfCounter, Frequency: 10_000_000}
			d := RecordDecoder{Clock: clk}
			var e Event
			require.NoError(t, rec.decode(t, &d, &e))

			assert.Equal(t, want, e.Header)
			assert.Equal(t, ptr, e.PointerSize())
			assert.Equal(t, HookID(0x0E20), e.Hook)
			assert.Equal(t, GroupPool, e.Group())
			assert.True(t, e.IsKernel())
			assert.Equal(t, PoolGUID, e.Provider)
			assert.Equal(t, uint8(0x20), e.Opcode)
			assert.Equal(t, uint16(2), e.Version)
			assert.Equal(t, PID(4), e.PID)
			assert.Equal(t, TID(0x1234), e.TID)
			assert.Equal(t, uint16(3), e.Processor)
			assert.Equal(t, int64(987654321), e.Timestamp)
			assert.Equal(t, uint32(7), e.KernelTime)
			assert.Equal(t, uint32(9), e.UserTime)
			assert.Equal(t, uint16(0), e.Flags)
			assert.Equal(t, pay, e.Payload)
			assert.Same(t, clk, e.Clock())
			assert.Equal(t, -1, e.Buffer)

			// The raw record is a SYSTEM_TRACE_HEADER record.
			raw := e.Raw()
			le := binary.LittleEndian
			require.Len(t, raw, 32+len(pay))
			assert.Equal(t, uint16(2), le.Uint16(raw[0:]), "version")
			assert.Equal(t, byte(want), raw[2])
			assert.Equal(t, byte(0xC0), raw[3])
			assert.Equal(t, uint16(len(raw)), le.Uint16(raw[4:]), "size")
			assert.Equal(t, uint16(0x0E20), le.Uint16(raw[6:]), "hook")
			assert.Equal(t, uint32(0x1234), le.Uint32(raw[8:]))
			assert.Equal(t, uint32(4), le.Uint32(raw[12:]))
			assert.Equal(t, uint64(987654321), le.Uint64(raw[16:]))
			assert.Equal(t, uint32(7), le.Uint32(raw[24:]))
			assert.Equal(t, uint32(9), le.Uint32(raw[28:]))
			assert.Equal(t, pay, raw[32:])
		})
	}
}

func TestRecordImageLoad(t *testing.T) {
	pay := make([]byte, 56+8)
	binary.LittleEndian.PutUint64(pay, 0x7ff800000000)
	rec := capturedRecord{
		header:   eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 100, 200, 5555, ImageGUID, 0, 3, 0, 10, 0, 0, 0, 0, GUID{}),
		context:  ctxBytes(1, 0x21),
		userData: pay,
	}
	var d RecordDecoder
	var e Event
	require.NoError(t, rec.decode(t, &d, &e))
	assert.Equal(t, HookImageLoad, e.Hook)
	assert.Equal(t, GroupProcess, e.Group())
	assert.Equal(t, ImageGUID, e.Provider)
	assert.Equal(t, uint8(10), e.Opcode)
	assert.Equal(t, uint16(3), e.Version)
	assert.Equal(t, HeaderSystem64, e.Header)
	assert.Equal(t, uint16(0x030A), binary.LittleEndian.Uint16(e.Raw()[6:]))

	// A consumer that reports the process class for opcode 10 gives the
	// same event.
	rec.header = eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 100, 200, 5555, ProcessGUID, 0, 3, 0, 10, 0, 0, 0, 0, GUID{})
	var e2 Event
	require.NoError(t, rec.decode(t, &d, &e2))
	assert.Equal(t, HookImageLoad, e2.Hook)
	assert.Equal(t, ImageGUID, e2.Provider)

	// Image DCStart carries no pid/tid in its header (PERFINFO record).
	rec.header = eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 0xFFFFFFFF, 0xFFFFFFFF, 5556, ImageGUID, 0, 3, 0, 3, 0, 0, 0, 0, GUID{})
	require.NoError(t, rec.decode(t, &d, &e))
	assert.Equal(t, HookID(0x1403), e.Hook)
	assert.Equal(t, HeaderPerfInfo64, e.Header)
	assert.Equal(t, NoPID, e.PID)
	assert.Equal(t, NoTID, e.TID)
	assert.Len(t, e.Raw(), 16+len(pay))
	assert.Equal(t, pay, e.Raw()[16:])
	assert.Equal(t, uint64(5556), binary.LittleEndian.Uint64(e.Raw()[8:]))
}

func TestRecordStackWalk(t *testing.T) {
	for _, ptr := range []int{8, 4} {
		t.Run(fmt.Sprintf("ptr%d", ptr), func(t *testing.T) {
			le := binary.LittleEndian
			pay := le.AppendUint64(nil, 987654321)
			pay = le.AppendUint32(pay, 4)
			pay = le.AppendUint32(pay, 0x1234)
			for i := range 5 {
				if ptr == 8 {
					pay = le.AppendUint64(pay, 0xfffff80000001000+uint64(i))
				} else {
					pay = le.AppendUint32(pay, 0x80001000+uint32(i))
				}
			}
			flags := uint16(EventHeaderFlagClassicHeader | EventHeaderFlag64BitHeader)
			want := HeaderPerfInfo64
			if ptr == 4 {
				flags = EventHeaderFlagClassicHeader | EventHeaderFlag32BitHeader
				want = HeaderPerfInfo32
			}
			// Live sessions may put the payload's pid/tid in the header;
			// the file form has none.
			rec := capturedRecord{
				header:   eventHeaderBytes(flags, 0x1234, 4, 987654400, StackWalkGUID, 0, 2, 0, 0x20, 0, 0, 0, 0, GUID{}),
				context:  ctxBytes(0, 0x21),
				userData: pay,
			}
			var d RecordDecoder
			var e Event
			require.NoError(t, rec.decode(t, &d, &e))
			assert.Equal(t, want, e.Header)
			assert.Equal(t, HookStackWalk, e.Hook)
			assert.Equal(t, StackWalkGUID, e.Provider)
			assert.Equal(t, NoPID, e.PID)
			assert.Equal(t, NoTID, e.TID)
			assert.Equal(t, pay, e.Payload)
			assert.Equal(t, ptr, e.PointerSize())
			raw := e.Raw()
			assert.Equal(t, uint16(2), le.Uint16(raw))
			assert.Equal(t, uint16(len(raw)), le.Uint16(raw[4:]))
			assert.Equal(t, uint16(0x1820), le.Uint16(raw[6:]))
		})
	}
}

func TestRecordPerfInfoPMC(t *testing.T) {
	le := binary.LittleEndian
	pebs := le.AppendUint64(nil, 0xABCDEF)
	pmc := le.AppendUint64(le.AppendUint64(nil, 11), 22)
	rec := capturedRecord{
		header:   eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader|EventHeaderFlagExtendedInfo, 0xFFFFFFFF, 0xFFFFFFFF, 42, PerfInfoGUID, 0, 2, 0, 46, 0, 0, 0, 0, GUID{}),
		context:  ctxBytes(0, 1),
		ext:      []ExtItem{{Type: ExtPMCCounters, Data: pmc}, {Type: ExtPEBSIndex, Data: pebs}, {Type: ExtSID, Data: []byte{1, 2, 3}}},
		userData: []byte{1, 2, 3, 4, 5, 6, 7, 8},
	}
	var d RecordDecoder
	var e Event
	require.NoError(t, rec.decode(t, &d, &e))
	assert.Equal(t, HeaderPerfInfo64, e.Header)
	assert.Equal(t, uint16(2), e.Version)
	assert.Equal(t, uint64(0xABCDEF), e.PEBSIndex)
	assert.Equal(t, []uint64{11, 22}, e.PMC())
	assert.Equal(t, rec.userData, e.Payload)
	raw := e.Raw()
	assert.Equal(t, uint16(0x8000|2<<8|2), le.Uint16(raw), "version word with PEBS flag and PMC count")
	assert.Len(t, raw, 16+8+16+8)
	c := e.Clone()
	assert.Equal(t, []uint64{11, 22}, c.PMC())
	assert.Equal(t, e.Payload, c.Payload)
}

func TestRecordEventHeaderExtended(t *testing.T) {
	provider := MustParseGUID("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716")
	activity := MustParseGUID("11111111-2222-3333-4444-555555555555")
	related := MustParseGUID("66666666-7777-8888-9999-aaaaaaaaaaaa")
	rel := related.Bytes()
	le := binary.LittleEndian
	for _, ptr := range []int{8, 4} {
		t.Run(fmt.Sprintf("ptr%d", ptr), func(t *testing.T) {
			var stack []byte
			stack = le.AppendUint64(stack, 0) // MatchId
			flags := uint16(EventHeaderFlagExtendedInfo | EventHeaderFlag64BitHeader | EventHeaderFlagProcessorIndex)
			want, st := HeaderEvent64, ExtStackTrace64
			if ptr == 4 {
				flags = EventHeaderFlagExtendedInfo | EventHeaderFlag32BitHeader | EventHeaderFlagProcessorIndex
				want, st = HeaderEvent32, ExtStackTrace32
			}
			for i := range 3 {
				if ptr == 8 {
					stack = le.AppendUint64(stack, 0x7ff812340000+uint64(i))
				} else {
					stack = le.AppendUint32(stack, 0x77120000+uint32(i))
				}
			}
			rec := capturedRecord{
				header:   eventHeaderBytes(flags, 77, 88, 1_000_000, provider, 5, 1, 4, 2, 9, 0x8000_0000_0000_0010, 3, 4, activity),
				context:  ctxBytes(0x105, 0x22),
				ext:      []ExtItem{{Type: ExtRelatedActivityID, Data: rel[:]}, {Type: st, Data: stack}},
				userData: []byte("payload!!"),
			}
			var d RecordDecoder
			var e Event
			require.NoError(t, rec.decode(t, &d, &e))
			assert.Equal(t, want, e.Header)
			assert.Equal(t, ptr, e.PointerSize())
			assert.Equal(t, uint16(EventHeaderFlagExtendedInfo), e.Flags, "consumer-only flags removed")
			assert.Equal(t, provider, e.Provider)
			assert.Equal(t, uint16(5), e.ID)
			assert.Equal(t, uint16(1), e.Version)
			assert.Equal(t, uint8(4), e.Level)
			assert.Equal(t, uint8(2), e.Opcode)
			assert.Equal(t, uint16(9), e.Task)
			assert.Equal(t, uint64(0x8000_0000_0000_0010), e.Keywords)
			assert.Equal(t, PID(88), e.PID)
			assert.Equal(t, TID(77), e.TID)
			assert.Equal(t, uint16(0x105), e.Processor)
			assert.Equal(t, activity, e.ActivityID)
			assert.Equal(t, HookID(0), e.Hook)
			assert.Equal(t, []byte("payload!!"), e.Payload)

			var items []ExtItem
			for it := range e.ExtendedData() {
				items = append(items, it)
			}
			require.Len(t, items, 2)
			assert.Equal(t, ExtRelatedActivityID, items[0].Type)
			assert.Equal(t, rel[:], items[0].Data)
			assert.Equal(t, st, items[1].Type)
			assert.Equal(t, stack, items[1].Data)
			got, ok := e.ExtItem(st)
			require.True(t, ok)
			assert.Equal(t, stack, got)

			// On-disk layout: header, item chain with 8-byte padding, payload.
			raw := e.Raw()
			assert.Equal(t, uint16(len(raw)), le.Uint16(raw))
			assert.Equal(t, byte(want), raw[2])
			assert.Equal(t, byte(0xC0), raw[3])
			assert.Equal(t, uint16(EventHeaderFlagExtendedInfo), le.Uint16(raw[4:]))
			var h RecordHeader
			require.NoError(t, h.UnmarshalBinary(raw))
			assert.Equal(t, provider, h.ProviderID)
			assert.Equal(t, activity, h.ActivityID)
			assert.Equal(t, int64(1_000_000), h.TimeStamp)
			off := 80
			assert.Equal(t, uint16(24), le.Uint16(raw[off:]), "item length 8+16")
			assert.Equal(t, uint16(1), le.Uint16(raw[off+4:]), "linkage: more follow")
			off += 24
			stackLen := 8 + (len(stack)+7)&^7
			assert.Equal(t, uint16(stackLen), le.Uint16(raw[off:]))
			assert.Equal(t, uint16(st), le.Uint16(raw[off+2:]))
			assert.Equal(t, uint16(0), le.Uint16(raw[off+4:]), "linkage: last")
			assert.Equal(t, uint16(len(stack)), le.Uint16(raw[off+6:]))
			for _, b := range raw[off+8+len(stack) : off+stackLen] {
				assert.Zero(t, b, "padding")
			}
			assert.Equal(t, []byte("payload!!"), raw[off+stackLen:])

			// Clones keep their items.
			c := e.Clone()
			got, ok = c.ExtItem(st)
			require.True(t, ok)
			assert.Equal(t, stack, got)
			assert.Equal(t, e.Raw(), c.Raw())
		})
	}
}

func TestRecordEventHeaderNoItems(t *testing.T) {
	rec := capturedRecord{
		// EXTENDED_INFO set by the consumer but no items: the stored flag
		// follows the items.
		header:   eventHeaderBytes(EventHeaderFlagExtendedInfo|EventHeaderFlagStringOnly|EventHeaderFlag64BitHeader, 1, 2, 3, MustParseGUID("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716"), 1, 0, 0, 0, 0, 0, 0, 0, GUID{}),
		context:  ctxBytes(0x302, 0),
		userData: nil,
	}
	var d RecordDecoder
	var e Event
	require.NoError(t, rec.decode(t, &d, &e))
	assert.Equal(t, uint16(EventHeaderFlagStringOnly), e.Flags)
	assert.Equal(t, uint16(0x02), e.Processor, "no PROCESSOR_INDEX flag: processor number byte")
	assert.Empty(t, e.Payload)
	assert.Len(t, e.Raw(), 80)
	n := 0
	for range e.ExtendedData() {
		n++
	}
	assert.Zero(t, n)
}

func TestRecordClassicFull(t *testing.T) {
	ktc := KernelTraceControlGUID
	pay := []byte{1, 2, 3}
	rec := capturedRecord{
		header:   eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 10, 20, 30, ktc, 0, 2, 5, 36, 0, 0, 1, 2, GUID{}),
		context:  ctxBytes(0, 0),
		userData: pay,
	}
	var d RecordDecoder
	var e Event
	require.NoError(t, rec.decode(t, &d, &e))
	assert.Equal(t, HeaderFull64, e.Header)
	assert.Equal(t, ktc, e.Provider)
	assert.Equal(t, uint8(36), e.Opcode)
	assert.Equal(t, uint16(2), e.Version)
	assert.Equal(t, uint8(5), e.Level)
	assert.False(t, e.IsKernel())
	raw := e.Raw()
	require.Len(t, raw, 48+3)
	le := binary.LittleEndian
	assert.Equal(t, uint16(51), le.Uint16(raw))
	assert.Equal(t, byte(HeaderFull64), raw[2])
	assert.Equal(t, byte(36), raw[4])
	assert.Equal(t, byte(5), raw[5])
	assert.Equal(t, uint16(2), le.Uint16(raw[6:]))
	assert.Equal(t, ktc, GUIDFromBytes(raw[24:40]))
	assert.Equal(t, pay, raw[48:])

	// Neither pointer-size flag: the decoder's default applies.
	rec.header = eventHeaderBytes(EventHeaderFlagClassicHeader, 10, 20, 30, ktc, 0, 2, 5, 36, 0, 0, 1, 2, GUID{})
	d.PointerSize = 4
	require.NoError(t, rec.decode(t, &d, &e))
	assert.Equal(t, HeaderFull32, e.Header)
}

func TestRecordTooLarge(t *testing.T) {
	var d RecordDecoder
	var e Event
	h := RecordHeader{Flags: EventHeaderFlagClassicHeader | EventHeaderFlag64BitHeader, ProviderID: PoolGUID, Descriptor: RecordDescriptor{Opcode: 0x20}}
	err := d.Decode(&e, &h, BufferContext{}, nil, make([]byte, MaxRecordSize-31))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Equal(t, HeaderType(0), e.Header, "event left unchanged")
	require.NoError(t, d.Decode(&e, &h, BufferContext{}, nil, make([]byte, MaxRecordSize-32)))
	assert.Len(t, e.Raw(), MaxRecordSize)

	h = RecordHeader{Flags: EventHeaderFlag64BitHeader, ProviderID: PoolGUID}
	big := []ExtItem{{Type: ExtStackTrace64, Data: make([]byte, 40000)}, {Type: ExtStackTrace64, Data: make([]byte, 40000)}}
	require.ErrorIs(t, d.Decode(&e, &h, BufferContext{}, big, nil), ErrCorrupt)
	many := make([]ExtItem, MaxRecordExtItems+1)
	require.ErrorIs(t, d.Decode(&e, &h, BufferContext{}, many, nil), ErrCorrupt)
	var short RecordHeader
	require.ErrorIs(t, short.UnmarshalBinary(make([]byte, 79)), ErrTruncated)
}

func TestRecordHeaderRoundTrip(t *testing.T) {
	b := eventHeaderBytes(0x241, 1, 2, -3, PoolGUID, 4, 5, 6, 7, 8, 9, 10, 11, ImageGUID)
	b[43] = 12 // channel
	var h RecordHeader
	require.NoError(t, h.UnmarshalBinary(b))
	assert.Equal(t, uint8(12), h.Descriptor.Channel)
	out, err := h.AppendBinary(nil)
	require.NoError(t, err)
	assert.Equal(t, b, out)
}

func TestRecordDecodeNoAllocs(t *testing.T) {
	stack := make([]byte, 8+8*20)
	h := RecordHeader{Flags: EventHeaderFlag64BitHeader | EventHeaderFlagExtendedInfo, ProviderID: PoolGUID}
	ext := []ExtItem{{Type: ExtStackTrace64, Data: stack}}
	pay := make([]byte, 100)
	var d RecordDecoder
	var e Event
	require.NoError(t, d.Decode(&e, &h, BufferContext{}, ext, pay))
	kh := RecordHeader{Flags: EventHeaderFlagClassicHeader | EventHeaderFlag64BitHeader, ProviderID: PoolGUID, Descriptor: RecordDescriptor{Opcode: 0x20, Version: 2}}
	allocs := testing.AllocsPerRun(100, func() {
		_ = d.Decode(&e, &h, BufferContext{}, ext, pay)
		_ = d.Decode(&e, &kh, BufferContext{}, nil, pay[:24])
	})
	assert.Zero(t, allocs)
}

func BenchmarkRecordDecode(b *testing.B) {
	kh := RecordHeader{Flags: EventHeaderFlagClassicHeader | EventHeaderFlag64BitHeader, ProviderID: PoolGUID, Descriptor: RecordDescriptor{Opcode: 0x20, Version: 2}, ThreadID: 1, ProcessID: 4}
	pay := poolPayload(8, 1, tagIrp, 64, 0xffffc00000001000)
	var d RecordDecoder
	var e Event
	b.ReportAllocs()
	b.SetBytes(int64(len(pay)))
	for b.Loop() {
		if err := d.Decode(&e, &kh, BufferContext{}, nil, pay); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// FuzzRecordDecode feeds arbitrary EVENT_RECORD-shaped inputs to the
// translation: 80 header bytes, 4 context bytes, then items framed as
// u8 type, u16 size, data, and the rest as user data. The built record must
// be self-consistent.
func FuzzRecordDecode(f *testing.F) {
	seed := func(hdr []byte, ctx []byte, tail []byte) {
		f.Add(append(append(append([]byte(nil), hdr...), ctx...), tail...))
	}
	seed(eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 1, 4, 5, PoolGUID, 0, 2, 0, 0x20, 0, 0, 0, 0, GUID{}), ctxBytes(1, 2), append([]byte{0}, poolPayload(8, 1, tagIrp, 64, 0x1000)...))
	seed(eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag32BitHeader, 0xFFFFFFFF, 0xFFFFFFFF, 5, StackWalkGUID, 0, 2, 0, 0x20, 0, 0, 0, 0, GUID{}), ctxBytes(1, 2), make([]byte, 30))
	seed(eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader|EventHeaderFlagExtendedInfo, 0xFFFFFFFF, 0xFFFFFFFF, 5, PerfInfoGUID, 0, 2, 0, 46, 0, 0, 0, 0, GUID{}), ctxBytes(1, 2), []byte{2, 8, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0xAA})
	seed(eventHeaderBytes(EventHeaderFlagExtendedInfo|EventHeaderFlag64BitHeader, 1, 2, 3, ImageGUID, 1, 1, 1, 1, 1, 1, 1, 1, GUID{}), ctxBytes(1, 2), []byte{2, 6, 20, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0, 'h', 'i'})
	seed(eventHeaderBytes(EventHeaderFlagClassicHeader, 1, 2, 3, KernelTraceControlGUID, 0, 2, 0, 36, 0, 0, 0, 0, GUID{}), ctxBytes(0, 0), []byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 84 {
			return
		}
		var h RecordHeader
		if err := h.UnmarshalBinary(in); err != nil {
			t.Fatal(err)
		}
		ctx := BufferContext{ProcessorIndex: binary.LittleEndian.Uint16(in[80:]), LoggerID: binary.LittleEndian.Uint16(in[82:])}
		rest := in[84:]
		n := 0
		if len(rest) > 0 {
			n = int(rest[0] % 4)
			rest = rest[1:]
		}
		var ext []ExtItem
		for range n {
			if len(rest) < 3 {
				break
			}
			typ := ExtType(rest[0] % 0x13)
			size := int(binary.LittleEndian.Uint16(rest[1:]))
			rest = rest[3:]
			if size > len(rest) {
				size = len(rest)
			}
			ext = append(ext, ExtItem{Type: typ, Data: rest[:size]})
			rest = rest[size:]
		}
		var d RecordDecoder
		var e Event
		if err := d.Decode(&e, &h, ctx, ext, rest); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		raw := e.Raw()
		if !e.Header.Known() || len(raw) > MaxRecordSize || len(raw) < e.Header.fixedSize() {
			t.Fatalf("bad record: header %v, %d bytes", e.Header, len(raw))
		}
		if !bytes.Equal(e.Payload, rest) {
			t.Fatalf("payload differs")
		}
		if e.Header.IsKernel() {
			if binary.LittleEndian.Uint16(raw[4:]) != uint16(len(raw)) || HookID(binary.LittleEndian.Uint16(raw[6:])) != e.Hook {
				t.Fatalf("kernel header fields")
			}
		} else if binary.LittleEndian.Uint16(raw) != uint16(len(raw)) {
			t.Fatalf("size field %d, record %d bytes", binary.LittleEndian.Uint16(raw), len(raw))
		}
		if e.Header == HeaderEvent32 || e.Header == HeaderEvent64 {
			i := 0
			for it := range e.ExtendedData() {
				if i >= len(ext) || it.Type != ext[i].Type || !bytes.Equal(it.Data, ext[i].Data) {
					t.Fatalf("item %d differs", i)
				}
				i++
			}
			if i != len(ext) {
				t.Fatalf("%d items back, %d in", i, len(ext))
			}
		}
		reframe(t, &e)
		c := e.Clone()
		if !bytes.Equal(c.Raw(), raw) || !bytes.Equal(c.Payload, e.Payload) {
			t.Fatalf("clone differs")
		}
	})
}

// reframe frames e.Raw() with the ETL reader's record framer and checks that
// it yields the same event: live events are indistinguishable from events
// read from a file.
func reframe(t testing.TB, e *Event) {
	t.Helper()
	raw := e.Raw()
	data := make([]byte, (len(raw)+7)&^7)
	copy(data, raw)
	var f Event
	size, ferr := frameRecord(&f, data, 0, len(data))
	if ferr != nil {
		t.Fatalf("reader rejects the built record: %v", ferr)
	}
	if size != len(raw) {
		t.Fatalf("reader frames %d bytes, record has %d", size, len(raw))
	}
	f.Processor, f.Buffer, f.Offset, f.clock = e.Processor, e.Buffer, e.Offset, e.clock
	got := fmt.Sprintf("%+v", f)
	if !bytes.Equal(f.Payload, e.Payload) || !bytes.Equal(f.ext, e.ext) || !bytes.Equal(f.pmc, e.pmc) {
		t.Fatalf("slices differ:\nlive %+v\nfile %+v", *e, f)
	}
	// Compare the scalar fields (slices point into different memory).
	f.Payload, f.ext, f.pmc, f.raw = nil, nil, nil, nil
	c := *e
	c.Payload, c.ext, c.pmc, c.raw = nil, nil, nil, nil
	if want := fmt.Sprintf("%+v", f); fmt.Sprintf("%+v", c) != want {
		t.Fatalf("fields differ:\nlive %+v\nfile %s", c, got)
	}
}

func TestRecordReframe(t *testing.T) {
	le := binary.LittleEndian
	stack := le.AppendUint64(nil, 0)
	stack = le.AppendUint32(stack, 0x77001234)
	rel := ImageGUID.Bytes()
	cases := []struct {
		name string
		h    []byte
		ext  []ExtItem
		pay  []byte
	}{
		{"pool64", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 1, 4, 100, PoolGUID, 0, 2, 0, 0x20, 0, 0, 3, 4, GUID{}), nil, poolPayload(8, 1, tagIrp, 8, 0x1000)},
		{"pool32", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag32BitHeader, 1, 4, 100, PoolGUID, 0, 2, 0, 0x22, 0, 0, 3, 4, GUID{}), nil, poolPayload(4, 1, tagIrp, 8, 0x1000)},
		{"imageload", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 1, 4, 100, ImageGUID, 0, 3, 0, 10, 0, 0, 0, 0, GUID{}), nil, make([]byte, 70)},
		{"imagedcstart", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 0xFFFFFFFF, 0xFFFFFFFF, 100, ImageGUID, 0, 3, 0, 3, 0, 0, 0, 0, GUID{}), nil, make([]byte, 70)},
		{"stackwalk", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 7, 8, 100, StackWalkGUID, 0, 2, 0, 0x20, 0, 0, 0, 0, GUID{}), nil, make([]byte, 40)},
		{"pmc", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 0xFFFFFFFF, 0xFFFFFFFF, 100, PerfInfoGUID, 0, 2, 0, 46, 0, 0, 0, 0, GUID{}), []ExtItem{{ExtPEBSIndex, le.AppendUint64(nil, 5)}, {ExtPMCCounters, le.AppendUint64(nil, 6)}}, make([]byte, 16)},
		{"full", eventHeaderBytes(EventHeaderFlagClassicHeader|EventHeaderFlag64BitHeader, 1, 2, 100, KernelTraceControlGUID, 0, 2, 4, 36, 0, 0, 5, 6, GUID{}), nil, make([]byte, 40)},
		{"eventheader32", eventHeaderBytes(EventHeaderFlagExtendedInfo|EventHeaderFlag32BitHeader, 1, 2, 100, MustParseGUID("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716"), 9, 1, 4, 0, 3, 0xff, 5, 6, ImageGUID), []ExtItem{{ExtRelatedActivityID, rel[:]}, {ExtStackTrace32, stack}}, []byte("abc")},
		{"eventheader64", eventHeaderBytes(EventHeaderFlag64BitHeader, 1, 2, 100, MustParseGUID("22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716"), 9, 1, 4, 0, 3, 0xff, 5, 6, ImageGUID), nil, []byte("abcdefgh")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h RecordHeader
			require.NoError(t, h.UnmarshalBinary(c.h))
			var d RecordDecoder
			var e Event
			require.NoError(t, d.Decode(&e, &h, BufferContext{ProcessorIndex: 2}, c.ext, c.pay))
			reframe(t, &e)
		})
	}
}

// asConsumed presents a file event the way a real-time consumer hands it to
// its callback: the EVENT_RECORD header, the extended data items and the
// user data. It reports false for records a live kernel session cannot
// produce in that form (COMPACT and INSTANCE headers, messages, unknown
// kernel groups, and the rare kernel record whose form the translation
// infers differently).
func asConsumed(e *Event) (RecordHeader, []ExtItem, []byte, bool) {
	h := RecordHeader{
		ThreadID:   uint32(e.TID),
		ProcessID:  uint32(e.PID),
		TimeStamp:  e.Timestamp,
		ProviderID: e.Provider,
		KernelTime: e.KernelTime,
		UserTime:   e.UserTime,
		ActivityID: e.ActivityID,
		Descriptor: RecordDescriptor{ID: e.ID, Version: uint8(e.Version), Channel: e.Channel, Level: e.Level,
			Opcode: e.Opcode, Task: e.Task, Keyword: e.Keywords},
	}
	if e.Version > 0xFF {
		return h, nil, nil, false
	}
	if e.PointerSize() == 4 {
		h.Flags |= EventHeaderFlag32BitHeader
	} else {
		h.Flags |= EventHeaderFlag64BitHeader
	}
	var ext []ExtItem
	switch e.Header {
	case HeaderSystem32, HeaderSystem64, HeaderPerfInfo32, HeaderPerfInfo64:
		if _, ok := GroupOf(e.Provider); !ok {
			return h, nil, nil, false
		}
		perf := e.Header == HeaderPerfInfo32 || e.Header == HeaderPerfInfo64
		if perf != (e.Group() == GroupStackWalk || (e.PID == NoPID && e.TID == NoTID)) {
			return h, nil, nil, false
		}
		h.Flags |= EventHeaderFlagClassicHeader
		if e.Hook == HookImageLoad {
			h.ProviderID = ImageGUID
		}
		if perf {
			if e.Version&0x8700 != 0 {
				return h, nil, nil, false
			}
			raw := e.Raw()
			if binary.LittleEndian.Uint16(raw)&0x8000 != 0 {
				ext = append(ext, ExtItem{ExtPEBSIndex, binary.LittleEndian.AppendUint64(nil, e.PEBSIndex)})
			}
			if e.NumPMC() > 0 {
				ext = append(ext, ExtItem{ExtPMCCounters, e.pmc})
			}
		}
	case HeaderFull32, HeaderFull64:
		if _, ok := GroupOf(e.Provider); ok {
			return h, nil, nil, false
		}
		h.Flags |= EventHeaderFlagClassicHeader
	case HeaderEvent32, HeaderEvent64:
		h.Flags |= e.Flags &^ EventHeaderFlagExtendedInfo
		h.EventProperty = e.EventProperty
		for it := range e.ExtendedData() {
			ext = append(ext, it)
		}
		if len(ext) > 0 {
			h.Flags |= EventHeaderFlagExtendedInfo
		}
		if (len(ext) > 0) != (e.Flags&EventHeaderFlagExtendedInfo != 0) {
			return h, nil, nil, false
		}
	default:
		return h, nil, nil, false
	}
	return h, ext, e.Payload, true
}

// TestRecordCorpusRoundTrip takes every record of the ETL corpus that a
// live session could deliver, presents it as the consumer would, and checks
// that the translation gives back the same Event and the same record bytes.
func TestRecordCorpusRoundTrip(t *testing.T) {
	traces := corpus.Traces(t)
	const perTrace = 20000
	total := 0
	for _, tr := range traces {
		r, err := Open(tr.Path)
		if err != nil {
			continue
		}
		var d RecordDecoder
		var got Event
		n := 0
		for e, err := range r.All() {
			if err != nil || n >= perTrace {
				break
			}
			h, ext, user, ok := asConsumed(e)
			if !ok {
				continue
			}
			n++
			h.Flags |= EventHeaderFlagProcessorIndex
			require.NoError(t, d.Decode(&got, &h, BufferContext{ProcessorIndex: e.Processor}, ext, user), "%s: %v", tr.Name, e.Header)
			got.Buffer, got.Offset, got.inComp, got.clock = e.Buffer, e.Offset, e.inComp, e.clock
			if !bytes.Equal(got.Raw(), e.Raw()) {
				t.Fatalf("%s buffer %d offset %d (%v hook %v): record bytes differ\nfile %x\nlive %x", tr.Name, e.Buffer, e.Offset, e.Header, e.Hook, e.Raw(), got.Raw())
			}
			a, b := got, *e
			a.Payload, a.ext, a.pmc, a.raw = nil, nil, nil, nil
			b.Payload, b.ext, b.pmc, b.raw = nil, nil, nil, nil
			if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
				t.Fatalf("%s buffer %d offset %d: fields differ\nfile %+v\nlive %+v", tr.Name, e.Buffer, e.Offset, b, a)
			}
		}
		r.Close()
		total += n
	}
	t.Logf("%d records of %d traces round-tripped", total, len(traces))
	if total == 0 {
		t.Skip("no corpus record could be round-tripped")
	}
}

// A real-time consumer's PoolAlloc record becomes the same SYSTEM64 record
// an ETL file holds.
func ExampleRecordDecoder() {
	payload := make([]byte, 24) // PoolAllocation: Type, Tag, NumberOfBytes, Entry
	binary.LittleEndian.PutUint32(payload[4:], 0x20707249)
	h := RecordHeader{
		Flags:      EventHeaderFlagClassicHeader | EventHeaderFlag64BitHeader,
		ThreadID:   88,
		ProcessID:  4,
		TimeStamp:  123456789,
		ProviderID: PoolGUID,
		Descriptor: RecordDescriptor{Opcode: 0x20, Version: 2},
	}
	var d RecordDecoder
	var e Event
	if err := d.Decode(&e, &h, BufferContext{ProcessorIndex: 1}, nil, payload); err != nil {
		panic(err)
	}
	fmt.Println(e.Header, e.Hook, e.Group(), e.PID, e.TID, len(e.Raw()))
	// Output: SYSTEM64 0e20 PoolTrace 4 88 56
}

// TestCloneIntoReuse clones every record of a trace into the same two
// Events in turn, records of many sizes: each copy must equal a fresh
// Clone and keep its bytes while the reader and the other copy move on,
// and a copy's buffer, once grown, is a power of 2 (256 bytes at least),
// so that reuse soon stops allocating; a first copy is exact.
func TestCloneIntoReuse(t *testing.T) {
	r, err := Open("../testdata/irp-leak.etl")
	require.NoError(t, err)
	defer r.Close()
	var dst [2]Event
	var kept [2][]byte // what dst[i] held, copied
	var caps [2]int
	n, grown, sizes := 0, 0, map[int]bool{}
	for ev, err := range r.All() {
		require.NoError(t, err)
		d := &dst[n%2]
		ev.CloneInto(d)
		want := ev.Clone()
		require.Equal(t, want.Raw(), d.Raw(), "record %d", n)
		require.Equal(t, want.Payload, d.Payload, "record %d", n)
		require.Equal(t, want.Timestamp, d.Timestamp)
		require.Equal(t, want.Hook, d.Hook)
		if c := cap(d.Raw()); c != caps[n%2] {
			if caps[n%2] > 0 {
				require.True(t, c >= cloneMin && c&(c-1) == 0, "capacity %d for %d bytes", c, len(ev.Raw()))
				grown++
			}
			caps[n%2] = c
		}
		if o := &dst[(n+1)%2]; n > 0 {
			require.Equal(t, kept[(n+1)%2], o.Raw(), "the other copy changed")
		}
		kept[n%2] = bytes.Clone(d.Raw())
		sizes[len(ev.Raw())] = true
		n++
	}
	require.Greater(t, len(sizes), 5, "records of several sizes")
	require.NotZero(t, grown, "a copy's buffer grew")
}
