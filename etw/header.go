package etw

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
func (h HeaderType) IsKernel() bool {
	switch h {
	case HeaderSystem32, HeaderSystem64, HeaderCompact32, HeaderCompact64, HeaderPerfInfo32, HeaderPerfInfo64:
		return true
	}
	return false
}

// PointerSize returns the payload pointer size implied by the header type: 4
// for the 32-bit forms, 8 for the 64-bit forms and 0 when the type has none.
func (h HeaderType) PointerSize() int {
	switch h {
	case HeaderSystem32, HeaderCompact32, HeaderFull32, HeaderInstance32, HeaderPerfInfo32, HeaderEvent32:
		return 4
	case HeaderSystem64, HeaderCompact64, HeaderFull64, HeaderInstance64, HeaderPerfInfo64, HeaderEvent64:
		return 8
	}
	return 0
}

// fixedSize is the length of the fixed part of a header type, before
// extensions, or 0 when the type is not framed by a fixed header.
func (h HeaderType) fixedSize() int {
	switch h {
	case HeaderSystem32, HeaderSystem64:
		return 32
	case HeaderCompact32, HeaderCompact64:
		return 24
	case HeaderFull32, HeaderFull64:
		return 48
	case HeaderInstance32, HeaderInstance64:
		return 72
	case HeaderPerfInfo32, HeaderPerfInfo64:
		return 16
	case HeaderEvent32, HeaderEvent64:
		return 80
	case HeaderMessage:
		return 8
	}
	return 0
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}
