//go:build !unix

package export

// cpuTime returns 0: CPU time is only measured on Unix.
func cpuTime() int64 { return 0 }
