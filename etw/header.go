package etw

import "strconv"

// HeaderType is the trace-header type of a record, the byte at offset 2 of
// every record (TRACE_HEADER_TYPE_* in ntwmi.h).
type HeaderType uint8

// Trace header types. The 32/64 suffix is the pointer size of the payload.
const (
	HeaderSystem32     HeaderType = 1  // TRACE_HEADER_TYPE_SYSTEM32, 32-byte SYSTEM_TRACE_HEADER
	HeaderSystem64     HeaderType = 2  // TRACE_HEADER_TYPE_SYSTEM64
	HeaderCompact32    HeaderType = 3  // TRACE_HEADER_TYPE_COMPACT32, 24-byte compact system header
	HeaderCompact64    HeaderType = 4  // TRACE_HEADER_TYPE_COMPACT64
	HeaderFull32       HeaderType = 10 // TRACE_HEADER_TYPE_FULL_HEADER32, EVENT_TRACE_HEADER
	HeaderInstance32   HeaderType = 11 // TRACE_HEADER_TYPE_INSTANCE32, EVENT_INSTANCE_GUID_HEADER
	HeaderTimed        HeaderType = 12 // TRACE_HEADER_TYPE_TIMED
	HeaderError        HeaderType = 13 // TRACE_HEADER_TYPE_ERROR
	HeaderWnode        HeaderType = 14 // TRACE_HEADER_TYPE_WNODE_HEADER
	HeaderMessage      HeaderType = 15 // TRACE_HEADER_TYPE_MESSAGE (WPP, TraceMessage)
	HeaderPerfInfo32   HeaderType = 16 // TRACE_HEADER_TYPE_PERFINFO32, PERFINFO_TRACE_HEADER
	HeaderPerfInfo64   HeaderType = 17 // TRACE_HEADER_TYPE_PERFINFO64
	HeaderEvent32      HeaderType = 18 // TRACE_HEADER_TYPE_EVENT_HEADER32, EVENT_HEADER
	HeaderEvent64      HeaderType = 19 // TRACE_HEADER_TYPE_EVENT_HEADER64
	HeaderFull64       HeaderType = 20 // TRACE_HEADER_TYPE_FULL_HEADER64
	HeaderInstance64   HeaderType = 21 // TRACE_HEADER_TYPE_INSTANCE64
	maxKnownHeaderType            = 21
)

var headerTypeNames = [...]string{
	HeaderSystem32:   "SYSTEM32",
	HeaderSystem64:   "SYSTEM64",
	HeaderCompact32:  "COMPACT32",
	HeaderCompact64:  "COMPACT64",
	HeaderFull32:     "FULL_HEADER32",
	HeaderInstance32: "INSTANCE32",
	HeaderTimed:      "TIMED",
	HeaderError:      "ERROR",
	HeaderWnode:      "WNODE",
	HeaderMessage:    "MESSAGE",
	HeaderPerfInfo32: "PERFINFO32",
	HeaderPerfInfo64: "PERFINFO64",
	HeaderEvent32:    "EVENT_HEADER32",
	HeaderEvent64:    "EVENT_HEADER64",
	HeaderFull64:     "FULL_HEADER64",
	HeaderInstance64: "INSTANCE64",
}

// String returns the census name of the header type ("SYSTEM64",
// "EVENT_HEADER32", ...) or "HeaderType(N)" for unknown values.
func (h HeaderType) String() string {
	if int(h) < len(headerTypeNames) && headerTypeNames[h] != "" {
		return headerTypeNames[h]
	}
	return "HeaderType(" + itoa(uint64(h)) + ")"
}

// Known reports whether h is one of the header types this package frames.
func (h HeaderType) Known() bool {
	return int(h) < len(headerTypeNames) && headerTypeNames[h] != ""
}

// IsKernel reports whether records of this header type carry a kernel hook
// id (group<<8|type) instead of a GUID: SYSTEM, COMPACT and PERFINFO headers.
func (h HeaderType) IsKernel() bool { return headerFacts[h].kernel }

// PointerSize returns the payload pointer size implied by the header type: 4
// for the 32-bit forms, 8 for the 64-bit forms and 0 when the type has none.
func (h HeaderType) PointerSize() int { return int(headerFacts[h].ptr) }

// fixedSize is the length of the fixed part of a header type, before
// extensions, or 0 when the type is not framed by a fixed header.
func (h HeaderType) fixedSize() int { return int(headerFacts[h].fixed) }

// headerFact is what the methods above tell of a header type. They read a
// table indexed by every uint8 value rather than switch: a switch over the
// header type compiles to an indirect jump, which mispredicts on every
// change of header type in a stream (pool events under SYSTEM64 headers
// between stack records under PERFINFO64, say).
type headerFact struct {
	ptr, fixed uint8
	kernel     bool
}

var headerFacts = [256]headerFact{
	HeaderSystem32:   {ptr: 4, fixed: 32, kernel: true},
	HeaderSystem64:   {ptr: 8, fixed: 32, kernel: true},
	HeaderCompact32:  {ptr: 4, fixed: 24, kernel: true},
	HeaderCompact64:  {ptr: 8, fixed: 24, kernel: true},
	HeaderFull32:     {ptr: 4, fixed: 48},
	HeaderFull64:     {ptr: 8, fixed: 48},
	HeaderInstance32: {ptr: 4, fixed: 72},
	HeaderInstance64: {ptr: 8, fixed: 72},
	HeaderPerfInfo32: {ptr: 4, fixed: 16, kernel: true},
	HeaderPerfInfo64: {ptr: 8, fixed: 16, kernel: true},
	HeaderEvent32:    {ptr: 4, fixed: 80},
	HeaderEvent64:    {ptr: 8, fixed: 80},
	HeaderMessage:    {fixed: 8},
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
