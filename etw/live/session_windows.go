//go:build windows

package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	getw "github.com/0xrawsec/golang-etw/etw"
	"golang.org/x/sys/windows"

	"github.com/etwkit/etwkit/etw"
)

// The session is controlled and consumed through golang-etw's bindings
// (StartTrace, ControlTrace, OpenTrace, ProcessTrace, CloseTrace and their
// structures). golang-etw's Consumer type is not used: it opens traces
// without PROCESS_TRACE_MODE_RAW_TIMESTAMP, so header timestamps would be
// converted to FILETIMEs while StackWalk payloads keep raw QPC values, and
// stacks could no longer be matched to their events. golang-etw has no
// binding for TraceSetInformation/TraceQueryInformation, QueryDosDevice or
// the performance counter; those come from golang.org/x/sys/windows.

var (
	advapi32                  = windows.NewLazySystemDLL("advapi32.dll")
	procTraceSetInformation   = advapi32.NewProc("TraceSetInformation")
	procTraceQueryInformation = advapi32.NewProc("TraceQueryInformation")
	kernel32                  = windows.NewLazySystemDLL("kernel32.dll")
	procQPC                   = kernel32.NewProc("QueryPerformanceCounter")
	procQPF                   = kernel32.NewProc("QueryPerformanceFrequency")
)

// ETW constants not exported by golang-etw.
const (
	wnodeFlagTracedGUID        = 0x00020000
	traceStackTracingInfo      = 3               // TRACE_INFO_CLASS TraceStackTracingInfo
	traceSystemTraceEnableInfo = 4               // TraceSystemTraceEnableFlagsInfo
	kernelFlags                = 0x1 | 0x2 | 0x4 // EVENT_TRACE_FLAG_PROCESS|THREAD|IMAGE_LOAD
	perfPoolMask1              = 0x40            // PERF_POOL 0x20000040: Masks[1]
	flagExtItems               = 0x80FF0000      // EVENT_TRACE_FLAG_EXT_ITEMS | offset
	extEnableFlags             = 1               // ETW_EXT_ENABLE_FLAGS
	extPoolTagFilter           = 4               // ETW_EXT_POOLTAG_FILTER
	invalidProcessTraceHandle  = ^uintptr(0)
	maxSessions                = 64
	nameReserve                = 2048 // bytes after the properties for names ControlTrace writes back
)

// registry maps the Context value of a consumer to its source, so the
// callbacks (created once per process: Windows callbacks are never freed)
// find their session without allocating.
var registry [maxSessions + 1]atomic.Pointer[winSource]

var (
	recordCallback = sync.OnceValue(func() uintptr { return syscall.NewCallback(onRecord) })
	bufferCallback = sync.OnceValue(func() uintptr { return syscall.NewCallback(onBuffer) })
	registryMu     sync.Mutex
)

type winSource struct {
	name     string
	nameW    []uint16
	props    []byte // EVENT_TRACE_PROPERTIES and names, kept alive
	session  syscall.Handle
	trace    syscall.Handle
	logfile  getw.EventTraceLogfile
	id       int
	clk      *etw.Clock
	ptr      int
	res      pathResolver
	tagKern  bool
	stopping atomic.Bool
	stopOnce sync.Once
	stopErr  error
	panicErr atomic.Pointer[error]

	sink recordSink
	ext  []etw.ExtItem // reused per record
	hdr  etw.RecordHeader
}

var _ source = (*winSource)(nil)

func openSource(opts Options, tags []uint32) (source, error) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return nil, fmt.Errorf("live: only 64-bit processes are supported (TRACEHANDLE is 64 bits): %w", ErrNotSupported)
	}
	s := &winSource{name: opts.Name, ptr: 8}
	var err error
	if s.nameW, err = windows.UTF16FromString(opts.Name); err != nil {
		return nil, fmt.Errorf("live: session name %q: %w", opts.Name, err)
	}
	if err := s.start(opts, tags); err != nil {
		return nil, err
	}
	if err := s.enable(opts); err != nil {
		s.stopSession()
		return nil, err
	}
	if err := s.open(); err != nil {
		s.stopSession()
		return nil, err
	}
	s.res = newResolver()
	return s, nil
}

// properties lays out EVENT_TRACE_PROPERTIES, the logger name and the
// optional extension block ext (ULONGs) in one buffer.
func (s *winSource) properties(opts Options, ext []uint32) []byte {
	base := int(unsafe.Sizeof(getw.EventTraceProperties{}))
	nameOff := base
	extOff := (nameOff + 2*len(s.nameW) + 7) &^ 7
	size := extOff + 4*len(ext) + nameReserve
	buf := make([]byte, size)
	p := (*getw.EventTraceProperties)(unsafe.Pointer(&buf[0]))
	p.Wnode.BufferSize = uint32(size)
	p.Wnode.ClientContext = 1 // QPC
	p.Wnode.Flags = wnodeFlagTracedGUID
	p.BufferSize = opts.BufferSizeKB
	p.MinimumBuffers = opts.MinBuffers
	p.MaximumBuffers = opts.MaxBuffers
	p.FlushTimer = 1 // seconds: quiet sessions still deliver promptly
	p.LogFileMode = getw.EVENT_TRACE_REAL_TIME_MODE
	if opts.Name == KernelLoggerName {
		p.Wnode.Guid = getw.GUID(toGUIDValue(etw.SystemTraceControlGUID))
	} else {
		p.LogFileMode |= getw.EVENT_TRACE_SYSTEM_LOGGER_MODE
		if g, err := windows.GenerateGUID(); err == nil {
			p.Wnode.Guid = getw.GUID{Data1: g.Data1, Data2: g.Data2, Data3: g.Data3, Data4: g.Data4}
		}
	}
	p.LoggerNameOffset = uint32(nameOff)
	for i, c := range s.nameW {
		binary.LittleEndian.PutUint16(buf[nameOff+2*i:], c)
	}
	p.EnableFlags = kernelFlags
	if len(ext) > 0 {
		p.EnableFlags = flagExtItems | uint32(extOff)
		for i, v := range ext {
			binary.LittleEndian.PutUint32(buf[extOff+4*i:], v)
		}
	}
	return buf
}

type guidValue struct {
	Data1        uint32
	Data2, Data3 uint16
	Data4        [8]byte
}

func toGUIDValue(g etw.GUID) guidValue {
	return guidValue{g.Data1, g.Data2, g.Data3, g.Data4}
}

// tagExtension builds the EVENT_TRACE_PROPERTIES extension block that
// enables the kernel groups and the pool tag filter: a header ULONG (length
// in ULONGs, item count), then items each led by a ULONG (item length in
// ULONGs, type).
func tagExtension(tags []uint32) []uint32 {
	item := func(typ uint32, data ...uint32) []uint32 {
		return append([]uint32{uint32(1+len(data)) | typ<<16}, data...)
	}
	var body []uint32
	body = append(body, item(extEnableFlags, kernelFlags, perfPoolMask1, 0, 0, 0, 0, 0, 0)...)
	body = append(body, item(extPoolTagFilter, tags...)...)
	return append([]uint32{uint32(1+len(body)) | 2<<16}, body...)
}

func (s *winSource) start(opts Options, tags []uint32) error {
	try := func(ext []uint32) error {
		s.props = s.properties(opts, ext)
		err := getw.StartTrace(&s.session, &s.nameW[0], s.propsPtr())
		if errors.Is(err, getw.ERROR_ALREADY_EXISTS) && s.name != KernelLoggerName {
			// A session of this name outlived the process that started
			// it: stop it and start ours. (The NT Kernel Logger may belong
			// to another tool: it is never taken over.)
			stale := s.properties(opts, nil)
			_ = getw.ControlTrace(0, &s.nameW[0], (*getw.EventTraceProperties)(unsafe.Pointer(&stale[0])), getw.EVENT_TRACE_CONTROL_STOP)
			s.props = s.properties(opts, ext)
			err = getw.StartTrace(&s.session, &s.nameW[0], s.propsPtr())
		}
		return err
	}
	if len(tags) > 0 {
		if err := try(tagExtension(tags)); err == nil {
			s.tagKern = true
			return nil
		} else if errors.Is(err, getw.ERROR_ACCESS_DENIED) {
			return fmt.Errorf("live: starting session %q: %w (run elevated)", s.name, err)
		}
		// The extension was refused: filter in user mode only.
	}
	if err := try(nil); err != nil {
		if errors.Is(err, getw.ERROR_ACCESS_DENIED) {
			return fmt.Errorf("live: starting session %q: %w (run elevated)", s.name, err)
		}
		return fmt.Errorf("live: starting session %q: %w", s.name, err)
	}
	return nil
}

func (s *winSource) propsPtr() *getw.EventTraceProperties {
	return (*getw.EventTraceProperties)(unsafe.Pointer(&s.props[0]))
}

// enable adds PERF_POOL to the session's group mask and turns on stack
// walks for the pool events.
func (s *winSource) enable(opts Options) error {
	var mask [8]uint32
	var ret uint32
	if r, _, _ := procTraceQueryInformation.Call(uintptr(s.session), traceSystemTraceEnableInfo,
		uintptr(unsafe.Pointer(&mask[0])), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&ret))); r != 0 {
		mask = [8]uint32{}
	}
	mask[0] |= kernelFlags
	mask[1] |= perfPoolMask1
	if r, _, _ := procTraceSetInformation.Call(uintptr(s.session), traceSystemTraceEnableInfo,
		uintptr(unsafe.Pointer(&mask[0])), unsafe.Sizeof(mask)); r != 0 && !s.tagKern {
		return fmt.Errorf("live: enabling PERF_POOL on session %q: TraceSetInformation: %w", s.name, syscall.Errno(r))
	}
	if !opts.StackWalk {
		return nil
	}
	// CLASSIC_EVENT_ID {GUID EventGuid; UCHAR Type; UCHAR Reserved[7]}.
	var ids [4 * 24]byte
	g := etw.PoolGUID.Bytes()
	for i := range 4 {
		copy(ids[24*i:], g[:])
		ids[24*i+16] = byte(0x20 + i) // PoolAlloc, PoolAllocSession, PoolFree, PoolFreeSession
	}
	if r, _, _ := procTraceSetInformation.Call(uintptr(s.session), traceStackTracingInfo,
		uintptr(unsafe.Pointer(&ids[0])), uintptr(len(ids))); r != 0 {
		return fmt.Errorf("live: enabling pool stack walks on session %q: TraceSetInformation: %w", s.name, syscall.Errno(r))
	}
	return nil
}

// open opens the real-time consumer with raw timestamps and reads the
// session's clock.
func (s *winSource) open() error {
	registryMu.Lock()
	for i := 1; i <= maxSessions; i++ {
		if registry[i].Load() == nil {
			s.id = i
			registry[i].Store(s)
			break
		}
	}
	registryMu.Unlock()
	if s.id == 0 {
		return fmt.Errorf("live: more than %d sessions in one process", maxSessions)
	}
	s.logfile = getw.EventTraceLogfile{LoggerName: &s.nameW[0]}
	s.logfile.SetProcessTraceMode(getw.PROCESS_TRACE_MODE_EVENT_RECORD | getw.PROCESS_TRACE_MODE_REAL_TIME | getw.PROCESS_TRACE_MODE_RAW_TIMESTAMP)
	s.logfile.Callback = recordCallback()
	s.logfile.BufferCallback = bufferCallback()
	s.logfile.Context = uintptr(s.id)
	h, err := getw.OpenTrace(&s.logfile)
	if uintptr(h) == invalidProcessTraceHandle {
		registry[s.id].Store(nil)
		return fmt.Errorf("live: opening session %q for consumption: %w", s.name, err)
	}
	s.trace = h

	hdr := &s.logfile.LogfileHeader
	freq := hdr.PerfFreq
	if freq <= 0 {
		procQPF.Call(uintptr(unsafe.Pointer(&freq)))
	}
	if ps := binary.LittleEndian.Uint32(hdr.Union1[4:]); ps == 4 || ps == 8 {
		s.ptr = int(ps)
	}
	// Anchor raw QPC ticks to wall time now.
	var qpc int64
	var ft windows.Filetime
	procQPC.Call(uintptr(unsafe.Pointer(&qpc)))
	windows.GetSystemTimePreciseAsFileTime(&ft)
	s.clk = &etw.Clock{Type: etw.ClockPerfCounter, Frequency: freq, BaseTicks: qpc, BaseTime: ft.Nanoseconds()/100 + 116444736000000000}
	return nil
}

func (s *winSource) run(sink recordSink) error {
	s.sink = sink
	defer registry[s.id].Store(nil)
	err := getw.ProcessTrace(&s.trace, 1, nil, nil)
	if p := s.panicErr.Load(); p != nil {
		return *p
	}
	if err != nil && !errors.Is(err, getw.ERROR_CTX_CLOSE_PENDING) && !s.stopping.Load() {
		return fmt.Errorf("live: ProcessTrace on session %q: %w", s.name, err)
	}
	return nil
}

// stopSession stops the controller side only.
func (s *winSource) stopSession() error {
	props := s.properties(Options{Name: s.name}, nil)
	return getw.ControlTrace(s.session, nil, (*getw.EventTraceProperties)(unsafe.Pointer(&props[0])), getw.EVENT_TRACE_CONTROL_STOP)
}

func (s *winSource) stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		err := s.stopSession()
		if cerr := getw.CloseTrace(s.trace); cerr != nil && !errors.Is(cerr, getw.ERROR_CTX_CLOSE_PENDING) && err == nil {
			err = cerr
		}
		if err != nil {
			s.stopErr = fmt.Errorf("live: stopping session %q: %w", s.name, err)
		}
	})
	return s.stopErr
}

func (s *winSource) stats() sourceStats {
	st := sourceStats{kernelTagFilter: s.tagKern}
	if s.stopping.Load() {
		return st
	}
	props := s.properties(Options{Name: s.name}, nil)
	p := (*getw.EventTraceProperties)(unsafe.Pointer(&props[0]))
	if getw.ControlTrace(s.session, nil, p, getw.EVENT_TRACE_CONTROL_QUERY) == nil {
		st.lostEvents = uint64(p.EventsLost)
		st.lostBuffers = uint64(p.LogBuffersLost)
		st.rtBuffersLost = uint64(p.RealTimeBuffersLost)
	}
	return st
}

func (s *winSource) clock() *etw.Clock      { return s.clk }
func (s *winSource) pointerSize() int       { return s.ptr }
func (s *winSource) resolver() pathResolver { return s.res }

// onRecord is the EVENT_RECORD callback of every session.
func onRecord(er *getw.EventRecord) uintptr {
	id := int(er.UserContext)
	if id <= 0 || id > maxSessions {
		return 0
	}
	s := registry[id].Load()
	if s == nil || s.stopping.Load() || s.sink == nil {
		return 0
	}
	// A panic must not unwind through ProcessTrace's frames: stop the
	// session and report it from run instead.
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("live: record callback panicked: %v", p)
			s.panicErr.Store(&err)
			s.stopping.Store(true)
			go s.stop()
		}
	}()
	s.deliver(er)
	return 0
}

// onBuffer is the buffer callback: returning 0 ends ProcessTrace.
func onBuffer(lf *getw.EventTraceLogfile) uintptr {
	id := int(lf.Context)
	if id <= 0 || id > maxSessions {
		return 0
	}
	s := registry[id].Load()
	if s == nil || s.stopping.Load() {
		return 0
	}
	return 1
}

// deliver copies the fields of the Windows EVENT_RECORD into the
// OS-independent form and hands it to the sink. It does not allocate.
func (s *winSource) deliver(er *getw.EventRecord) {
	hdr := unsafe.Slice((*byte)(unsafe.Pointer(&er.EventHeader)), etw.RecordHeaderSize)
	if s.hdr.UnmarshalBinary(hdr) != nil {
		return
	}
	ctx := etw.BufferContext{ProcessorIndex: er.BufferContext.Union, LoggerID: er.BufferContext.LoggerId}
	s.ext = s.ext[:0]
	n := int(er.ExtendedDataCount)
	if n > etw.MaxRecordExtItems {
		n = etw.MaxRecordExtItems
	}
	if n > 0 && er.ExtendedData != nil {
		items := unsafe.Slice(er.ExtendedData, n)
		for i := range items {
			it := &items[i]
			p := *(*unsafe.Pointer)(unsafe.Pointer(&it.DataPtr))
			var data []byte
			if p != nil && it.DataSize > 0 {
				data = unsafe.Slice((*byte)(p), int(it.DataSize))
			}
			s.ext = append(s.ext, etw.ExtItem{Type: etw.ExtType(it.ExtType), Data: data})
		}
	}
	var user []byte
	if p := *(*unsafe.Pointer)(unsafe.Pointer(&er.UserData)); p != nil && er.UserDataLength > 0 {
		user = unsafe.Slice((*byte)(p), int(er.UserDataLength))
	}
	if !s.sink.record(&s.hdr, ctx, s.ext, user) {
		s.stopping.Store(true)
	}
}

// newResolver maps the NT device names of the drive letters and
// %SystemRoot%.
func newResolver() pathResolver {
	var r pathResolver
	r.systemRoot = os.Getenv("SystemRoot")
	if r.systemRoot == "" {
		r.systemRoot, _ = windows.GetWindowsDirectory()
	}
	var buf [1024]uint16
	for c := 'A'; c <= 'Z'; c++ {
		drive := string(c) + ":"
		d, err := windows.UTF16PtrFromString(drive)
		if err != nil {
			continue
		}
		n, err := windows.QueryDosDevice(d, &buf[0], uint32(len(buf)))
		if err != nil || n == 0 {
			continue
		}
		end := 0
		for end < int(n) && buf[end] != 0 {
			end++
		}
		r.devices = append(r.devices, deviceMapping{device: windows.UTF16ToString(buf[:end]), drive: drive})
	}
	return r
}
