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

// ETW constants not exported by golang-etw (evntrace.h; the extension
// block's constants are in control.go).
const (
	wnodeFlagTracedGUID        = 0x00020000
	traceStackTracingInfo      = 3 // TRACE_INFO_CLASS TraceStackTracingInfo
	traceSystemTraceEnableInfo = 4 // TraceSystemTraceEnableFlagsInfo
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
	attempt  startAttempt  // how StartTrace accepted the session
	mode     StackWalkMode // how stack walks were enabled
	warns    []string
	stopping atomic.Bool // aborted: drop records, end ProcessTrace
	stopped  atomic.Bool // ControlTrace(STOP) done; final holds its counters
	final    sourceStats
	stopOnce sync.Once
	stopErr  error
	closeOne sync.Once
	panicErr atomic.Pointer[error]

	sink recordSink
	ext  []etw.ExtItem // reused per record
	hdr  etw.RecordHeader
}

var _ source = (*winSource)(nil)

func openSource(opts Options, tags []tagPattern) (source, error) {
	// Without TraceSetInformation (before Windows 7) the session cannot
	// get PERF_POOL; LazyProc.Call would panic on a missing export.
	if procTraceSetInformation.Find() != nil {
		return nil, fmt.Errorf("live: advapi32.dll has no TraceSetInformation (Windows 7 or later needed): %w", ErrNotSupported)
	}
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return nil, fmt.Errorf("live: only 64-bit processes are supported (TRACEHANDLE is 64 bits): %w", ErrNotSupported)
	}
	s := &winSource{name: opts.Name, ptr: 8}
	var err error
	if s.nameW, err = windows.UTF16FromString(opts.Name); err != nil {
		return nil, fmt.Errorf("live: session name %q: %w", opts.Name, err)
	}
	if err := s.start(opts, tagValues(tags)); err != nil {
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

// start calls StartTrace with the attempts of startPlan until one is
// accepted. It never stops a running session: a name that exists is an
// error (ErrSessionExists).
func (s *winSource) start(opts Options, tags []uint32) error {
	var last error
	for _, a := range startPlan(opts.StackWalk, len(tags)) {
		s.props = s.properties(opts, extensionBlock(a, tags))
		err := getw.StartTrace(&s.session, &s.nameW[0], s.propsPtr())
		if err == nil {
			s.attempt = a
			s.tagKern = a.tagExt && len(tags) > 0
			return nil
		}
		last = err
		if !retryStart(err) {
			break
		}
	}
	return startError(s.name, last)
}

func (s *winSource) propsPtr() *getw.EventTraceProperties {
	return (*getw.EventTraceProperties)(unsafe.Pointer(&s.props[0]))
}

// enable completes what StartTrace did not take in its extension block.
// Stack walks come first, as PerfView orders it, so the first pool events
// already carry stacks; a refusal leaves a session without stacks and a
// warning. PERF_POOL is then OR-ed into the session's group mask; without
// it the session has no pool events, so a refusal is an error.
func (s *winSource) enable(opts Options) error {
	var setErr error
	if needStackSetInfo(opts.StackWalk, s.attempt) {
		// CLASSIC_EVENT_ID {GUID EventGuid; UCHAR Type; UCHAR Reserved[7]}:
		// Windows translates the class GUID to the hook ids.
		var ids [4 * 24]byte
		g := etw.PoolGUID.Bytes()
		for i, h := range poolStackHooks {
			copy(ids[24*i:], g[:])
			ids[24*i+16] = byte(h)
		}
		if r, _, _ := procTraceSetInformation.Call(uintptr(s.session), traceStackTracingInfo,
			uintptr(unsafe.Pointer(&ids[0])), uintptr(len(ids))); r != 0 {
			setErr = syscall.Errno(r)
		}
	}
	s.mode, s.warns = stackOutcome(s.name, opts.StackWalk, s.attempt, setErr)
	// PERF_POOL: the extension's ENABLE_FLAGS item should have set it.
	// Check the session's group mask where Windows can say (Windows 8 and
	// later; TraceQueryInformation is looked up first, as a missing export
	// would make the call panic) and OR it in when it is missing.
	var mask [8]uint32
	var ret uint32
	known := false
	if procTraceQueryInformation.Find() == nil {
		r, _, _ := procTraceQueryInformation.Call(uintptr(s.session), traceSystemTraceEnableInfo,
			uintptr(unsafe.Pointer(&mask[0])), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&ret)))
		known = r == 0
		if !known {
			mask = [8]uint32{}
		}
	}
	if known && mask[1]&perfPoolMask1 != 0 {
		return nil
	}
	mask[0] |= kernelFlags
	mask[1] |= perfPoolMask1
	if r, _, _ := procTraceSetInformation.Call(uintptr(s.session), traceSystemTraceEnableInfo,
		uintptr(unsafe.Pointer(&mask[0])), unsafe.Sizeof(mask)); r != 0 {
		if s.attempt.ext && !known {
			return nil // the extension was accepted and nothing says it failed
		}
		return fmt.Errorf("live: enabling PERF_POOL on session %q: TraceSetInformation: %w", s.name, syscall.Errno(r))
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

// run consumes until ProcessTrace returns: after ControlTrace(STOP) once
// the kernel delivered its last buffers, after abort promptly. It then
// closes the consumer handle, so every record is delivered before
// CloseTrace.
func (s *winSource) run(sink recordSink) error {
	s.sink = sink
	defer registry[s.id].Store(nil)
	err := getw.ProcessTrace(&s.trace, 1, nil, nil)
	s.closeTrace()
	if p := s.panicErr.Load(); p != nil {
		return *p
	}
	if err != nil && !errors.Is(err, getw.ERROR_CTX_CLOSE_PENDING) && !s.stopping.Load() {
		return fmt.Errorf("live: ProcessTrace on session %q: %w", s.name, err)
	}
	return nil
}

// closeTrace closes the consumer handle once.
func (s *winSource) closeTrace() {
	s.closeOne.Do(func() { _ = getw.CloseTrace(s.trace) })
}

// stopSession stops the controller side and returns its final counters.
func (s *winSource) stopSession() (sourceStats, error) {
	props := s.properties(Options{Name: s.name}, nil)
	p := (*getw.EventTraceProperties)(unsafe.Pointer(&props[0]))
	err := getw.ControlTrace(s.session, nil, p, getw.EVENT_TRACE_CONTROL_STOP)
	st := s.counters(p)
	return st, stopError(err)
}

// stop stops the session; the consumer keeps delivering what the kernel
// still holds until ProcessTrace returns. A session someone else already
// stopped (ERROR_WMI_INSTANCE_NOT_FOUND) is not an error.
func (s *winSource) stop() error {
	s.stopOnce.Do(func() {
		st, err := s.stopSession()
		if err != nil {
			st = s.stats()
			s.stopErr = fmt.Errorf("live: stopping session %q: %w", s.name, err)
		}
		s.final = st
		s.stopped.Store(true)
	})
	return s.stopErr
}

// release closes the consumer handle: ProcessTrace returns once it has
// delivered what is queued (CloseTrace returns ERROR_CTX_CLOSE_PENDING).
func (s *winSource) release() { s.closeTrace() }

// abort stops the session and drops what is still in flight.
func (s *winSource) abort() {
	s.stopping.Store(true)
	s.stop()
	s.closeTrace()
}

func (s *winSource) counters(p *getw.EventTraceProperties) sourceStats {
	return sourceStats{
		lostEvents:      uint64(p.EventsLost),
		lostBuffers:     uint64(p.LogBuffersLost),
		rtBuffersLost:   uint64(p.RealTimeBuffersLost),
		kernelTagFilter: s.tagKern,
		stackWalk:       s.mode,
		warnings:        s.warns,
	}
}

func (s *winSource) stats() sourceStats {
	if s.stopped.Load() {
		return s.final
	}
	props := s.properties(Options{Name: s.name}, nil)
	p := (*getw.EventTraceProperties)(unsafe.Pointer(&props[0]))
	if getw.ControlTrace(s.session, nil, p, getw.EVENT_TRACE_CONTROL_QUERY) != nil {
		return sourceStats{kernelTagFilter: s.tagKern, stackWalk: s.mode, warnings: s.warns}
	}
	return s.counters(p)
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
			go s.abort()
			s.stopping.Store(true)
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

var procQueryAllTraces = advapi32.NewProc("QueryAllTracesW")

// ListSessions returns the names of the running trace sessions
// (QueryAllTracesW). Listing needs no elevation, but sessions of other
// users may be missing from it when not elevated.
func ListSessions() ([]string, error) {
	if err := procQueryAllTraces.Find(); err != nil {
		return nil, fmt.Errorf("live: listing sessions: %w", err)
	}
	const nameBytes = 1024 * 2 // room for each of the two names
	n := maxSessions
	for range 3 {
		base := int(unsafe.Sizeof(getw.EventTraceProperties{}))
		size := base + 2*nameBytes
		bufs := make([][]byte, n)
		ptrs := make([]*getw.EventTraceProperties, n)
		for i := range bufs {
			bufs[i] = make([]byte, size)
			p := (*getw.EventTraceProperties)(unsafe.Pointer(&bufs[i][0]))
			p.Wnode.BufferSize = uint32(size)
			p.LoggerNameOffset = uint32(base)
			p.LogFileNameOffset = uint32(base + nameBytes)
			ptrs[i] = p
		}
		var count uint32
		r, _, _ := procQueryAllTraces.Call(uintptr(unsafe.Pointer(&ptrs[0])), uintptr(n), uintptr(unsafe.Pointer(&count)))
		if r == uintptr(windows.ERROR_MORE_DATA) && int(count) > n {
			n = int(count)
			continue
		}
		if r != 0 {
			return nil, fmt.Errorf("live: listing sessions: QueryAllTraces: %w", syscall.Errno(r))
		}
		names := make([]string, 0, count)
		for i := 0; i < int(count) && i < n; i++ {
			off := int(ptrs[i].LoggerNameOffset)
			if off <= 0 || off+2 > size {
				continue
			}
			w := unsafe.Slice((*uint16)(unsafe.Pointer(&bufs[i][off])), (size-off)/2)
			names = append(names, windows.UTF16ToString(w))
		}
		return names, nil
	}
	return nil, fmt.Errorf("live: listing sessions: the number of sessions keeps growing")
}

// StopSession stops the trace session of that name, as `logman stop NAME
// -ets` does. A name no session has gives an error wrapping ErrNoSession.
func StopSession(name string) error {
	nameW, err := windows.UTF16FromString(name)
	if err != nil {
		return fmt.Errorf("live: session name %q: %w", name, err)
	}
	s := &winSource{name: name, nameW: nameW}
	props := s.properties(Options{Name: name}, nil)
	err = getw.ControlTrace(0, &nameW[0], (*getw.EventTraceProperties)(unsafe.Pointer(&props[0])), getw.EVENT_TRACE_CONTROL_STOP)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errWMIInstanceNotFound):
		return fmt.Errorf("live: stopping session %q: %w", name, ErrNoSession)
	case errors.Is(err, errAccessDenied):
		return fmt.Errorf("live: stopping session %q: %w: %w", name, ErrNotElevated, err)
	}
	return fmt.Errorf("live: stopping session %q: %w", name, err)
}

// processAlive reports whether a process of that id runs. A process that
// cannot be opened for lack of rights is taken as alive.
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if windows.GetExitCodeProcess(h, &code) != nil {
		return true
	}
	const stillActive = 259 // STILL_ACTIVE
	return code == stillActive
}
