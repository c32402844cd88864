// Command etwdump prints the events of an ETL trace as JSON lines, decoding
// the kernel events etwkit knows (pool, stack walks, images, processes,
// threads, KernelTraceControl image identities, the EventTrace header group).
//
// Usage:
//
//	etwdump [-kinds pool,stack,image,process,thread,imageid,header|all] [-limit N] [-raw] [-file-order] [-stacks] [-symbols PATH] [-traceevent [-traceevent-all]] FILE
//
// FILE may name a zip member as archive.zip!member. Each line is one JSON
// object, in time order unless -file-order is given:
//
//	{"time":"2012-08-01T10:00:00.123456789Z","ts":1942893807,"cpu":0,"pid":4,"tid":8,
//	 "kind":"Image/DCStart","opcode":3,"version":2,"data":{"ImageBase":"0xfffff800...",...}}
//
// kind is Class/EventName with the MOF names; events that etwkit does not
// decode carry their 4-hex-digit hook id (kernel records) or provider GUID
// instead, and, with -raw, their payload as hex under "payload". Keys in
// data are the MOF property names; addresses and sizes are "0x..." strings,
// other integers are numbers, pool tags are their four characters and
// GUIDs are lowercase. pid and tid are null for records that carry none
// (PERFINFO headers). EVENT_HEADER records with a stack in their extended
// data get an "ext_stack" object.
//
// Events of other classes that etw.Decode knows (the kernel classes of its
// schema table, SysConfig, TraceLogging events) keep their hook id or GUID
// as kind and get "event" ("Provider/Name", TraceEvent's naming) and their
// fields under "data": durations as numbers of milliseconds, times as
// RFC 3339 strings, addresses of the network as strings, booleans.
//
// -kinds keeps only events of the listed classes (default: every event).
//
// -traceevent prints, instead of JSON, the line format of TraceEvent's
// parsing test (see traceevent.go): the first 5 events of every
// Provider/EventName, then "COUNT Provider/EventName:n" for every name;
// -traceevent-all prints every event.
//
// -stacks attaches to every event that has one its stack (StackWalk
// records and stack keys matched by timestamp and thread, see package
// stacks) as "stack" (frames as poolleak prints them, kernel part first)
// and "segments" (frame counts: kernel, user, wow64). The StackWalk records
// themselves are then not printed. -stacks reads the trace twice: a first
// pass collects the module maps, threads and stack-key definitions of the
// whole trace, so keys defined at its end resolve too (a key with no
// definition anywhere prints "[stack key not defined in the trace]"). An
// event whose header names no process or thread (PERFINFO headers) keeps
// "pid":null / "tid":null and gets "attributed":{"pid":..,"pid_from":..,
// "tid":..,"tid_from":..} with what its stack record ("stack"), payload
// ("payload": SampledProfile, HardFault, CSwitch threads; Image and Process
// processes) or the thread's Thread events ("threads") name; stderr ends
// with a count of such events and of those left without a process.
// -symbols gives the symbol path (default $_NT_SYMBOL_PATH). -stacks needs
// time order, and since it prints no StackWalk record, -kinds stack with
// -stacks is a usage error.
//
// Exit status: 0 when the trace was read whole (or up to -limit); 1 when
// it could not be read at all; 2 for bad flags; 3 when events were printed
// from a trace that could not be read whole (each read error and what is
// missing are warned about on stderr).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/stacks"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// classOfKind maps the -kinds words to class names.
var classOfKind = map[string]string{
	"pool":    "PoolTrace",
	"stack":   "StackWalk",
	"image":   "Image",
	"process": "Process",
	"thread":  "Thread",
	"imageid": "KernelTraceControl",
	"header":  "EventTrace",
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etwdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kinds := fs.String("kinds", "all", "comma-separated classes to print: pool,stack,image,process,thread,imageid,header or all")
	limit := fs.Int("limit", 0, "stop after printing N events (0: no limit)")
	raw := fs.Bool("raw", false, "print the payload of undecoded events as hex")
	fileOrder := fs.Bool("file-order", false, "print events in file order instead of time order")
	withStacks := fs.Bool("stacks", false, "attach each event's stack (kernel part first) and its segment counts")
	symbols := fs.String("symbols", "", "symbol path for -stacks (_NT_SYMBOL_PATH syntax); default $_NT_SYMBOL_PATH")
	traceEvent := fs.Bool("traceevent", false, "print TraceEvent's test lines (first 5 events of each name, then counts) instead of JSON")
	teAll := fs.Bool("traceevent-all", false, "with -traceevent, print every event, not only the first 5 of each name")
	maxMemory := fs.String("max-memory", "", damage.MaxMemoryUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etwdump [-kinds LIST|all] [-limit N] [-raw] [-file-order] [-stacks] [-symbols PATH] [-traceevent [-traceevent-all]] [-max-memory SIZE] FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	lim, err := damage.Limits(*maxMemory)
	if err != nil {
		fmt.Fprintf(stderr, "etwdump: %v\n", err)
		return 2
	}
	if *traceEvent {
		health, err := writeTraceEvent(fs.Arg(0), stdout, teOptions{all: *teAll, lim: lim})
		if err != nil {
			failed(stderr, err)
			return 1
		}
		if le := health.Limit(); le != nil {
			fmt.Fprintf(stderr, "etwdump: warning: %v\n", le) // the other read errors are only counted, as before
		}
		damage.Summarize(stderr, "etwdump", &health)
		return damage.ExitCode(&health)
	}
	want, err := parseKinds(*kinds)
	if err != nil {
		fmt.Fprintf(stderr, "etwdump: %v\n", err)
		return 2
	}
	if err := checkFlags(*limit, *withStacks, want, stderr); err != nil {
		fmt.Fprintf(stderr, "etwdump: %v\n", err)
		return 2
	}
	if *fileOrder && *withStacks {
		fmt.Fprintln(stderr, "etwdump: -stacks needs time order; drop -file-order")
		return 2
	}
	if *withStacks {
		for _, w := range leak.SymbolPathWarnings(stacks.SymbolPath(*symbols)) {
			fmt.Fprintf(stderr, "etwdump: warning: %s\n", w)
		}
	}
	r, err := etw.OpenLimited(fs.Arg(0), lim)
	if err != nil {
		failed(stderr, err)
		return 1
	}
	defer r.Close()
	if *fileOrder {
		if err := r.SetOrder(etw.FileOrder); err != nil {
			fmt.Fprintf(stderr, "etwdump: %v\n", err)
			return 1
		}
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	d := dumper{raw: *raw}
	n := 0
	damaged := 0
	var readErrs []error
	defer func() {
		if damaged > maxReported {
			fmt.Fprintf(stderr, "etwdump: warning: %d damaged buffers skipped in all\n", damaged)
		}
	}()
	var st *stackAttacher
	if *withStacks {
		st, err = newStackAttacher(r, fs.Arg(0), lim, stacks.SymbolPath(*symbols), stderr)
		if err != nil {
			fmt.Fprintf(stderr, "etwdump: %v\n", err)
			return 2
		}
		defer st.close()
	}
	print := func(ev *etw.Event, frames []stacks.Frame, hasStack bool) bool {
		b := d.appendEvent(d.buf[:0], ev)
		if st != nil {
			b = st.appendTo(b[:len(b)-2], frames, hasStack)
		}
		w.Write(b)
		d.buf = b[:0]
		n++
		return *limit > 0 && n >= *limit
	}
	done := false
	if st != nil {
		st.emit = func(ev *etw.Event, frames []stacks.Frame, hasStack bool) {
			if !done && print(ev, frames, hasStack) {
				done = true
			}
		}
	}
	for ev, err := range r.All() {
		if done {
			break
		}
		if err != nil {
			var fe *etw.FormatError
			if errors.As(err, &fe) {
				// Recoverable: the reader skipped the rest of the buffer.
				if damaged < maxReported {
					fmt.Fprintf(stderr, "etwdump: warning: %v\n", err)
				}
				damaged++
				readErrs = append(readErrs, err)
				continue
			}
			if n > 0 && damage.PartialStop(r, err) {
				// Events were printed: they are the part read.
				fmt.Fprintf(stderr, "etwdump: warning: %v\n", err)
				readErrs = append(readErrs, err)
				break
			}
			failed(stderr, err)
			return 1
		}
		if st != nil {
			st.event(ev, want == nil || want[className(ev)])
			continue
		}
		if want != nil && !want[className(ev)] {
			continue
		}
		if print(ev, nil, false) {
			break
		}
	}
	if st != nil {
		st.finish(stderr)
	}
	for _, err := range r.PendingErrors() {
		// Damage known at open that the reader did not return.
		fmt.Fprintf(stderr, "etwdump: warning: %v\n", err)
	}
	health := r.StoppedReport(readErrs)
	if !done && !(*limit > 0 && n >= *limit) {
		health = r.Report(readErrs) // read to the end: buffers count too
	}
	damage.Summarize(stderr, "etwdump", &health)
	return damage.ExitCode(&health)
}

// failed prints the error that ends the run with exit status 1 and, for
// a resource limit, how to raise it.
func failed(stderr io.Writer, err error) {
	fmt.Fprintf(stderr, "etwdump: %v\n", err)
	if a := damage.LimitAdvice(err); a != "" {
		fmt.Fprintf(stderr, "etwdump: %s\n", a)
	}
}

func parseKinds(s string) (map[string]bool, error) {
	want := map[string]bool{}
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(strings.ToLower(k))
		if k == "" {
			continue
		}
		if k == "all" {
			return nil, nil
		}
		c, ok := classOfKind[k]
		if !ok {
			return nil, fmt.Errorf("unknown kind %q (want pool, stack, image, process, thread, imageid, header or all)", k)
		}
		want[c] = true
	}
	return want, nil
}

func className(ev *etw.Event) string {
	k := ev.Kind()
	if i := strings.IndexByte(k, '/'); i >= 0 {
		return k[:i]
	}
	return ""
}

type dumper struct {
	raw     bool
	buf     []byte
	schemas etw.SchemaSet // manifests seen so far in the trace
}

// appendEvent appends one JSON line for ev.
func (d *dumper) appendEvent(b []byte, ev *etw.Event) []byte {
	b = append(b, `{"time":`...)
	if t := ev.Time(); t.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
		b = append(b, '"')
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ev.Timestamp, 10)
	b = append(b, `,"cpu":`...)
	b = strconv.AppendUint(b, uint64(ev.Processor), 10)
	b = append(b, `,"pid":`...)
	if ev.PID == etw.NoPID {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, uint64(ev.PID), 10)
	}
	b = append(b, `,"tid":`...)
	if ev.TID == etw.NoTID {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, uint64(ev.TID), 10)
	}
	kind := ev.Kind()
	if kind == "" {
		if ev.IsKernel() {
			kind = ev.Hook.String()
		} else {
			kind = ev.Provider.String()
		}
	}
	b = append(b, `,"kind":`...)
	b = appendString(b, kind)
	b = append(b, `,"opcode":`...)
	b = strconv.AppendUint(b, uint64(ev.Opcode), 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, uint64(ev.Version), 10)
	if ev.Kind() != "" {
		fields, err := etw.DecodeFields(ev)
		if err != nil {
			b = append(b, `,"error":`...)
			b = appendString(b, err.Error())
			if d.raw {
				b = appendPayload(b, ev.Payload)
			}
		} else {
			b = appendData(b, fields)
		}
	} else {
		d.schemas.Add(ev)
		b = appendDecoded(b, &d.schemas, ev, d.raw)
	}
	if st, ok := ev.ExtStack(); ok {
		b = append(b, `,"ext_stack":{"MatchId":`...)
		b = strconv.AppendUint(b, st.MatchID, 10)
		if st.IsKey {
			b = append(b, `,"StackKey":"0x`...)
			b = strconv.AppendUint(b, st.Key, 16)
			b = append(b, '"')
		} else {
			b = append(b, `,"Stack":[`...)
			for i := range st.Len() {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendHex(b, st.Frame(i))
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

func appendPayload(b, p []byte) []byte {
	b = append(b, `,"payload":"`...)
	for _, c := range p {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}

// maxReported caps the damaged-buffer messages printed.
const maxReported = 5

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, v uint64) []byte {
	b = append(b, `"0x`...)
	b = strconv.AppendUint(b, v, 16)
	return append(b, '"')
}

// appendData appends `,"data":{...}`: the fields by name, in order.
func appendData(b []byte, fields []etw.Field) []byte {
	b = append(b, `,"data":{`...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = appendValue(b, f)
	}
	return append(b, '}')
}

func appendValue(b []byte, f etw.Field) []byte {
	if v, ok := appendDecodedValue(b, f); ok {
		return v
	}
	switch f.Type {
	case etw.TypeI8, etw.TypeI32, etw.TypeI64:
		return strconv.AppendInt(b, f.Int, 10)
	case etw.TypeGUID, etw.TypeSID, etw.TypeANSIZ, etw.TypeUTF16Z:
		return appendString(b, f.String())
	case etw.TypePtrArray:
		b = append(b, '[')
		for i, v := range f.Array {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendHex(b, v)
		}
		return append(b, ']')
	case etw.TypeBytes:
		return appendString(b, f.String())
	}
	switch f.Format {
	case etw.FormatHex:
		return appendHex(b, f.Uint)
	case etw.FormatPoolTag:
		return appendString(b, f.String())
	}
	return strconv.AppendUint(b, f.Uint, 10)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
