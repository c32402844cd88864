// Package bounded reads byte ranges of inputs whose size is known, for the
// parsers of untrusted files (internal/pdb, internal/pe): a range is
// checked against the size before anything is read, so a crafted offset or
// length costs no I/O and no allocation, and a short read is a truncation.
package bounded

import (
	"fmt"
	"io"
)

// ReadAt reads exactly len(b) bytes at off from r, an input of size bytes.
// When the range does not lie inside [0, size) it reads nothing and
// returns pastEnd true with truncated as the error; when the read comes
// back short it returns an error wrapping truncated (and the reader's own
// error, unless that was io.EOF). The caller says what was read: the
// parsers name the structure and the offset in their own error type.
func ReadAt(r io.ReaderAt, size int64, b []byte, off int64, truncated error) (pastEnd bool, err error) {
	if off < 0 || off > size || int64(len(b)) > size-off {
		return true, truncated
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return false, nil
	}
	if err == nil || err == io.EOF {
		return false, truncated
	}
	return false, fmt.Errorf("%w: %w", truncated, err)
}
