// Package cpuprof gives the command-line tools their -cpuprofile flag: a
// CPU profile of the whole run in pprof format, for `go tool pprof` and
// for the profile-guided builds of the tools (scripts/pgo.sh).
package cpuprof

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Usage is the help text of the -cpuprofile flag.
const Usage = "write a CPU profile of the run (pprof format) to FILE"

// Start starts a CPU profile into the file path and returns the function
// that stops it and closes the file, which reports a failure to write it.
// An empty path profiles nothing: stop does nothing.
func Start(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}
