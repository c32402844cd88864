package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// errPartial ends a replay whose file could not be read whole, after the
// results and the warnings were printed: exit status 3.
var errPartial = errors.New("partial trace")

// checkFlags checks what the flag package cannot and warns about symbol
// folders that do not exist. It returns damage.ExitUsage for bad flags.
func checkFlags(cfg config, stderr io.Writer) int {
	if cfg.tag != "" {
		if _, err := pool.ParseTag(cfg.tag); err != nil {
			fmt.Fprintf(stderr, "poolwatch: -tag: %v\n", err)
			return damage.ExitUsage
		}
	}
	if cfg.top < 0 {
		fmt.Fprintf(stderr, "poolwatch: -top %d: want 0 or more\n", cfg.top)
		return damage.ExitUsage
	}
	if _, err := damage.Limits(cfg.maxMem); err != nil {
		fmt.Fprintf(stderr, "poolwatch: %v\n", err)
		return damage.ExitUsage
	}
	for _, w := range leak.SymbolPathWarnings(stacks.SymbolPath(cfg.symbols)) {
		fmt.Fprintf(stderr, "poolwatch: warning: %s\n", w)
	}
	return damage.ExitOK
}

// warnTag warns when -tag matched no pool event, naming the tags seen that
// come close (a live session may filter the others out in the kernel).
func warnTag(tag string, res *leak.Result, stderr io.Writer) {
	if tag == "" || res.TagFound {
		return
	}
	msg := fmt.Sprintf("poolwatch: warning: -tag %q matched no pool event", tag)
	if close := res.CloseMatches(tag); close != "" {
		msg += "; close matches: " + close
	}
	fmt.Fprintln(stderr, msg)
}
