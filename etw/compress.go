package etw

import (
	"errors"

	"github.com/etwkit/etwkit/internal/xca"
)

// decompress decodes one compressed buffer's data into dst and returns the
// bytes written; on error, the bytes written before the damage.
func decompress(format Compression, dst, src []byte) (int, error) {
	n, err := xca.Decompress(xca.Format(format), dst, src)
	if errors.Is(err, xca.ErrUnsupported) {
		return 0, ErrUnsupportedCompression
	}
	return n, err
}
