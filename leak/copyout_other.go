//go:build !amd64

package leak

// copyOut copies the staged records src to dst, the batch memory that the
// pipeline goroutine reads next (see batch.stage).
func copyOut(dst, src []rec) { copy(dst, src) }
