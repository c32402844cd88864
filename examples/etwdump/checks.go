package main

import (
	"errors"
	"fmt"
	"io"
)

// checkFlags checks the flag combinations that parse but cannot work: a
// negative -limit, and -kinds stack with -stacks (which attaches the
// StackWalk records to their events instead of printing them).
func checkFlags(limit int, withStacks bool, want map[string]bool, stderr io.Writer) error {
	if limit < 0 {
		return fmt.Errorf("-limit %d: want 0 (no limit) or more", limit)
	}
	if withStacks && want != nil && want["StackWalk"] {
		if len(want) == 1 {
			return errors.New("-kinds stack with -stacks prints nothing: -stacks attaches each StackWalk record to its event instead of printing it; drop -stacks to print the records, or name the kinds of the events whose stacks you want (e.g. -kinds pool -stacks)")
		}
		fmt.Fprintln(stderr, "etwdump: warning: with -stacks, StackWalk records are attached to their events, not printed; -kinds stack adds nothing")
	}
	return nil
}
