package main

// This file prints events in the line format of TraceEvent's parsing test
// (PerfView's TraceEvent.Tests GeneralParsing), so that etwkit's decoding
// can be diffed against the baselines Microsoft keeps for its traces:
//
//	EVENT <ms since start>: <Provider>/<Event> PID=..; TID=..; PName=..; ProceNum=..; DataLen=..; <Field>=<value>; ...
//
// It follows what TraceEvent's processing (TraceLog) does on top of plain
// decoding, found by comparing counts with the baselines:
//
//   - events TraceLog consumes are not shown: StackWalk records, the
//     FileIO name events (they only name files), Thread DCStart/DCStop,
//     and PerfInfo samples of the idle thread (TID 0) unless they caught a
//     DPC or an interrupt;
//   - kernel events that TraceEvent's kernel parser does not know are
//     provider MSNT_SystemTrace, and the test keeps only two of them
//     (SystemConfig/Platform and Image/KernelBase);
//   - processes are named from the Process events of the whole trace, and
//     records without a thread id get it from their payload (disk I/O,
//     hard faults, samples) with the process of that thread;
//   - TraceEvent's own readings of a few payloads: UdpIp IPv4 events with
//     version 1 names over version 2 bytes, ImageID's ProcessID from
//     offset 12, DiskIO FlushBuffers' thread from offset 8;
//   - SYSTEMTIME values show their seconds again in place of their
//     milliseconds (TraceEvent's reading of the structure);
//   - TraceLogging UINT64 values show signed, and 64-bit keyword fields of
//     manifest events in hex;
//   - DiskIO and hard fault events get the FileName of their file key from
//     the FileIO name events, and disk completions DiskServiceTimeMSec.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/damage"
)

// teMaxPerName is how many events of each name the test prints.
const teMaxPerName = 5

// teOptions select what writeTraceEvent prints.
type teOptions struct {
	all bool       // every event, not only the first teMaxPerName of each name
	lim etw.Limits // the reader's limits
}

// teState is what TraceLog knows about the trace when it prints an event.
type teState struct {
	origin   int64
	freq     float64
	procs    map[etw.PID][]teProc
	threads  map[etw.TID]etw.PID
	files    map[uint64]string
	lastDisk map[uint64]int64 // disk number -> timestamp of its last completion
	volumes  [][2]string      // kernel path prefix -> DOS path prefix
	sysDrive string           // "C:", for paths without a volume
	schemas  etw.SchemaSet    // manifests the trace carries
}

type teProc struct {
	start int64
	name  string
}

// scanTrace is the first pass: process names and the thread table.
// A resource limit ends it early: the second pass reports it.
func scanTrace(name string, lim etw.Limits) (*teState, error) {
	r, err := etw.OpenLimited(name, lim)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	st := &teState{
		procs:    map[etw.PID][]teProc{},
		threads:  map[etw.TID]etw.PID{},
		files:    map[uint64]string{},
		lastDisk: map[uint64]int64{},
	}
	if h := r.HeaderEvent(); h != nil {
		st.origin = h.Timestamp
	}
	if c := r.Clock(); c != nil {
		st.freq = float64(c.Frequency)
	}
	for ev, err := range r.All() {
		if err != nil {
			var fe *etw.FormatError
			if errors.As(err, &fe) {
				continue
			}
			if errors.Is(err, etw.ErrLimit) {
				break
			}
			return nil, err
		}
		if !ev.IsKernel() {
			st.schemas.Add(ev)
			d, err := etw.Decode(ev)
			if err != nil {
				continue
			}
			switch d.FullName() {
			case "Windows Kernel/SysConfig/VolumeMapping":
				nt, _ := d.Field("NtPath")
				dos, _ := d.Field("DosPath")
				st.volumes = append(st.volumes, [2]string{nt.Str, dos.Str})
			case "Windows Kernel/SysConfig/SystemPaths":
				if w, ok := d.Field("SystemWindowsDirectory"); ok && len(w.Str) >= 2 && w.Str[1] == ':' {
					st.sysDrive = w.Str[:2]
				}
			}
			continue
		}
		switch ev.Group() {
		case etw.GroupFile:
			if !isFileName(ev.Hook.Type()) {
				continue
			}
			d, _ := etw.Decode(ev)
			key, ok1 := d.Field("FileKey")
			name, ok2 := d.Field("FileName")
			if ok1 && ok2 {
				if _, seen := st.files[key.Uint]; !seen || ev.Hook.Type() != 36 {
					st.files[key.Uint] = name.Str
				}
			}
		case etw.GroupProcess:
			op := ev.Hook.Type()
			if op < 1 || op > 4 {
				continue
			}
			d, err := etw.Decode(ev)
			if err != nil {
				continue
			}
			f, ok := d.Field("ImageFileName")
			if !ok {
				continue
			}
			n := f.Str
			if ext := path.Ext(n); ext != "" {
				n = n[:len(n)-len(ext)]
			}
			start := ev.Timestamp
			if op == 3 || op == 4 {
				start = math.MinInt64
			}
			list := st.procs[d.PID]
			if len(list) == 0 || list[len(list)-1].name != n || op == 1 {
				st.procs[d.PID] = append(list, teProc{start: start, name: n})
			}
		case etw.GroupThread:
			op := ev.Hook.Type()
			if op < 1 || op > 4 {
				continue
			}
			d, err := etw.Decode(ev)
			if err == nil && d.TID != etw.NoTID {
				if _, ok := st.threads[d.TID]; !ok {
					st.threads[d.TID] = d.PID
				}
			}
		}
	}
	return st, nil
}

// dosPath rewrites a kernel path (\Device\HarddiskVolume2\..., \SystemRoot\...)
// with the trace's volume mapping, as TraceEvent does for file names.
func (st *teState) dosPath(p string) string {
	best := -1
	for i, v := range st.volumes {
		if v[0] != "" && len(p) >= len(v[0]) && strings.EqualFold(p[:len(v[0])], v[0]) &&
			(best < 0 || len(v[0]) > len(st.volumes[best][0])) {
			best = i
		}
	}
	if best >= 0 {
		p = st.volumes[best][1] + p[len(st.volumes[best][0]):]
	}
	if strings.HasPrefix(p, `\`) && !strings.HasPrefix(p, `\\`) && st.sysDrive != "" {
		p = st.sysDrive + p
	}
	return p
}

// procName is TraceLog's process name for pid at timestamp ts.
func (st *teState) procName(pid etw.PID, ts int64) string {
	if pid == etw.NoPID {
		return ""
	}
	list := st.procs[pid]
	if len(list) == 0 {
		return "Process(" + strconv.FormatInt(int64(int32(pid)), 10) + ")"
	}
	n := list[0].name
	for _, p := range list {
		if p.start <= ts {
			n = p.name
		}
	}
	return n
}

// teEvent is one event as TraceEvent shows it.
type teEvent struct {
	name   string
	pid    etw.PID
	tid    etw.TID
	fields []etw.Field
	skip   bool
	tl     bool // TraceLogging: TraceEvent shows unsigned 64-bit values signed
}

// view decodes ev and applies TraceLog's processing to it.
func (st *teState) view(ev *etw.Event) teEvent {
	d, err := st.schemas.Decode(ev)
	te := teEvent{name: d.FullName(), pid: d.PID, tid: d.TID, fields: d.Fields, tl: d.Source == etw.SourceTraceLogging}
	if err != nil && !errors.Is(err, etw.ErrUnknownEvent) {
		te.fields = d.Fields
	}
	if wellKnownSkip(ev) {
		te.skip = true
		return te
	}
	if ev.IsKernel() {
		st.kernelView(ev, &te)
	}
	switch te.name {
	case "Microsoft-Windows-Kernel-File/Create":
		st.kernelFileCreate(&te)
	case "KernelTraceControl/ImageID":
		// TraceEvent reads ProcessID at offset 12: in 64-bit traces the
		// high half of ImageSize.
		if len(ev.Payload) >= 16 {
			for i := range te.fields {
				if te.fields[i].Name == "ProcessID" {
					te.fields[i].Uint = uint64(binary.LittleEndian.Uint32(ev.Payload[12:]))
				}
			}
		}
	}
	if strings.HasPrefix(te.name, "MSNT_SystemTrace/") &&
		te.name != "MSNT_SystemTrace/SystemConfig/Platform" && te.name != "MSNT_SystemTrace/Image/KernelBase" {
		te.skip = true
	}
	return te
}

// kernelView applies TraceLog's rules for kernel events.
func (st *teState) kernelView(ev *etw.Event, te *teEvent) {
	op := ev.Hook.Type()
	threadPID := func() {
		if p, ok := st.threads[te.tid]; ok {
			te.pid = p
		} else {
			te.pid = etw.NoPID
		}
	}
	switch ev.Group() {
	case etw.GroupStackWalk:
		te.skip = true
	case etw.GroupFile:
		if isFileName(op) {
			te.skip = true
		}
	case etw.GroupThread:
		switch op {
		case 3, 4:
			te.skip = true
		case 1, 2:
			if _, ok := fieldOf(te.fields, "ThreadName"); !ok {
				te.fields = append(te.fields, etw.Field{Name: "ThreadName", Type: etw.TypeUTF16Z})
			}
			ppid, ptid := int64(-1), int64(-1)
			if op == 1 && ev.PID != etw.NoPID {
				ppid, ptid = int64(int32(ev.PID)), int64(int32(ev.TID))
			}
			te.fields = append(te.fields,
				etw.Field{Name: "ParentThreadID", Type: etw.TypeI32, Int: ptid},
				etw.Field{Name: "ParentProcessID", Type: etw.TypeI32, Int: ppid})
		}
	case etw.GroupProcess, etw.GroupImage:
		if ev.Hook != etw.HookImageLoad {
			te.tid = etw.NoTID
		}
		for i := range te.fields {
			if te.fields[i].Name == "FileName" {
				te.fields[i].Str = st.dosPath(te.fields[i].Str)
			}
		}
	case etw.GroupConfig:
		if op == 15 { // Services: TraceEvent names the process itself
			if pid, ok := fieldOf(te.fields, "ProcessID"); ok {
				for i := range te.fields {
					if te.fields[i].Name == "ProcessName" {
						te.fields[i].Str = st.procName(etw.PID(pid.Uint), ev.Timestamp)
					}
				}
			}
		}
	case etw.GroupTCPIP, etw.GroupUDPIP:
		te.tid = etw.NoTID
		if ev.Group() == etw.GroupUDPIP && (op == 10 || op == 11) && len(ev.Payload) >= 24 {
			te.fields = udpV1View(ev.Payload)
		}
	case etw.GroupPerfInfo:
		if op == 46 {
			dpc, _ := fieldOf(te.fields, "ExecutingDPC")
			isr, _ := fieldOf(te.fields, "ExecutingISR")
			if te.tid == 0 && dpc.Uint == 0 && isr.Uint == 0 {
				te.skip = true
			}
			threadPID()
		}
	case etw.GroupIO:
		switch op {
		case 10, 11:
			threadPID()
			st.diskView(ev, te)
		case 14:
			// TraceEvent takes the thread of FlushBuffers from offset 8
			// (the low half of the response time), not IssuingThreadId.
			if len(ev.Payload) >= 12 {
				te.tid = etw.TID(binary.LittleEndian.Uint32(ev.Payload[8:]))
			}
			threadPID()
		}
	case etw.GroupMemory:
		if op == 32 {
			threadPID()
			te.fields = append(te.fields, etw.Field{Name: "FileName", Type: etw.TypeUTF16Z, Str: st.fileName(te.fields)})
		}
	}
}

// TraceEvent decodes Kernel-File Create with a parser compiled into it,
// not with the trace's metadata: the IRP as IrpPtr, the create disposition
// split out of the top byte of CreateOptions, no IssuingThreadId.
var (
	teFileAttributes = enumNames(true, 0x1, "FILE_ATTRIBUTE_READONLY", 0x2, "FILE_ATTRIBUTE_HIDDEN",
		0x4, "FILE_ATTRIBUTE_SYSTEM", 0x10, "FILE_ATTRIBUTE_DIRECTORY", 0x20, "FILE_ATTRIBUTE_ARCHIVE",
		0x40, "FILE_ATTRIBUTE_DEVICE", 0x80, "FILE_ATTRIBUTE_NORMAL", 0x100, "FILE_ATTRIBUTE_TEMPORARY",
		0x200, "FILE_ATTRIBUTE_SPARSE_FILE", 0x400, "FILE_ATTRIBUTE_REPARSE_POINT",
		0x800, "FILE_ATTRIBUTE_COMPRESSED", 0x1000, "FILE_ATTRIBUTE_OFFLINE",
		0x2000, "FILE_ATTRIBUTE_NOT_CONTENT_INDEXED", 0x4000, "FILE_ATTRIBUTE_ENCRYPTED")
	teCreateDisposition = enumNames(false, 0, "SUPERSEDE", 1, "OPEN_EXISTING", 2, "CREATE_NEW",
		3, "OPEN_ALWAYS", 4, "TRUNCATE_EXISTING", 5, "CREATE_ALWAYS")
	teShareAccess = enumNames(true, 0, "None", 1, "Read", 2, "Write", 3, "ReadWrite", 4, "Delete")
)

func (st *teState) kernelFileCreate(te *teEvent) {
	irp, ok1 := fieldOf(te.fields, "Irp")
	fo, ok2 := fieldOf(te.fields, "FileObject")
	opts, ok3 := fieldOf(te.fields, "CreateOptions")
	attrs, ok4 := fieldOf(te.fields, "CreateAttributes")
	share, ok5 := fieldOf(te.fields, "ShareAccess")
	name, ok6 := fieldOf(te.fields, "FileName")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return
	}
	irp.Name = "IrpPtr"
	o := opts.Uint & 0xFFFFFF
	disp := opts.Uint >> 24
	te.fields = []etw.Field{
		irp, fo,
		{Name: "CreateOptions", Type: etw.TypeU32, Uint: o, Str: teFileAttributes.format(o)},
		{Name: "CreateDisposition", Type: etw.TypeU32, Uint: disp, Str: teCreateDisposition.format(disp)},
		{Name: "FileAttributes", Type: etw.TypeU32, Uint: attrs.Uint},
		{Name: "ShareAccess", Type: etw.TypeU32, Uint: share.Uint, Str: teShareAccess.format(share.Uint)},
		{Name: "FileName", Type: etw.TypeUTF16Z, Str: st.dosPath(name.Str)},
	}
}

// udpV1View shows a version 2 UdpIp IPv4 Send/Recv payload the way
// TraceEvent does, with the version 1 field names over the version 2
// bytes: an 8-byte context (PID and size), the 16-bit size and dsize.
func udpV1View(p []byte) []etw.Field {
	u16 := func(n string, off int) etw.Field {
		return etw.Field{Name: n, Type: etw.TypeU16, Uint: uint64(binary.LittleEndian.Uint16(p[off:]))}
	}
	port := func(n string, off int) etw.Field {
		return etw.Field{Name: n, Type: etw.TypeU16, Uint: uint64(binary.BigEndian.Uint16(p[off:]))}
	}
	ip := func(n string, off int) etw.Field {
		return etw.Field{Name: n, Type: etw.TypeIPv4, Bytes: p[off : off+4]}
	}
	return []etw.Field{
		{Name: "context", Type: etw.TypePtr, Format: etw.FormatHex, Uint: binary.LittleEndian.Uint64(p)},
		ip("saddr", 12), port("sport", 18), u16("size", 4), ip("daddr", 8), port("dport", 16), u16("dsize", 6),
	}
}

// diskView adds DiskServiceTimeMSec and FileName to a disk completion.
func (st *teState) diskView(ev *etw.Event, te *teEvent) {
	el, _ := fieldOf(te.fields, "ElapsedTimeMSec")
	disk, _ := fieldOf(te.fields, "DiskNumber")
	svc := el.Float()
	if last, ok := st.lastDisk[disk.Uint]; ok && st.freq > 0 {
		if since := float64(ev.Timestamp-last) * 1000 / st.freq; since < svc {
			svc = since
		}
	}
	st.lastDisk[disk.Uint] = ev.Timestamp
	var out []etw.Field
	for _, f := range te.fields {
		if f.Name == "FileKey" {
			out = append(out, etw.Field{Name: "DiskServiceTimeMSec", Type: etw.TypeF64, Uint: math.Float64bits(svc)})
		}
		out = append(out, f)
	}
	out = append(out, etw.Field{Name: "FileName", Type: etw.TypeUTF16Z, Str: st.fileName(te.fields)})
	te.fields = out
}

func (st *teState) fileName(fields []etw.Field) string {
	k, ok := fieldOf(fields, "FileKey")
	if !ok {
		return ""
	}
	return st.dosPath(st.files[k.Uint])
}

func fieldOf(fields []etw.Field, name string) (etw.Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return etw.Field{}, false
}

// isFileName reports whether a FileIO opcode names a file object (Name,
// FileCreate, FileDelete, FileRundown).
func isFileName(op uint8) bool { return op == 0 || op == 32 || op == 35 || op == 36 }

// wellKnownSkip reports the events of the .NET runtime providers, which
// the baselines decode from knowledge compiled into TraceEvent: out of
// scope.
func wellKnownSkip(ev *etw.Event) bool {
	if ev.IsKernel() {
		return false
	}
	n, _ := etw.ProviderName(ev.Provider)
	return strings.HasPrefix(n, "Microsoft-Windows-DotNETRuntime")
}

// writeTraceEvent prints the events of the trace name in TraceEvent's test
// format: the first five of every name, then the count of every name. The
// report says what damage the reader skipped.
func writeTraceEvent(name string, w io.Writer, opt teOptions) (etw.ReadReport, error) {
	st, err := scanTrace(name, opt.lim)
	if err != nil {
		return etw.ReadReport{}, err
	}
	r, err := etw.OpenLimited(name, opt.lim)
	if err != nil {
		return etw.ReadReport{}, err
	}
	defer r.Close()
	var readErrs []error
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	counts := map[string]int{}
	var b []byte
	for ev, err := range r.All() {
		if err != nil {
			var fe *etw.FormatError
			if errors.As(err, &fe) {
				readErrs = append(readErrs, err) // the reader skipped the rest of the buffer
				continue
			}
			if damage.PartialStop(r, err) {
				readErrs = append(readErrs, err) // print the part read
				break
			}
			return r.StoppedReport(readErrs), err
		}
		te := st.view(ev)
		if te.skip {
			continue
		}
		counts[te.name]++
		if !opt.all && counts[te.name] > teMaxPerName {
			continue
		}
		b = st.appendLine(b[:0], ev, &te)
		bw.Write(b)
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sortOrdinal(names)
	for _, n := range names {
		fmt.Fprintf(bw, "COUNT %s:%d\n", n, counts[n])
	}
	return r.Report(readErrs), nil
}

// sortOrdinal sorts like .NET's StringComparer.Ordinal (UTF-16 code units;
// the same as bytes for the names seen).
func sortOrdinal(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// appendLine appends one EVENT line.
func (st *teState) appendLine(b []byte, ev *etw.Event, te *teEvent) []byte {
	b = append(b, "EVENT "...)
	ms := 0.0
	if st.freq > 0 {
		ms = float64(ev.Timestamp-st.origin) * 1000 / st.freq
	}
	b = appendN(b, ms, 3)
	b = append(b, ": "...)
	b = append(b, te.name...)
	b = append(b, " PID="...)
	b = strconv.AppendInt(b, int64(int32(te.pid)), 10)
	b = append(b, "; TID="...)
	b = strconv.AppendInt(b, int64(int32(te.tid)), 10)
	b = append(b, "; PName="...)
	b = append(b, st.procName(te.pid, ev.Timestamp)...)
	b = append(b, "; ProceNum="...)
	b = strconv.AppendUint(b, uint64(ev.Processor), 10)
	b = append(b, "; DataLen="...)
	b = strconv.AppendInt(b, int64(len(ev.Payload)), 10)
	b = append(b, "; "...)
	manifestData := strings.HasSuffix(te.name, "/ManifestData")
	for _, f := range te.fields {
		b = append(b, f.Name...)
		b = append(b, '=')
		if te.tl && f.Type == etw.TypeU64 && f.Format != etw.FormatHex {
			f.Type, f.Int = etw.TypeI64, int64(f.Uint)
		}
		if f.Type == etw.TypeU64 && strings.Contains(strings.ToLower(f.Name), "keyword") {
			f.Format = etw.FormatHex
		}
		if manifestData && f.Str == "" {
			// TraceEvent shows the ManifestData header without digit groups.
			f.Str = strconv.FormatUint(f.Uint, 10)
		}
		b = append(b, teValue(f)...)
		b = append(b, "; "...)
	}
	return append(b, '\n')
}

// teValue renders a field as TraceEvent's test does: the value as
// PayloadString shows it, cut at 20 UTF-16 units plus "...", newlines
// escaped.
func teValue(f etw.Field) string {
	s := teString(f)
	if u := utf16.Encode([]rune(s)); len(u) > 20 {
		s = string(utf16.Decode(u[:20])) + "..."
	}
	s = strings.ReplaceAll(s, "\n", `\n`)
	return strings.ReplaceAll(s, "\r", `\r`)
}

func teString(f etw.Field) string {
	if f.Str != "" && f.Type != etw.TypeUTF16Z && f.Type != etw.TypeANSIZ && f.Type != etw.TypeSID {
		return f.Str // enum and flag names
	}
	switch f.Type {
	case etw.TypeBytes:
		if f.Format == etw.FormatSockAddr {
			return sockAddr(f.Bytes)
		}
	case etw.TypeF64:
		return string(appendN(nil, f.Float(), 3))
	case etw.TypeFiletime:
		t := f.Time().UTC()
		if f.Format == etw.FormatSystemTime {
			// TraceEvent builds SYSTEMTIME values with the seconds in
			// place of the milliseconds.
			t = t.Truncate(time.Second).Add(time.Duration(t.Second()) * time.Millisecond)
		}
		return t.Format("06/01/02 15:04:05.000000")
	case etw.TypeI8, etw.TypeI16, etw.TypeI32, etw.TypeI64:
		return string(appendGrouped(nil, f.Int))
	case etw.TypeU8, etw.TypeU16, etw.TypeU32, etw.TypeU64, etw.TypePtr:
		if f.Format == etw.FormatHex {
			h := strconv.FormatUint(f.Uint, 16)
			if len(h) < 8 {
				h = strings.Repeat("0", 8-len(h)) + h
			}
			return "0x" + h
		}
		return string(appendGroupedU(nil, f.Uint))
	}
	return f.String()
}

// appendN formats v like .NET's "N<dec>": thousands separators, dec
// decimals.
func appendN(b []byte, v float64, dec int) []byte {
	s := roundHalfUp(strconv.FormatFloat(v, 'f', -1, 64), dec)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
		b = append(b, '-')
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
	}
	b = groupDigits(b, intPart)
	return append(b, frac...)
}

func appendGrouped(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		return groupDigits(b, strconv.FormatUint(uint64(-v), 10))
	}
	return groupDigits(b, strconv.FormatInt(v, 10))
}

func appendGroupedU(b []byte, v uint64) []byte {
	return groupDigits(b, strconv.FormatUint(v, 10))
}

func groupDigits(b []byte, digits string) []byte {
	for i := 0; i < len(digits); i++ {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, digits[i])
	}
	return b
}

// roundHalfUp rounds the decimal string s (shortest form of a float64) to
// dec decimals, halves away from zero, as .NET formats doubles.
func roundHalfUp(s string, dec int) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	up := len(frac) > dec && frac[dec] >= '5'
	if len(frac) > dec {
		frac = frac[:dec]
	}
	frac += strings.Repeat("0", dec-len(frac))
	digits := []byte(intPart + frac)
	if up {
		i := len(digits) - 1
		for ; i >= 0; i-- {
			if digits[i] == '9' {
				digits[i] = '0'
				continue
			}
			digits[i]++
			break
		}
		if i < 0 {
			digits = append([]byte{'1'}, digits...)
		}
	}
	n := len(digits) - dec
	out := string(digits[:n])
	if dec > 0 {
		out += "." + string(digits[n:])
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out
}

// sockAddr renders a SOCKADDR_IN or SOCKADDR_IN6 as "a.b.c.d:port" or
// "[v6]:port".
func sockAddr(b []byte) string {
	if len(b) < 8 {
		return fmt.Sprintf("%x", b)
	}
	port := strconv.Itoa(int(b[2])<<8 | int(b[3]))
	switch int(b[0]) | int(b[1])<<8 {
	case 2: // AF_INET
		return fmt.Sprintf("%d.%d.%d.%d:%s", b[4], b[5], b[6], b[7], port)
	case 23: // AF_INET6
		if len(b) >= 24 {
			ip := etw.Field{Type: etw.TypeIPv6, Bytes: b[8:24]}
			return "[" + ip.String() + "]:" + port
		}
	}
	return fmt.Sprintf("%x", b)
}

// teNames gives symbolic names to values the way .NET formats enums.
type teNames struct {
	flags bool
	vals  []uint64
	names []string
}

func enumNames(flags bool, kv ...any) *teNames {
	n := &teNames{flags: flags}
	for i := 0; i+1 < len(kv); i += 2 {
		n.vals = append(n.vals, uint64(kv[i].(int)))
		n.names = append(n.names, kv[i+1].(string))
	}
	return n
}

// format returns the name of v, for flags the names of its parts (found
// largest first, listed smallest first), or the number when none fits.
func (n *teNames) format(v uint64) string {
	for i, x := range n.vals {
		if x == v {
			return n.names[i]
		}
	}
	if !n.flags || v == 0 {
		return strconv.FormatUint(v, 10)
	}
	rest := v
	var parts []string
	for i := len(n.vals) - 1; i >= 0 && rest != 0; i-- {
		if x := n.vals[i]; x != 0 && rest&x == x {
			parts = append([]string{n.names[i]}, parts...)
			rest &^= x
		}
	}
	if rest != 0 {
		return strconv.FormatUint(v, 10)
	}
	return strings.Join(parts, ", ")
}
