package bounded

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

var errTrunc = errors.New("truncated")

// shortReader returns fewer bytes than asked, with err.
type shortReader struct{ err error }

func (s shortReader) ReadAt(b []byte, off int64) (int, error) { return len(b) / 2, s.err }

func TestReadAt(t *testing.T) {
	r := bytes.NewReader([]byte("0123456789"))
	b := make([]byte, 4)
	past, err := ReadAt(r, 10, b, 6, errTrunc)
	assert.False(t, past)
	assert.NoError(t, err)
	assert.Equal(t, "6789", string(b))

	for _, off := range []int64{-1, 7, 11, 1 << 62} {
		past, err = ReadAt(r, 10, b, off, errTrunc)
		assert.True(t, past, "offset %d", off)
		assert.ErrorIs(t, err, errTrunc)
	}
	// A size larger than the reader's data: the read comes back short.
	past, err = ReadAt(r, 100, b, 8, errTrunc)
	assert.False(t, past)
	assert.ErrorIs(t, err, errTrunc)

	disk := errors.New("disk error")
	_, err = ReadAt(shortReader{disk}, 100, b, 0, errTrunc)
	assert.ErrorIs(t, err, errTrunc)
	assert.ErrorIs(t, err, disk)
	_, err = ReadAt(shortReader{nil}, 100, b, 0, errTrunc)
	assert.Equal(t, errTrunc, err)
}

var _ io.ReaderAt = shortReader{}
