package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
)

// stackAttacher runs events through the stack correlator and module maps,
// and hands each wanted event to emit with its resolved stack, in order.
type stackAttacher struct {
	mods     *stacks.Modules
	methods  *stacks.Methods
	corr     *stacks.Correlator
	res      *stacks.Resolver
	sym      *stacks.PathSymbolizer
	wantNext bool
	emit     func(ev *etw.Event, frames []stacks.Frame, hasStack bool)
	frames   []stacks.Frame
}

func newStackAttacher(r *etw.Reader, symbolPath string, stderr io.Writer) (*stackAttacher, error) {
	ptr := r.PointerSize()
	a := &stackAttacher{mods: stacks.NewModules(ptr), methods: stacks.NewMethods()}
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
		Wait:        stacks.WaitFor(r.Clock()),
		Want:        func(*etw.Event) bool { return a.wantNext },
		Emit:        a.emitted,
	})
	return a, nil
}

// event feeds one event; want says whether it is printed.
func (a *stackAttacher) event(ev *etw.Event, want bool) {
	a.mods.Event(ev)
	a.methods.Event(ev)
	a.wantNext = want && ev.Provider != etw.StackWalkGUID
	a.corr.Event(ev)
}

func (a *stackAttacher) emitted(ev *etw.Event, id stacks.StackID) {
	if id == stacks.NoStack {
		a.emit(ev, nil, false)
		return
	}
	s := a.corr.Stack(id)
	a.frames = a.res.AppendResolve(a.frames[:0], s.PID, ev.Timestamp, s.Frames())
	if s.Unresolved {
		a.frames = append(a.frames, stacks.Frame{Kind: stacks.Marker, Text: "[stack key not yet defined]"})
	}
	a.emit(ev, a.frames, true)
}

func (a *stackAttacher) finish() { a.corr.Finish() }

func (a *stackAttacher) close() {
	if a.sym != nil {
		a.sym.Close()
	}
}

// appendStack appends the "stack" and "segments" members and closes the
// object.
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
	return append(b, "}}\n"...)
}
