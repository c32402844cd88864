// Package alloclimit measures the heap bytes a piece of code allocates, so
// that fuzz targets and hostile-input tests can fail when one run allocates
// more than its ceiling.
//
// The figure is the process-wide cumulative count of heap bytes allocated
// (runtime/metrics "/gc/heap/allocs:bytes"), read before and after the
// run. Small objects are counted when their span is cached, so the figure
// is exact to a few kilobytes; ceilings are meant in megabytes. Run fuzz
// targets with -parallel 1 for a figure that only holds the target's own
// allocations (other goroutines allocating meanwhile are counted too,
// which can only make a check stricter).
package alloclimit

import (
	"runtime/metrics"
	"testing"
)

const allocsMetric = "/gc/heap/allocs:bytes"

// Allocated returns the heap bytes the process has allocated so far.
func Allocated() uint64 {
	s := []metrics.Sample{{Name: allocsMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Measure runs f and returns the heap bytes allocated while it ran.
func Measure(f func()) uint64 {
	before := Allocated()
	f()
	return Allocated() - before
}

// Check runs f and fails t when f allocates more than limit bytes, naming
// what and the figures.
func Check(t testing.TB, what string, limit uint64, f func()) {
	t.Helper()
	if n := Measure(f); n > limit {
		t.Fatalf("%s allocated %d bytes, over its ceiling of %d", what, n, limit)
	}
}
