package main

import (
	"fmt"
	"os"

	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/leak"
)

// writeProfile writes the allocations of res as a pprof profile (heap
// sample types; inuse = outstanding when the session ended), the same way
// poolleak -o does. partial, when not empty, says what a replayed trace
// read only in part is missing (etw.ReadReport.Partial), in the comments.
func writeProfile(name, trace string, res *leak.Result, partial string) error {
	p, err := res.Profile(trace, export.Options{})
	if err != nil {
		return err
	}
	p.Comments = append(p.Comments, "recorded by poolwatch")
	if partial != "" {
		p.Comments = append(p.Comments, partial)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := export.Write(f, p); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}
