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
