package etltest

import (
	"errors"
	"io"
)

// MemFile is an in-memory file for tests: an io.Writer, io.WriterAt and
// io.ReaderAt over a growing byte slice, so a Writer can patch the header
// buffer at Close and a reader can read the result back.
type MemFile struct {
	b   []byte
	off int64
}

// maxMemFile caps the size of a MemFile (2 GiB).
const maxMemFile = 2 << 30

var errMemFileTooLarge = errors.New("etltest: MemFile larger than 2 GiB")

// Write appends p at the current offset.
func (f *MemFile) Write(p []byte) (int, error) {
	n, err := f.WriteAt(p, f.off)
	f.off += int64(n)
	return n, err
}

// WriteAt writes p at offset off, growing the file as needed.
func (f *MemFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("etltest: negative offset")
	}
	end := off + int64(len(p))
	if end > maxMemFile {
		return 0, errMemFileTooLarge
	}
	if end > int64(len(f.b)) {
		if end > int64(cap(f.b)) {
			nb := make([]byte, end, max(end, 2*int64(cap(f.b))))
			copy(nb, f.b)
			f.b = nb
		} else {
			f.b = f.b[:end]
		}
	}
	copy(f.b[off:], p)
	return len(p), nil
}

// ReadAt implements io.ReaderAt.
func (f *MemFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("etltest: negative offset")
	}
	if off >= int64(len(f.b)) {
		return 0, io.EOF
	}
	n := copy(p, f.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Bytes returns the file's contents; the slice aliases the file.
func (f *MemFile) Bytes() []byte { return f.b }

// Size returns the file's size.
func (f *MemFile) Size() int64 { return int64(len(f.b)) }
