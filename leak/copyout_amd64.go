package leak

// ntcopy copies n records from src to dst with non-temporal stores (see
// copyout_amd64.s).
//
//go:noescape
func ntcopy(dst, src *rec, n int)

// copyOut copies the staged records src to dst, the batch memory that the
// pipeline goroutine reads next, with non-temporal stores, which write
// whole lines to memory without fetching them first. A line of a reused
// batch may still sit in the other core's cache, which read it in an
// earlier batch: fetching it from there to write it is what made writing
// records in place slow (see batch).
func copyOut(dst, src []rec) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	ntcopy(&dst[0], &src[0], len(src))
}
