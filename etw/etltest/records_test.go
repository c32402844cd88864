package etltest_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frame writes records to a trace and returns the events read back (the
// logfile header event excluded), cloned.
func frame(t testing.TB, ptr int, recs ...[]byte) []*etw.Event {
	t.Helper()
	var f etltest.MemFile
	w, err := etltest.NewWriter(&f, etltest.Options{PointerSize: ptr, BufferSize: 4096})
	require.NoError(t, err)
	for i, r := range recs {
		require.NoError(t, w.WriteRecord(0, etltest.DefaultStartTicks+int64(100*(i+1)), r), "record %d", i)
	}
	require.NoError(t, w.Close())
	r, err := etw.NewReader(&f, f.Size())
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(etw.FileOrder))
	var out []*etw.Event
	for ev, err := range r.All() {
		require.NoError(t, err)
		if ev.Buffer == 0 {
			continue
		}
		out = append(out, ev.Clone())
	}
	require.Len(t, out, len(recs))
	return out
}

var testGUID = etw.MustParseGUID("0d4fdc09-8c27-494a-bda0-505e4fd8adae")

func TestHeaderTypes(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		p := []byte("payload!x")
		kh := etltest.KernelHeader{Version: 3, Hook: 0x0e20, TID: 11, PID: 22, Timestamp: 5, KernelTime: 7, UserTime: 8}
		ch := etltest.ClassicHeader{Type: 36, Level: 4, Version: 2, TID: 11, PID: 22, GUID: testGUID, KernelTime: 1, UserTime: 2}
		recs := [][]byte{
			etltest.System(ptr, kh, p),
			etltest.Compact(ptr, kh, p),
			etltest.PerfInfo(ptr, etltest.PerfInfoHeader{Version: 2, Hook: 0x0f2e, PEBS: true, PEBSIndex: 0x1234, PMC: []uint64{5, 6}}, p),
			etltest.FullHeader(ptr, ch, p),
			etltest.Instance(ptr, etltest.InstanceHeader{ClassicHeader: ch, InstanceID: 9, ParentInstanceID: 10, ParentGUID: etw.ImageGUID}, p),
			etltest.EventHeader(ptr, etltest.ProviderHeader{TID: 11, PID: 22, Provider: testGUID, ID: 77, Version: 1, Level: 4, Opcode: 12, Task: 3, Keywords: 0x8000,
				ActivityID: etw.PoolGUID, Ext: []etw.ExtItem{etltest.StackTrace64(0, 0x1000, 0x2000), etltest.StackTrace32(5, 0x3000)}}, p),
			etltest.Message(etltest.MessageHeader{MessageNumber: 17, OptionFlags: etltest.MessageSequence | etltest.MessageGUID | etltest.MessageTimestamp | etltest.MessageSystemInfo,
				Sequence: 4, GUID: testGUID, Timestamp: 99, TID: 11, PID: 22}, p),
			etltest.Opaque(etw.HeaderError, p),
		}
		evs := frame(t, ptr, recs...)
		for i, ev := range evs {
			assert.Equal(t, string(recs[i]), string(ev.Raw()), "record %d", i)
			assert.Equal(t, "payload!x", string(ev.Payload), "record %d (%v) payload", i, ev.Header)
		}
		sys, cmp, pi, full, inst, eh, msg, opq := evs[0], evs[1], evs[2], evs[3], evs[4], evs[5], evs[6], evs[7]
		assert.Equal(t, ptr, sys.PointerSize())
		assert.Equal(t, etw.HookID(0x0e20), sys.Hook)
		assert.Equal(t, uint16(3), sys.Version)
		assert.Equal(t, etw.TID(11), sys.TID)
		assert.Equal(t, etw.PID(22), sys.PID)
		assert.Equal(t, uint32(7), sys.KernelTime)
		assert.Equal(t, etw.TID(11), cmp.TID)
		assert.Equal(t, uint64(0x1234), pi.PEBSIndex)
		assert.Equal(t, []uint64{5, 6}, pi.PMC())
		assert.Equal(t, uint16(2), pi.Version)
		assert.Equal(t, etw.NoPID, pi.PID)
		assert.Equal(t, testGUID, full.Provider)
		assert.Equal(t, uint8(36), full.Opcode)
		assert.Equal(t, uint32(9), inst.InstanceID)
		assert.Equal(t, etw.ImageGUID, inst.ParentGUID)
		assert.Equal(t, uint16(77), eh.ID)
		assert.Equal(t, uint64(0x8000), eh.Keywords)
		assert.Equal(t, etw.PoolGUID, eh.ActivityID)
		st, ok := eh.ExtItem(etw.ExtStackTrace64)
		require.True(t, ok)
		assert.Equal(t, uint64(0x2000), binary.LittleEndian.Uint64(st[16:]))
		st32, ok := eh.ExtItem(etw.ExtStackTrace32)
		require.True(t, ok)
		assert.Len(t, st32, 12)
		assert.Equal(t, etw.HeaderMessage, msg.Header)
		assert.Equal(t, int64(99), msg.Timestamp)
		assert.Equal(t, etw.PID(22), msg.PID)
		assert.Equal(t, testGUID, msg.Provider)
		assert.Equal(t, etw.HeaderError, opq.Header)
	}
}

func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func ptrAt(b []byte, off, ptr int) uint64 {
	if ptr == 4 {
		return uint64(binary.LittleEndian.Uint32(b[off:]))
	}
	return binary.LittleEndian.Uint64(b[off:])
}

// TestKernelPayloads checks the payload layouts of the typed builders
// against etl-format.md §5.
func TestKernelPayloads(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		P := ptr
		recs := [][]byte{
			etltest.Pool(ptr, etltest.PoolEvent{Meta: etltest.Meta{TID: 1, PID: 2}, Opcode: etltest.PoolAlloc, PoolType: 0x200, Tag: etltest.Tag("Irp "), Size: 1024, Entry: 0x8a000010}),
			etltest.Pool(ptr, etltest.PoolEvent{Opcode: etltest.PoolFreeSession, PoolType: 0x221, Tag: etltest.Tag("Gh05"), Size: 0x1b0, Entry: 0x9a000010, SessionID: 1}),
			etltest.StackWalk(ptr, etltest.Stack{EventTimeStamp: 42, PID: 2, TID: 1, Frames: []uint64{0x81000000, 0x77001000, 0x401000}}),
			etltest.StackKeyRef(ptr, etltest.StackKey{EventTimeStamp: 42, PID: 2, TID: 1, Key: 0x8f000040, User: true}),
			etltest.StackKeyDefinition(ptr, etltest.StackKeyDef{Key: 0x8f000040, Frames: []uint64{1, 2, 3, 4}}),
			etltest.Image(ptr, etltest.ImageEvent{Opcode: etltest.ImageLoad, Base: 0x77c30000, Size: 0x1a3000, ProcessID: 6420, Checksum: 5, TimeDateStamp: 6, DefaultBase: 0x77c30000, FileName: `\Windows\SysWOW64\ntdll.dll`}),
			etltest.Image(ptr, etltest.ImageEvent{Opcode: etltest.ImageDCStart, Base: 0x81e0a000, Size: 0x6bd000, FileName: `\SystemRoot\system32\ntoskrnl.exe`}),
			etltest.Process(ptr, etltest.ProcessEvent{Opcode: etltest.ProcessStart, UniqueProcessKey: 0x8a1c0080, ProcessID: 6420, ParentID: 5012, SessionID: 1, Flags: etltest.ProcessFlagWOW64,
				UserSID: etltest.SID(5, 21, 1, 2, 3, 1001), ImageFileName: "ReadLeak.exe", CommandLine: "ReadLeak.exe x"}),
			etltest.Thread(ptr, etltest.ThreadEvent{Opcode: etltest.ThreadStart, ProcessID: 6420, ThreadID: 0x1c94, Win32StartAddr: 0xe11f30, BasePriority: 8}),
			etltest.DbgIDRSDS(ptr, etltest.RSDSEvent{ImageBase: 0x77c30000, ProcessID: 6420, GUID: testGUID, Age: 2, PDBFileName: "wntdll.pdb"}),
			etltest.HeaderExtension(ptr, etltest.Meta{}, etltest.EventTraceExtension, [8]uint32{7, 0x40}, 0x46),
		}
		evs := frame(t, ptr, recs...)
		pool, spool, sw, key, def, img, dcs, proc, thr, rsds, ext := evs[0], evs[1], evs[2], evs[3], evs[4], evs[5], evs[6], evs[7], evs[8], evs[9], evs[10]

		assert.Equal(t, etw.HookID(0x0e20), pool.Hook)
		assert.Len(t, pool.Payload, 8+2*P)
		assert.Equal(t, etltest.Tag("Irp "), u32(pool.Payload, 4))
		assert.Equal(t, uint64(1024), ptrAt(pool.Payload, 8, P))
		assert.Equal(t, uint64(0x8a000010), ptrAt(pool.Payload, 8+P, P))
		assert.Equal(t, etw.HookID(0x0e23), spool.Hook)
		assert.Len(t, spool.Payload, 12+2*P)
		assert.Equal(t, uint32(1), u32(spool.Payload, 8+2*P))

		assert.Equal(t, etw.HookStackWalk, sw.Hook)
		assert.Equal(t, ptr == 4, sw.Header == etw.HeaderPerfInfo32)
		assert.Len(t, sw.Payload, 16+3*P)
		assert.Equal(t, uint64(42), binary.LittleEndian.Uint64(sw.Payload))
		assert.Equal(t, uint32(1), u32(sw.Payload, 12))
		assert.Equal(t, uint64(0x401000), ptrAt(sw.Payload, 16+2*P, P))
		assert.Equal(t, etw.HookStackKeyUser, key.Hook)
		assert.Len(t, key.Payload, 16+P)
		assert.Equal(t, etw.HookID(0x1824), def.Hook)
		assert.Len(t, def.Payload, 5*P)

		assert.Equal(t, etw.HookImageLoad, img.Hook)
		assert.Equal(t, uint16(3), img.Version)
		assert.Equal(t, uint32(6420), u32(img.Payload, 2*P))
		assert.Equal(t, uint64(0x77c30000), ptrAt(img.Payload, 2*P+16, P))
		assert.Equal(t, `\`, string(img.Payload[3*P+32:3*P+33]))
		assert.Equal(t, etw.HookID(0x1403), dcs.Hook)
		assert.True(t, dcs.Header == etw.HeaderPerfInfo32 || dcs.Header == etw.HeaderPerfInfo64)

		assert.Equal(t, etw.HookID(0x0301), proc.Hook)
		assert.Equal(t, uint16(4), proc.Version)
		assert.Equal(t, uint32(6420), u32(proc.Payload, P))
		assert.Equal(t, etltest.ProcessFlagWOW64, u32(proc.Payload, 2*P+16))
		sidOff := 2*P + 20
		assert.NotZero(t, u32(proc.Payload, sidOff))
		nameOff := sidOff + 2*P + 8 + 4*5
		assert.Equal(t, "ReadLeak.exe\x00", string(proc.Payload[nameOff:nameOff+13]))

		assert.Equal(t, etw.HookID(0x0501), thr.Hook)
		assert.Len(t, thr.Payload, 16+7*P)
		assert.Equal(t, uint64(0xe11f30), ptrAt(thr.Payload, 8+5*P, P))
		assert.Equal(t, uint8(8), thr.Payload[12+7*P])

		assert.Equal(t, etw.KernelTraceControlGUID, rsds.Provider)
		assert.Equal(t, uint8(36), rsds.Opcode)
		assert.Equal(t, testGUID, etw.GUIDFromBytes(rsds.Payload[P+4:]))
		assert.Equal(t, uint32(2), u32(rsds.Payload, P+20))
		assert.Equal(t, "wntdll.pdb\x00", string(rsds.Payload[P+24:]))

		assert.Equal(t, etw.HookID(0x0005), ext.Hook)
		assert.Equal(t, uint32(0x40), u32(ext.Payload, 4))
		assert.Len(t, ext.Payload, 36)
	}
}

func TestLogfileHeaderRoundTrip(t *testing.T) {
	for _, ptr := range []int{4, 8} {
		var f etltest.MemFile
		w, err := etltest.NewWriter(&f, etltest.Options{PointerSize: ptr, EventsLost: 3, BuffersLost: 1, LogFileName: `C:\t.etl`, NumberOfProcessors: 6})
		require.NoError(t, err)
		require.NoError(t, w.WriteRecord(5, etltest.DefaultStartTicks+10_000_000, etltest.System(ptr, etltest.KernelHeader{Version: 2})))
		require.NoError(t, w.LoseEvents(5, 2))
		require.NoError(t, w.Close())
		r, err := etw.NewReader(&f, f.Size())
		require.NoError(t, err)
		h := r.Header()
		assert.Equal(t, uint32(ptr), h.PointerSize)
		assert.Equal(t, uint32(2), h.BuffersWritten)
		assert.Equal(t, uint32(5), h.EventsLost)
		assert.Equal(t, uint32(1), h.BuffersLost)
		assert.Equal(t, "NT Kernel Logger", h.LoggerName)
		assert.Equal(t, `C:\t.etl`, h.LogFileName)
		assert.Equal(t, uint32(6), h.NumberOfProcessors)
		assert.Equal(t, etw.TimeToFiletime(etltest.DefaultStartTime), h.StartTime)
		assert.Equal(t, h.StartTime+10_000_000, h.EndTime, "EndTime is the last timestamp, one second later")
		assert.Equal(t, etw.BufferEventsLost, r.Buffers()[1].Flags&etw.BufferEventsLost)
		assert.Equal(t, uint16(5), r.Buffers()[1].Processor)
	}
}

func TestWriterErrors(t *testing.T) {
	var f etltest.MemFile
	_, err := etltest.NewWriter(&f, etltest.Options{PointerSize: 6})
	assert.ErrorIs(t, err, etltest.ErrBadOptions)
	_, err = etltest.NewWriter(&f, etltest.Options{BufferSize: 1000})
	assert.ErrorIs(t, err, etltest.ErrBadOptions)
	_, err = etltest.NewWriter(&f, etltest.Options{HeaderBufferSize: 512, LoggerName: string(make([]byte, 100))})
	assert.ErrorIs(t, err, etltest.ErrBadOptions)
	w, err := etltest.NewWriter(&f, etltest.Options{BufferSize: 1024})
	require.NoError(t, err)
	require.NoError(t, w.WriteHeaderRecord(etltest.HeaderExtension(8, etltest.Meta{}, etltest.EventTraceExtension, [8]uint32{7}, 0x46)))
	assert.ErrorIs(t, w.WriteHeaderRecord(etltest.System(8, etltest.KernelHeader{}, make([]byte, 900))), etltest.ErrHeaderFull)
	assert.ErrorIs(t, w.WriteRecord(9, 0, etltest.System(8, etltest.KernelHeader{})), etltest.ErrBadRecord)
	assert.ErrorIs(t, w.WriteRecord(0, 0, []byte{1, 2}), etltest.ErrBadRecord)
	big := etltest.System(8, etltest.KernelHeader{}, make([]byte, 2000))
	assert.ErrorIs(t, w.WriteRecord(0, 0, big), etltest.ErrBadRecord)
	bad := etltest.System(8, etltest.KernelHeader{})
	bad[4]++
	assert.ErrorIs(t, w.WriteRecord(0, 0, bad), etltest.ErrBadRecord)
	huge := etltest.System(8, etltest.KernelHeader{}, make([]byte, 70000))
	assert.ErrorIs(t, w.WriteRecord(0, 0, huge), etltest.ErrBadRecord)
	require.NoError(t, w.Close())
	assert.True(t, errors.Is(w.WriteRecord(0, 0, etltest.System(8, etltest.KernelHeader{})), etltest.ErrClosed))
}

type plainWriter struct{ f *etltest.MemFile }

func (p plainWriter) Write(b []byte) (int, error) { return p.f.Write(b) }

// A plain io.Writer gets the header buffer first, with BuffersWritten 0;
// the reader walks to the end anyway.
func TestPlainWriter(t *testing.T) {
	var f etltest.MemFile
	w, err := etltest.NewWriter(plainWriter{&f}, etltest.Options{BufferSize: 1024})
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, w.WriteRecord(i%3, etltest.DefaultStartTicks+int64(i+1), etltest.System(8, etltest.KernelHeader{Version: 2, Hook: 0x0e20}, make([]byte, 24))))
	}
	require.NoError(t, w.Close())
	r, err := etw.NewReader(&f, f.Size())
	require.NoError(t, err)
	assert.Zero(t, r.Header().BuffersWritten)
	n := 0
	for _, err := range r.All() {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 102, n, "header, partition info and 100 records")
	assert.Equal(t, w.BuffersWritten(), len(r.Buffers()))
}

// Compression must pay off on compressible data.
func TestCompressionShrinks(t *testing.T) {
	size := func(compress bool) int64 {
		sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 3, Events: 2000, StackKeys: false, Leak: true, LeakCount: 30})
		o := sc.WriterOptions()
		o.Compress = compress
		data, err := sc.Bytes(o)
		require.NoError(t, err)
		return int64(len(data))
	}
	plain, comp := size(false), size(true)
	t.Logf("uncompressed %d bytes, compressed %d bytes", plain, comp)
	assert.Less(t, comp*3, plain, "compressed trace should be far smaller")
}
