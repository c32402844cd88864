package etw

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them where it
// applies, so callers can test with [errors.Is].
var (
	// ErrNotETL reports that the input does not start with an ETL header
	// buffer (empty file, text, another format).
	ErrNotETL = errors.New("not an ETL file")
	// ErrTruncated reports that a buffer or record runs past the end of the
	// input.
	ErrTruncated = errors.New("truncated")
	// ErrCorrupt reports a structural inconsistency inside a buffer: a
	// record size that does not fit, an impossible header field, a
	// decompression failure.
	ErrCorrupt = errors.New("corrupt data")
	// ErrUnsupportedCompression reports a compression format this package
	// cannot decode.
	ErrUnsupportedCompression = errors.New("compression format not supported")
	// ErrShortPayload reports that a typed decoder ran past the end of an
	// event's payload; see [DecodeError].
	ErrShortPayload = errors.New("payload too short")
	// ErrUnknownEvent reports that a typed decoder was given an event it
	// does not decode (another class, opcode or an unknown version).
	ErrUnknownEvent = errors.New("unknown event")
)

// FormatError describes damage in an ETL file. It names the buffer (0 is the
// header buffer) and the byte offset in the file where the problem was
// found. For records inside compressed buffers, RecordOffset gives the
// offset inside the decompressed data as well.
//
// A FormatError from [Reader.ReadEvent] is recoverable: the reader has
// skipped the rest of the damaged buffer and the next call continues with
// the next buffer.
type FormatError struct {
	Buffer       int   // buffer index, -1 when not inside a buffer
	Offset       int64 // file offset of the problem
	RecordOffset int64 // offset inside decompressed data, or -1
	Msg          string
	Err          error // a sentinel such as ErrTruncated or ErrCorrupt
}

// Error formats the error as "etw: buffer N at offset 0x...: what".
func (e *FormatError) Error() string {
	s := "etw: "
	if e.Buffer >= 0 {
		s += fmt.Sprintf("buffer %d at offset 0x%x", e.Buffer, e.Offset)
	} else {
		s += fmt.Sprintf("offset 0x%x", e.Offset)
	}
	if e.RecordOffset >= 0 {
		s += fmt.Sprintf(" (decompressed offset 0x%x)", e.RecordOffset)
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying sentinel.
func (e *FormatError) Unwrap() error { return e.Err }

// DecodeError reports that a typed decoder could not decode a field of an
// event's payload. It wraps [ErrShortPayload] or [ErrCorrupt].
type DecodeError struct {
	Event  string // decoder name, e.g. "PoolTrace/PoolAllocation v2"
	Field  string // MOF field name
	Offset int    // payload offset of the field
	Len    int    // payload length
	Err    error
}

// Error names the decoder, the field and its payload offset.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("etw: %s: field %s at payload offset %d: %v (payload is %d bytes)", e.Event, e.Field, e.Offset, e.Err, e.Len)
}

// Unwrap returns the underlying sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }
