package leak

// ntcopy copies n records from src to dst with non-temporal stores (see
// copyout_amd64.s).
//
//go:noescape
func ntcopy(dst, src *rec, n int)

// copyOut copies the staged records src to dst, the batch memory that the
// pipeline goroutine reads next, with non-temporal stores: they go to
// memory without first fetching each line into the reading core's cache,
// where the line may be held by the other core, which read it in the
// batch before. See batch.stage.
func copyOut(dst, src []rec) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	ntcopy(&dst[0], &src[0], len(src))
}
