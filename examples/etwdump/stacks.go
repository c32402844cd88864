package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
)

// stackAttacher runs events through the stack correlator and hands each
// wanted event to emit with its resolved stack, in order.
//
// It reads the trace twice. The first pass builds what the whole trace
// says: the module maps (an image is named even when its Load event comes
// after a stack that uses it, and WOW64 processes known only by their
// images are known from the start), the thread-to-process table, the JIT
// methods, the stack-key definitions, which real traces log at the end
// (KeyRundown) or on eviction (KeyDelete), after the events that use them,
// and the user-mode stack fragments logged later than the correlator
// waits.
// The second pass, the printed one, then resolves every stack as it goes.
// A zip member is opened twice like a file. Memory for the first pass is
// bounded by the images, threads, methods, referenced key generations and
// late fragments of the trace, not by its events.
type stackAttacher struct {
	mods     *stacks.Modules
	methods  *stacks.Methods
	corr     *stacks.Correlator
	res      *stacks.Resolver
	sym      *stacks.PathSymbolizer
	wantNext bool
	emit     func(ev *etw.Event, frames []stacks.Frame, hasStack bool)
	frames   []stacks.Frame
	attr     stacks.Attribution // of the event being emitted
}

func newStackAttacher(r *etw.Reader, path string, lim etw.Limits, symbolPath string, stderr io.Writer) (*stackAttacher, error) {
	ptr := r.PointerSize()
	a := &stackAttacher{mods: stacks.NewModules(ptr), methods: stacks.NewMethods()}
	wait := stacks.WaitFor(r.Clock())
	ahead, err := a.firstPass(path, lim, wait, ptr)
	if err != nil {
		return nil, err
	}
	a.res = &stacks.Resolver{Modules: a.mods, Methods: a.methods, PointerSize: ptr}
	if symbolPath != "" {
		s, err := stacks.NewPathSymbolizer(symbolPath, &stacks.SymbolOptions{Logf: func(f string, args ...any) {
			fmt.Fprintf(stderr, "etwdump: warning: "+f+"\n", args...)
		}})
		if err != nil {
			return nil, err
		}
		a.sym, a.res.Symbols = s, s
	}
	a.corr = stacks.NewCorrelator(stacks.Options{
		PointerSize: ptr,
		Wait:        wait,
		Want:        func(*etw.Event) bool { return a.wantNext },
		Emit:        a.emitted,
		ProcessOf:   a.mods.ProcessOf,
		Lookahead:   ahead,
	})
	return a, nil
}

// firstPass reads the trace at path once, into the module maps, the JIT
// methods and the Lookahead (stack-key definitions, late user fragments)
// it returns, within the same limits as the second pass. Read errors are
// not reported here: damaged buffers are skipped, an error that ends the
// read ends the pass, and the second pass meets and reports them.
func (a *stackAttacher) firstPass(path string, lim etw.Limits, wait int64, ptr int) (*stacks.Lookahead, error) {
	r, err := etw.OpenLimited(path, lim)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	keys := stacks.NewLookahead(wait, ptr)
	for ev, err := range r.All() {
		if err != nil {
			var fe *etw.FormatError
			if errors.As(err, &fe) {
				continue
			}
			break
		}
		a.mods.Event(ev)
		a.methods.Event(ev)
		keys.Event(ev)
	}
	a.mods.Finish()
	return keys, nil
}

// event feeds one event of the second pass; want says whether it is
// printed.
func (a *stackAttacher) event(ev *etw.Event, want bool) {
	a.wantNext = want && ev.Provider != etw.StackWalkGUID
	a.corr.Event(ev)
}

func (a *stackAttacher) emitted(ev *etw.Event, id stacks.StackID) {
	a.attr = a.corr.Attributed()
	if id == stacks.NoStack {
		a.emit(ev, nil, false)
		return
	}
	s := a.corr.Stack(id)
	a.frames = a.res.AppendResolve(a.frames[:0], a.attr.PID, ev.Timestamp, s.Frames())
	if s.Unresolved {
		a.frames = append(a.frames, stacks.Frame{Kind: stacks.Marker, Text: "[stack key not defined in the trace]"})
	}
	a.emit(ev, a.frames, true)
}

// finish emits the events still waiting and says on stderr how many
// events without a process in their header were attributed, and how.
func (a *stackAttacher) finish(stderr io.Writer) {
	a.corr.Finish()
	s := a.corr.Stats()
	if n := s.ProcessFromPayload + s.ProcessFromStack + s.ProcessFromThreads + s.ProcessUnknown; n > 0 {
		fmt.Fprintf(stderr, "etwdump: %d events had no process in their header: %d attributed by their payload, %d by their stack record, %d by their thread, %d to no process\n",
			n, s.ProcessFromPayload, s.ProcessFromStack, s.ProcessFromThreads, s.ProcessUnknown)
	}
}

func (a *stackAttacher) close() {
	if a.sym != nil {
		a.sym.Close()
	}
}

// appendTo appends the members -stacks adds to an event's object (b is
// the object without its closing "}\n"): "attributed" when the header
// lacked the process or thread that the event was attributed to, and
// "stack" and "segments" when it has a stack. It closes the object.
func (a *stackAttacher) appendTo(b []byte, frames []stacks.Frame, hasStack bool) []byte {
	b = appendAttribution(b, a.attr)
	if hasStack {
		b = appendStack(b, frames)
	}
	return append(b, "}\n"...)
}

// appendAttribution appends "attributed":{"pid":..,"pid_from":..,"tid":..,
// "tid_from":..} with the members the header did not give but something
// else did; nothing when the header gave both or nothing named them.
func appendAttribution(b []byte, at stacks.Attribution) []byte {
	pid := at.PIDFrom != stacks.SourceHeader && at.PIDFrom != stacks.SourceNone
	tid := at.TIDFrom != stacks.SourceHeader && at.TIDFrom != stacks.SourceNone
	if !pid && !tid {
		return b
	}
	b = append(b, `,"attributed":{`...)
	if pid {
		b = append(b, `"pid":`...)
		b = strconv.AppendUint(b, uint64(at.PID), 10)
		b = append(b, `,"pid_from":"`...)
		b = append(b, at.PIDFrom.String()...)
		b = append(b, '"')
	}
	if tid {
		if pid {
			b = append(b, ',')
		}
		b = append(b, `"tid":`...)
		b = strconv.AppendUint(b, uint64(at.TID), 10)
		b = append(b, `,"tid_from":"`...)
		b = append(b, at.TIDFrom.String()...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendStack appends the "stack" and "segments" members.
func appendStack(b []byte, frames []stacks.Frame) []byte {
	b = append(b, `,"stack":[`...)
	for i := range frames {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, frames[i].String())
	}
	seg := stacks.SegmentsOf(frames)
	b = append(b, `],"segments":{"kernel":`...)
	b = strconv.AppendInt(b, int64(seg.Kernel), 10)
	b = append(b, `,"user":`...)
	b = strconv.AppendInt(b, int64(seg.User), 10)
	b = append(b, `,"wow64":`...)
	b = strconv.AppendInt(b, int64(seg.WOW64), 10)
	return append(b, '}')
}
