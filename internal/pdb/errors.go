package pdb

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by [FormatError]. Test with [errors.Is].
var (
	// ErrNotPDB reports input that is not an MSF 7.00 PDB file (older
	// "JG" 2.00 PDBs are not supported).
	ErrNotPDB = errors.New("pdb: not an MSF 7.00 PDB")
	// ErrTruncated reports a structure that extends past the end of its
	// stream or of the file.
	ErrTruncated = errors.New("pdb: truncated")
	// ErrCorrupt reports fields that are inconsistent or exceed the reader's
	// limits.
	ErrCorrupt = errors.New("pdb: corrupt")
)

// FormatError describes a malformed PDB. When Stream is non-negative, Offset
// is a byte offset inside that MSF stream; otherwise it is a file offset.
type FormatError struct {
	Stream int    // MSF stream index, or -1 for file-level structures
	Offset int64  // offset inside Stream (or the file when Stream < 0)
	Msg    string // what was being read and what was wrong
	Err    error  // ErrNotPDB, ErrTruncated or ErrCorrupt (possibly wrapping an I/O error)
}

// Error renders the error as "pdb: stream 3 at offset 0x40: <msg>: <err>".
func (e *FormatError) Error() string {
	if e.Stream < 0 {
		return fmt.Sprintf("pdb: %s at file offset %#x: %v", e.Msg, e.Offset, e.Err)
	}
	return fmt.Sprintf("pdb: %s at stream %d offset %#x: %v", e.Msg, e.Stream, e.Offset, e.Err)
}

// Unwrap returns the wrapped sentinel.
func (e *FormatError) Unwrap() error { return e.Err }

func fileErr(off int64, err error, format string, args ...any) *FormatError {
	return &FormatError{Stream: -1, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}

func streamErr(stream int, off int64, err error, format string, args ...any) *FormatError {
	return &FormatError{Stream: stream, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}
