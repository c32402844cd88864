package stacks_test

import (
	"fmt"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/stacks"
)

// A pool allocation, its kernel stack and, later, its user-mode stack are
// joined into one stack and resolved against the process's modules.
func ExampleCorrelator() {
	mods := stacks.NewModules(8)
	var id stacks.StackID
	c := stacks.NewCorrelator(stacks.Options{
		PointerSize: 8,
		Want:        func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID },
		Emit:        func(ev *etw.Event, s stacks.StackID) { id = s },
	})
	c.Event(poolEvent(100, 42, 7))
	c.Event(stackEvent(101, 100, 42, 7, 0xfffff80000001234))
	c.Event(stackEvent(250, 100, 42, 7, 0x7ff800001010, 0x7ff800002020))
	c.Finish()

	s := c.Stack(id)
	r := &stacks.Resolver{Modules: mods, PointerSize: 8}
	for _, f := range r.Resolve(s.PID, s.Time, s.Frames()) {
		fmt.Println(f.Kind, f.String())
	}
	// Output:
	// kernel 0xfffff80000001234
	// user 0x7ff800001010
	// user 0x7ff800002020
}

// A streaming tool reads a trace twice: the first pass fills a Lookahead
// with the stack-key definitions that come at the end of the trace, so
// that the second pass prints each event's stack, resolved, as it goes.
// The pool event here has a PERFINFO header: its process and thread come
// from its stack-key reference.
func ExampleLookahead() {
	ev := poolEvent(100, etw.NoPID, etw.NoTID)
	ev.Header = etw.HeaderPerfInfo64
	trace := []*etw.Event{
		ev,
		keyRefEvent(101, 100, 42, 7, true, 0x40),
		keyDefEvent(900, 36, 0x40, 0xfffff80000001234, 0xfffff80000005678), // KeyRundown at the end
	}
	ahead := stacks.NewLookahead(0, 8)
	for _, ev := range trace { // first pass
		ahead.Event(ev)
	}
	var c *stacks.Correlator
	c = stacks.NewCorrelator(stacks.Options{
		PointerSize: 8,
		Lookahead:   ahead,
		Want:        func(ev *etw.Event) bool { return ev.Provider == etw.PoolGUID },
		Emit: func(ev *etw.Event, id stacks.StackID) {
			a, s := c.Attributed(), c.Stack(id)
			fmt.Printf("pid %d (from %s), tid %d (from %s): %#x\n", a.PID, a.PIDFrom, a.TID, a.TIDFrom, s.Frames())
		},
	})
	for _, ev := range trace { // second pass
		c.Event(ev)
	}
	c.Finish()
	// Output:
	// pid 42 (from stack), tid 7 (from stack): [0xfffff80000001234 0xfffff80000005678]
}
