package pe

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by [FormatError]. Test with [errors.Is].
var (
	// ErrNotPE reports input that is not a PE image: no MZ or PE signature,
	// or an optional header magic other than PE32 or PE32+.
	ErrNotPE = errors.New("pe: not a PE image")
	// ErrTruncated reports a structure that extends past the end of the input.
	ErrTruncated = errors.New("pe: truncated")
	// ErrCorrupt reports a structure whose fields are inconsistent or exceed
	// the reader's limits.
	ErrCorrupt = errors.New("pe: corrupt")
)

// FormatError describes a malformed image. Offset is the file offset of the
// offending structure, or -1 when no file offset applies (for example an RVA
// that maps to no section).
type FormatError struct {
	Offset int64  // file offset of the offending structure, or -1
	Msg    string // what was being read and what was wrong
	Err    error  // ErrNotPE, ErrTruncated or ErrCorrupt (possibly wrapping an I/O error)
}

// Error renders the error as "pe: <msg> at offset 0x<off>: <err>".
func (e *FormatError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("pe: %s: %v", e.Msg, e.Err)
	}
	return fmt.Sprintf("pe: %s at offset %#x: %v", e.Msg, e.Offset, e.Err)
}

// Unwrap returns the wrapped sentinel.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(off int64, err error, format string, args ...any) *FormatError {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}
