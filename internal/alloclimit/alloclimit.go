// Package alloclimit measures the heap bytes a piece of code allocates, so
// that fuzz targets and hostile-input tests can fail when one run allocates
// more than its ceiling.
//
// The figure is the process-wide cumulative count of heap bytes allocated
// (runtime/metrics "/gc/heap/allocs:bytes"), read before and after the
// run. That count is cheap to read but takes in small objects only when
// their span leaves a processor's cache, which a garbage collection does
// for all of them at once: a run can be charged with what the fuzzing
// engine allocated before it. So [Check] measures a run that looks over
// its ceiling once more, exactly, between two [runtime.ReadMemStats] calls
// (which flush those caches), and fails only on that figure. Run fuzz
// targets with -parallel 1 so that no other goroutine allocates meanwhile.
package alloclimit

import (
	"runtime"
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

// MeasureExact runs f and returns the heap bytes allocated while it ran,
// flushing the allocation caches before and after: exact, but it stops the
// world twice.
func MeasureExact(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Check runs f and fails t when f allocates more than limit bytes, naming
// what and the figures. f must be safe to run twice: a run measured over
// the limit is run again and measured exactly.
func Check(t testing.TB, what string, limit uint64, f func()) {
	t.Helper()
	if n := Measure(f); n <= limit {
		return
	}
	if n := MeasureExact(f); n > limit {
		t.Fatalf("%s allocated %d bytes, over its ceiling of %d", what, n, limit)
	}
}
