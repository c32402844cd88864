package etw

import (
	"errors"
	"fmt"
)

// ErrLimit reports that reading an input would take more memory or disk
// than a [Limits] field allows; see [LimitError].
var ErrLimit = errors.New("resource limit exceeded")

// Default resource limits; see [Limits].
const (
	// DefaultMaxMemory is the default ceiling on the bytes a Reader holds
	// for buffers: the buffers in flight, the decompression scratch and
	// the buffer index.
	DefaultMaxMemory = 256 << 20
	// MaxExpansion bounds the decompressed size of a buffer relative to
	// its compressed bytes in the file. The XPRESS buffers of the real
	// traces we know expand at most 13.6 times (8.2 and 1.4 in others).
	MaxExpansion = 32
	// ZipExpansion bounds the inflated size of a deflated zip member
	// relative to its compressed size, unless Limits.MaxZipMember is set.
	// Real zipped traces inflate at most 245 times (a 128 KiB member of
	// mostly empty buffers); deflate itself cannot pass about 1032.
	ZipExpansion = 512
)

// expansionSlack is added to the decompressed size a compressed buffer
// may claim, so that tiny buffers are not judged by the ratio alone.
const expansionSlack = 4 << 10

// zipMemberSlack is added to the inflated size a zip member may have.
const zipMemberSlack = 4 << 20

// memAllowance and memPerInputByte make the reader's memory budget
// proportional to what the input holds on disk: a fixed allowance plus a
// multiple of the input's size (the compressed size for a zip member).
// MaxExpansion bounds what one buffer may take, so this multiple covers the
// buffers of every processor in flight at once.
const (
	memAllowance    = 32 << 20
	memPerInputByte = MaxExpansion
)

// Limits bounds the resources a [Reader] may use on hostile input. The
// zero value selects the defaults. Pass it to [OpenLimited] or
// [NewReaderLimited]; [Open] and [NewReader] use the defaults.
//
// The memory a Reader holds for buffers is bounded by the smaller of
// MaxMemory and a budget proportional to the input's size on disk (32 MiB
// plus MaxExpansion bytes per input byte): whatever the headers claim
// (processors, buffer sizes, decompressed sizes), memory follows what the
// file really holds. Past the bound, reading stops with a *[LimitError]
// that says what it would have needed.
type Limits struct {
	// MaxMemory is the ceiling on the bytes held for buffers (default
	// DefaultMaxMemory).
	MaxMemory int64
	// MaxZipMember is the ceiling on the inflated size of a zip member.
	// By default it is ZipExpansion times the member's compressed size
	// plus 4 MiB.
	MaxZipMember int64
	// TempDir is the folder in which zip members over 64 MiB are inflated
	// (default os.TempDir()). The temporary file is removed on every path;
	// outside Windows it is unlinked as soon as it is created.
	TempDir string
}

func (l Limits) maxMemory() int64 {
	if l.MaxMemory > 0 {
		return l.MaxMemory
	}
	return DefaultMaxMemory
}

// LimitError reports that reading an input would need more of a resource
// than its limit allows. It wraps [ErrLimit]. Unlike a [FormatError] it is
// final: a Reader returns it from every later call.
type LimitError struct {
	Resource string // "memory" or "zip member"
	Buffer   int    // buffer index, -1 when not about a buffer
	Offset   int64  // file offset of that buffer
	Need     int64  // bytes that would have been needed
	Limit    int64  // the ceiling
	Why      string // what sets the ceiling, e.g. "Limits.MaxMemory"
}

// Error says what would have been needed and what the ceiling is.
func (e *LimitError) Error() string {
	s := "etw: "
	if e.Buffer >= 0 {
		s += fmt.Sprintf("buffer %d at offset 0x%x: ", e.Buffer, e.Offset)
	}
	return s + fmt.Sprintf("%s would need %d bytes, over the ceiling of %d (%s)", e.Resource, e.Need, e.Limit, e.Why)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }
