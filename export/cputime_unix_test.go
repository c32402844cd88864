//go:build unix

package export

import "syscall"

// cpuTime returns the CPU time (user + system) used by the process so far,
// in nanoseconds, or 0 if unknown.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
