package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
)

// fakeSource feeds prepared records, as the ETW consumer would.
type fakeSource struct {
	recs       []fakeRec
	tail       []fakeRec // delivered after stop: what the kernel still held
	ended      bool      // run returns after the records (the trace was stopped elsewhere)
	stopped    chan struct{}
	aborted    chan struct{}
	once       sync.Once
	abortOne   sync.Once
	releaseOne sync.Once
	stops      int
	hang       chan struct{} // if set, run waits for release after the tail
	res        pathResolver
	clk        *etw.Clock
	runError   error
}

type fakeRec struct {
	h    etw.RecordHeader
	ext  []etw.ExtItem
	user []byte
}

var _ source = (*fakeSource)(nil)

func newFake(recs ...fakeRec) *fakeSource {
	return &fakeSource{
		recs:    recs,
		stopped: make(chan struct{}),
		aborted: make(chan struct{}),
		res:     pathResolver{devices: []deviceMapping{{`\Device\HarddiskVolume3`, `C:`}}, systemRoot: `C:\Windows`},
		clk:     &etw.Clock{Type: etw.ClockPerfCounter, Frequency: 10_000_000, BaseTicks: 0, BaseTime: etw.TimeToFiletime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
	}
}

func (f *fakeSource) run(sink recordSink) error {
	for i := range f.recs {
		r := &f.recs[i]
		if !sink.record(&r.h, etw.BufferContext{ProcessorIndex: 1}, r.ext, r.user) {
			return nil
		}
	}
	if f.ended {
		return f.runError
	}
	<-f.stopped
	for i := range f.tail {
		select {
		case <-f.aborted:
			return nil
		default:
		}
		r := &f.tail[i]
		if !sink.record(&r.h, etw.BufferContext{ProcessorIndex: 2}, r.ext, r.user) {
			return nil
		}
	}
	if f.hang != nil {
		<-f.hang
	}
	return nil
}

func (f *fakeSource) stop() error {
	f.once.Do(func() {
		close(f.stopped)
		f.stops++
	})
	return nil
}

func (f *fakeSource) release() {
	if f.hang != nil {
		f.releaseOne.Do(func() { close(f.hang) })
	}
}

func (f *fakeSource) abort() {
	f.abortOne.Do(func() { close(f.aborted) })
	f.stop()
}
func (f *fakeSource) stats() sourceStats     { return sourceStats{lostEvents: 5, kernelTagFilter: true} }
func (f *fakeSource) clock() *etw.Clock      { return f.clk }
func (f *fakeSource) pointerSize() int       { return 8 }
func (f *fakeSource) resolver() pathResolver { return f.res }

func startFake(t *testing.T, f *fakeSource, opts Options, files map[string][]byte) *Session {
	t.Helper()
	tags, err := parsePoolTags(opts.PoolTags)
	require.NoError(t, err)
	s := newSession(f, opts, tags)
	if s.ids != nil {
		s.ids.open = func(name string) (io.ReaderAt, int64, io.Closer, error) {
			b, ok := files[name]
			if !ok {
				return nil, 0, nil, os.ErrNotExist
			}
			return bytes.NewReader(b), int64(len(b)), io.NopCloser(nil), nil
		}
	}
	go s.consume()
	t.Cleanup(func() { s.Close() })
	return s
}

const classic64 = etw.EventHeaderFlagClassicHeader | etw.EventHeaderFlag64BitHeader

func poolRec(op uint8, tag string, ts int64, tid uint32) fakeRec {
	v, err := ParsePoolTag(tag)
	if err != nil {
		panic(err)
	}
	le := binary.LittleEndian
	p := le.AppendUint32(nil, 1)
	p = le.AppendUint32(p, v)
	p = le.AppendUint64(p, 128)
	p = le.AppendUint64(p, 0xffffc00000001000)
	return fakeRec{h: etw.RecordHeader{Flags: classic64, ThreadID: tid, ProcessID: 4, TimeStamp: ts, ProviderID: etw.PoolGUID,
		Descriptor: etw.RecordDescriptor{Opcode: op, Version: 2}}, user: p}
}

func stackRec(ts int64, tid uint32) fakeRec {
	le := binary.LittleEndian
	p := le.AppendUint64(nil, uint64(ts))
	p = le.AppendUint32(p, 4)
	p = le.AppendUint32(p, tid)
	p = le.AppendUint64(p, 0xfffff80000001234)
	return fakeRec{h: etw.RecordHeader{Flags: classic64, ThreadID: 0xFFFFFFFF, ProcessID: 0xFFFFFFFF, TimeStamp: ts + 1, ProviderID: etw.StackWalkGUID,
		Descriptor: etw.RecordDescriptor{Opcode: 0x20, Version: 2}}, user: p}
}

// imageRec lays out an Image v3 payload (x64) for op 10 (Load) or 3
// (DCStart).
func imageRec(op uint8, base uint64, pid uint32, path string, ts int64) fakeRec {
	le := binary.LittleEndian
	p := le.AppendUint64(nil, base)
	p = le.AppendUint64(p, 0x20000)
	p = le.AppendUint32(p, pid)
	p = le.AppendUint32(p, 0xC0FFEE) // checksum
	p = le.AppendUint32(p, 0x5F000000)
	p = append(p, make([]byte, 4+8+16)...)
	for _, c := range utf16.Encode([]rune(path)) {
		p = le.AppendUint16(p, c)
	}
	p = le.AppendUint16(p, 0)
	h := etw.RecordHeader{Flags: classic64, ThreadID: 77, ProcessID: pid, TimeStamp: ts, ProviderID: etw.ImageGUID,
		Descriptor: etw.RecordDescriptor{Opcode: op, Version: 3}}
	if op == 3 {
		h.ThreadID, h.ProcessID = 0xFFFFFFFF, 0xFFFFFFFF
	}
	return fakeRec{h: h, user: p}
}

func TestSessionPipeline(t *testing.T) {
	ntdll := buildPE(true, testPDBGUID, 1, "ntdll.pdb")
	f := newFake(
		imageRec(3, 0x7ff800000000, 1234, `\Device\HarddiskVolume3\Windows\System32\ntdll.dll`, 100),
		poolRec(0x20, "Irp", 200, 9),
		stackRec(200, 9),
		poolRec(0x20, "File", 300, 9), // other tag: dropped
		stackRec(300, 9),              // its stack: dropped
		fakeRec{h: etw.RecordHeader{ProviderID: rtLostEventGUID}},
		imageRec(10, 0x7ff900000000, 1234, `\Device\HarddiskVolume3\nope.dll`, 400),
	)
	f.ended = true
	s := startFake(t, f, Options{PoolTags: []string{"Irp"}, Rundown: true}, map[string][]byte{`C:\Windows\System32\ntdll.dll`: ntdll})

	var got []*etw.Event
	for {
		e, err := s.ReadEvent()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, e.Clone())
	}
	require.Len(t, got, 5)

	// The DbgID event comes first, as in merged traces.
	assert.Equal(t, hookImageDC, got[1].Hook)
	assert.Equal(t, etw.HeaderPerfInfo64, got[1].Header)
	assert.Equal(t, int64(0), got[1].Offset, "sequence number")
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 10_000, time.UTC), got[1].Time())

	dbg := got[0]
	assert.Equal(t, etw.HeaderFull64, dbg.Header)
	assert.Equal(t, etw.KernelTraceControlGUID, dbg.Provider)
	assert.Equal(t, uint8(36), dbg.Opcode)
	assert.Equal(t, uint16(2), dbg.Version)
	assert.Equal(t, int64(100), dbg.Timestamp, "same timestamp as the image event")
	assert.Equal(t, uint16(1), dbg.Processor)
	assert.Equal(t, etw.PID(1234), dbg.PID, "the image's process")
	assert.Equal(t, dbg.Time(), got[1].Time())
	le := binary.LittleEndian
	p := dbg.Payload
	require.Len(t, p, 8+4+16+4+len("ntdll.pdb")+1)
	assert.Equal(t, uint64(0x7ff800000000), le.Uint64(p))
	assert.Equal(t, uint32(1234), le.Uint32(p[8:]))
	assert.Equal(t, testPDBGUID, etw.GUIDFromBytes(p[12:28]))
	assert.Equal(t, uint32(1), le.Uint32(p[28:]))
	assert.Equal(t, "ntdll.pdb\x00", string(p[32:]))
	assert.Equal(t, byte(etw.HeaderFull64), dbg.Raw()[2])

	assert.Equal(t, etw.HookID(0x0E20), got[2].Hook)
	assert.Equal(t, etw.HookStackWalk, got[3].Hook)
	assert.Equal(t, etw.HookImageLoad, got[4].Hook)
	assert.Equal(t, int64(3), got[4].Offset, "sequence counts delivered records")

	assert.Same(t, f.clk, s.Clock())
	assert.Equal(t, 8, s.PointerSize())
	st := s.Stats()
	assert.Equal(t, uint64(7), st.Records)
	assert.Equal(t, uint64(5), st.Events)
	assert.Equal(t, uint64(2), st.Filtered)
	assert.Equal(t, uint64(1), st.ImageIDs)
	assert.Equal(t, uint64(1), st.ImageIDFailures)
	assert.Equal(t, uint64(1), st.LostEventRecords)
	assert.Equal(t, uint64(5), st.LostEvents)
	assert.True(t, st.KernelTagFilter)

	// After the end, reads keep reporting EOF; Close then reports closed.
	_, err := s.ReadEvent()
	assert.Equal(t, io.EOF, err)
	require.NoError(t, s.Close())
	_, err = s.ReadEvent()
	assert.ErrorIs(t, err, os.ErrClosed)
}

func TestSessionIdentityCache(t *testing.T) {
	ntdll := buildPE(true, testPDBGUID, 1, "ntdll.pdb")
	path := `\SystemRoot\System32\ntdll.dll`
	f := newFake(imageRec(10, 1<<40, 1, path, 1), imageRec(10, 1<<40, 2, path, 2), imageRec(10, 1<<40, 3, path, 3))
	f.ended = true
	opened := 0
	s := startFake(t, f, Options{}, nil)
	s.ids.open = func(name string) (io.ReaderAt, int64, io.Closer, error) {
		opened++
		assert.Equal(t, `C:\Windows\System32\ntdll.dll`, name)
		return bytes.NewReader(ntdll), int64(len(ntdll)), io.NopCloser(nil), nil
	}
	n := 0
	var prev *etw.Event
	for e, err := range s.All() {
		require.NoError(t, err)
		if e.Provider == etw.KernelTraceControlGUID {
			n++
			assert.Equal(t, uint32(n), binary.LittleEndian.Uint32(e.Payload[8:]), "process id of each load")
			assert.Equal(t, etw.TID(77), e.TID, "the image event's thread")
		}
		if e.Hook == etw.HookImageLoad {
			require.NotNil(t, prev)
			assert.Equal(t, etw.KernelTraceControlGUID, prev.Provider)
			assert.Equal(t, prev.Timestamp, e.Timestamp)
			assert.Equal(t, prev.PID, e.PID)
		}
		prev = e.Clone()
	}
	assert.Equal(t, 3, n)
	assert.Equal(t, 1, opened, "one read per image file")
}

func TestSessionRundownOff(t *testing.T) {
	f := newFake(imageRec(3, 1<<40, 1, `\SystemRoot\a.dll`, 1), poolRec(0x22, "Irp", 2, 1))
	f.ended = true
	s := startFake(t, f, Options{NoPDBIdentity: true}, nil)
	var hooks []etw.HookID
	for e, err := range s.All() {
		require.NoError(t, err)
		hooks = append(hooks, e.Hook)
	}
	assert.Equal(t, []etw.HookID{0x0E22}, hooks)
	assert.Equal(t, uint64(1), s.Stats().Filtered)
}

func TestSessionCloseUnblocks(t *testing.T) {
	f := newFake(poolRec(0x20, "Irp", 1, 1))
	s := startFake(t, f, Options{NoPDBIdentity: true, ReorderWindow: 5 * time.Millisecond}, nil)
	e, err := s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, etw.HookID(0x0E20), e.Hook)
	done := make(chan error, 1)
	go func() {
		_, err := s.ReadEvent()
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, s.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, os.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("ReadEvent still blocked after Close")
	}
	require.NoError(t, s.Close())
	assert.Equal(t, 1, f.stops, "the trace is stopped once")
	assert.Equal(t, uint64(5), s.Stats().LostEvents, "counters kept after Close")
}

func TestSessionConsumerBlocksOnFullQueue(t *testing.T) {
	var recs []fakeRec
	for i := range 50 {
		recs = append(recs, poolRec(0x20, "Irp", int64(i), 1))
	}
	f := newFake(recs...)
	f.ended = true
	s := startFake(t, f, Options{NoPDBIdentity: true, QueueSize: 4}, nil)
	n := 0
	for e, err := range s.All() {
		require.NoError(t, err)
		assert.Equal(t, int64(n), e.Timestamp, "order kept")
		n++
	}
	assert.Equal(t, 50, n)
}

func TestSessionRunError(t *testing.T) {
	f := newFake()
	f.ended = true
	f.runError = errors.New("boom")
	s := startFake(t, f, Options{}, nil)
	_, err := s.ReadEvent()
	assert.EqualError(t, err, "boom")
}

func TestSessionNoAllocs(t *testing.T) {
	for _, w := range []time.Duration{-1, time.Millisecond} {
		f := newFake()
		s := newSession(f, Options{NoPDBIdentity: true, QueueSize: 8, ReorderWindow: w}, nil)
		ts := int64(0)
		r := poolRec(0x20, "Irp", 0, 1)
		st := stackRec(0, 1)
		feed := func() {
			ts += 1e6 // 100 ms at 10 MHz: beyond the window
			r.h.TimeStamp = ts
			s.record(&r.h, etw.BufferContext{}, nil, r.user)
			st.h.TimeStamp = ts
			s.record(&st.h, etw.BufferContext{}, nil, st.user)
		}
		if w > 0 {
			feed() // keep one newer event queued so each read is released by trace time
		}
		allocs := testing.AllocsPerRun(200, func() {
			feed()
			if _, err := s.ReadEvent(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadEvent(); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "window %v", w)
	}
}

func TestSessionReorder(t *testing.T) {
	var recs []fakeRec
	for _, ts := range []int64{50, 30, 90, 10, 70, 30} {
		recs = append(recs, poolRec(0x20, "Irp", ts, 1))
	}
	f := newFake(recs...)
	f.ended = true
	s := startFake(t, f, Options{NoPDBIdentity: true}, nil)
	var got []int64
	var seq []int64
	for e, err := range s.All() {
		require.NoError(t, err)
		got = append(got, e.Timestamp)
		seq = append(seq, e.Offset)
	}
	assert.Equal(t, []int64{10, 30, 30, 50, 70, 90}, got)
	assert.Equal(t, []int64{3, 1, 5, 0, 4, 2}, seq, "ties keep arrival order")
	assert.Zero(t, s.Stats().OutOfOrder)
}

func TestSessionLateEvents(t *testing.T) {
	f := newFake()
	s := newSession(f, Options{NoPDBIdentity: true, QueueSize: 8, ReorderWindow: 100 * time.Nanosecond}, nil)
	for _, ts := range []int64{10, 20} {
		r := poolRec(0x20, "Irp", ts, 1)
		s.record(&r.h, etw.BufferContext{}, nil, r.user)
	}
	e, err := s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, int64(10), e.Timestamp)
	r := poolRec(0x20, "Irp", 5, 1) // arrives after 10 was returned
	s.record(&r.h, etw.BufferContext{}, nil, r.user)
	e, err = s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, int64(5), e.Timestamp)
	assert.Equal(t, uint64(1), s.Stats().OutOfOrder)
	// The newest event is released by wall time when nothing newer comes.
	e, err = s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, int64(20), e.Timestamp)
}

func BenchmarkSessionRecord(b *testing.B) {
	for _, w := range []time.Duration{-1, time.Millisecond} {
		name := "arrival"
		if w > 0 {
			name = "reorder"
		}
		b.Run(name, func(b *testing.B) {
			f := newFake()
			s := newSession(f, Options{NoPDBIdentity: true, QueueSize: 64, ReorderWindow: w}, nil)
			r := poolRec(0x20, "Irp", 0, 1)
			ts := int64(0)
			feed := func() {
				ts += 1e6
				r.h.TimeStamp = ts
				s.record(&r.h, etw.BufferContext{}, nil, r.user)
			}
			if w > 0 {
				feed()
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(r.user)))
			for b.Loop() {
				feed()
				if _, err := s.ReadEvent(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func TestPathResolver(t *testing.T) {
	r := pathResolver{devices: []deviceMapping{{`\Device\HarddiskVolume3`, `C:`}, {`\Device\HarddiskVolume31`, `D:`}}, systemRoot: `C:\Windows\`}
	cases := map[string]string{
		`\Device\HarddiskVolume3\Windows\System32\ntdll.dll`: `C:\Windows\System32\ntdll.dll`,
		`\device\harddiskvolume3\x.dll`:                      `C:\x.dll`,
		`\Device\HarddiskVolume31\y.dll`:                     `D:\y.dll`,
		`\SystemRoot\system32\ntoskrnl.exe`:                  `C:\Windows\system32\ntoskrnl.exe`,
		`\systemroot\system32\drivers\tcpip.sys`:             `C:\Windows\system32\drivers\tcpip.sys`,
		`\??\C:\Program Files\app.exe`:                       `C:\Program Files\app.exe`,
		`C:\already\win32.dll`:                               `C:\already\win32.dll`,
	}
	for in, want := range cases {
		got, ok := r.resolve(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{`\Device\Mup\server\share\a.dll`, `\Device\HarddiskVolume3`, `relative.dll`, ``} {
		_, ok := r.resolve(in)
		assert.False(t, ok, in)
	}
	_, ok := (&pathResolver{}).resolve(`\SystemRoot\a.dll`)
	assert.False(t, ok)
}

func TestParseImage(t *testing.T) {
	var d etw.RecordDecoder
	var e etw.Event
	r := imageRec(10, 0x1234, 5, `\SystemRoot\a.dll`, 9)
	require.NoError(t, d.Decode(&e, &r.h, etw.BufferContext{}, nil, r.user))
	var info imageInfo
	require.True(t, parseImage(&e, &info))
	assert.Equal(t, uint64(0x1234), info.base)
	assert.Equal(t, uint32(5), info.pid)
	assert.Equal(t, uint32(0x5F000000), info.stamp)
	assert.Equal(t, `\SystemRoot\a.dll`, info.path)
	assert.Equal(t, 8, info.ptr)

	// Truncated payloads and other events are not images.
	require.NoError(t, d.Decode(&e, &r.h, etw.BufferContext{}, nil, r.user[:50]))
	assert.False(t, parseImage(&e, &info))
	p := poolRec(0x20, "Irp", 1, 1)
	require.NoError(t, d.Decode(&e, &p.h, etw.BufferContext{}, nil, p.user))
	assert.False(t, parseImage(&e, &info))
}

func TestParsePoolTags(t *testing.T) {
	v, err := ParsePoolTag("Irp")
	require.NoError(t, err)
	assert.Equal(t, uint32(0x20707249), v)
	v, err = ParsePoolTag("NDnd")
	require.NoError(t, err)
	assert.Equal(t, []byte("NDnd"), binary.LittleEndian.AppendUint32(nil, v))
	for _, bad := range []string{"", "TooLong", "a\x01", "\xffab"} {
		_, err := ParsePoolTag(bad)
		assert.ErrorIs(t, err, ErrBadPoolTag, bad)
	}
	_, err = parsePoolTags([]string{"a", "b", "c", "d", "e"})
	assert.ErrorIs(t, err, ErrBadPoolTag)
	_, err = Start(Options{PoolTags: []string{"a", "b", "c", "d", "e"}})
	assert.ErrorIs(t, err, ErrBadPoolTag)
}

func TestTagFilterProtectedBit(t *testing.T) {
	f := tagFilter{tags: []tagPattern{{value: 0x20707249, mask: 0x7FFFFFFF}}}
	r := poolRec(0x20, "Irp", 1, 1)
	binary.LittleEndian.PutUint32(r.user[4:], 0x20707249|protectedTagBit)
	assert.True(t, f.keep(&r.h, r.user))
	other := poolRec(0x21, "File", 2, 1)
	assert.False(t, f.keep(&other.h, other.user))
	// Pool events that carry no tag (snapshots) pass.
	snap := poolRec(0x28, "File", 3, 1)
	assert.True(t, f.keep(&snap.h, snap.user))
}

// FuzzSessionRecord pushes arbitrary records through the session: the tag
// filter, the rundown filter, the translation, image parsing, path
// resolution and the PE reading of a file whose bytes are fuzzed too.
func FuzzSessionRecord(f *testing.F) {
	le := binary.LittleEndian
	hdr := func(r fakeRec) []byte {
		b, _ := r.h.AppendBinary(nil)
		return b
	}
	img := imageRec(10, 1<<40, 7, `\Device\HarddiskVolume3\x.dll`, 5)
	f.Add(hdr(img), img.user, buildPE(true, testPDBGUID, 1, "x.pdb"))
	dc := imageRec(3, 1<<40, 7, `\SystemRoot\y.dll`, 5)
	f.Add(hdr(dc), dc.user, buildPE(false, testPDBGUID, 2, "y.pdb"))
	p := poolRec(0x20, "Irp", 9, 1)
	f.Add(hdr(p), p.user, []byte("MZ"))
	st := stackRec(9, 1)
	f.Add(hdr(st), st.user, []byte{})
	f.Add(make([]byte, 80), le.AppendUint64(nil, 1), []byte{})
	f.Fuzz(func(t *testing.T, h []byte, user []byte, file []byte) {
		var rh etw.RecordHeader
		if rh.UnmarshalBinary(h) != nil {
			return
		}
		src := newFake()
		s := newSession(src, Options{PoolTags: []string{"Irp"}, QueueSize: 4, ReorderWindow: -1, Rundown: len(user)%2 == 0}, []tagPattern{{value: 0x20707249, mask: 0x7FFFFFFF}})
		s.ids.open = func(string) (io.ReaderAt, int64, io.Closer, error) {
			return bytes.NewReader(file), int64(len(file)), io.NopCloser(nil), nil
		}
		rh.Flags |= etw.EventHeaderFlagClassicHeader
		for range 2 {
			s.record(&rh, etw.BufferContext{}, nil, user)
		}
		for len(s.full) > 0 || s.held != nil {
			if _, err := s.ReadEvent(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestDbgIDReachesModules feeds a session's events to the stack
// resolver's module maps, as the analysis pipeline does: the synthesized
// DbgID event gives the image its PDB identity, as in a merged trace.
func TestDbgIDReachesModules(t *testing.T) {
	ntdll := buildPE(true, testPDBGUID, 7, "ntdll.pdb")
	f := newFake(
		imageRec(3, 0x7ff800000000, 1234, `\Device\HarddiskVolume3\Windows\System32\ntdll.dll`, 100),
		imageRec(10, 0x7ff900000000, 1234, `\Device\HarddiskVolume3\Windows\System32\ntdll.dll`, 200),
	)
	f.ended = true
	s := startFake(t, f, Options{Rundown: true}, map[string][]byte{`C:\Windows\System32\ntdll.dll`: ntdll})
	ms := stacks.NewModules(8)
	for e, err := range s.All() {
		require.NoError(t, err)
		ms.Event(e)
	}
	ms.Finish()
	for _, base := range []uint64{0x7ff800000000, 0x7ff900000000} {
		m, _ := ms.Lookup(1234, base+0x10, 150)
		if base == 0x7ff900000000 {
			m, _ = ms.Lookup(1234, base+0x10, 250)
		}
		require.NotNil(t, m, "module at %#x", base)
		require.NotNil(t, m.PDB, "PDB identity of the module at %#x", base)
		assert.Equal(t, testPDBGUID, m.PDB.GUID)
		assert.Equal(t, uint32(7), m.PDB.Age)
		assert.Equal(t, "ntdll.pdb", m.PDB.Name)
	}
}
