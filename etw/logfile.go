package etw

import "github.com/etwkit/etwkit/internal/utf16le"

// LogfileHeader is TRACE_LOGFILE_HEADER, the payload of the first record of
// an ETL file (EventTrace Header, hook 0x0000), in either pointer size.
type LogfileHeader struct {
	BufferSize         uint32 // session buffer size in bytes
	MajorVersion       uint8  // OS major version
	MinorVersion       uint8  // OS minor version
	SubVersion         uint8  // log file layout version (1.5, 2.0 observed)
	SubMinorVersion    uint8
	ProviderVersion    uint32 // OS build number
	NumberOfProcessors uint32
	EndTime            int64  // FILETIME
	TimerResolution    uint32 // 100 ns units
	MaximumFileSize    uint32 // MB
	LogFileMode        uint32 // EVENT_TRACE_*_MODE bits
	BuffersWritten     uint32 // buffers in the file, the header buffer included
	StartBuffers       uint32
	PointerSize        uint32 // bytes
	EventsLost         uint32
	CPUSpeedMHz        uint32
	TimeZone           TimeZone
	BootTime           int64  // FILETIME
	PerfFreq           int64  // QPC frequency
	StartTime          int64  // FILETIME
	ReservedFlags      uint32 // clock type, see ClockType
	BuffersLost        uint32
	LoggerName         string
	LogFileName        string
}

// TimeZone is TIME_ZONE_INFORMATION as stored in the logfile header.
type TimeZone struct {
	Bias         int32 // minutes; UTC = local + Bias
	StandardName string
	StandardDate SystemTime
	StandardBias int32
	DaylightName string
	DaylightDate SystemTime
	DaylightBias int32
}

// SystemTime is a Windows SYSTEMTIME.
type SystemTime struct {
	Year, Month, DayOfWeek, Day, Hour, Minute, Second, Milliseconds uint16
}

// LogFileMode bits used by this package.
const (
	ModeCompressed = 0x04000000 // EVENT_TRACE_COMPRESSED_MODE
	ModeRelog      = 0x00010000 // EVENT_TRACE_RELOG_MODE
	ModeSequential = 0x00000001 // EVENT_TRACE_FILE_MODE_SEQUENTIAL
	ModeCircular   = 0x00000002 // EVENT_TRACE_FILE_MODE_CIRCULAR
)

// Clock returns the clock type recorded in the header.
func (h *LogfileHeader) Clock() ClockType { return ClockType(h.ReservedFlags) }

// OSBuild returns the OS build number (ProviderVersion).
func (h *LogfileHeader) OSBuild() uint32 { return h.ProviderVersion }

// Compressed reports whether the log file mode says the buffers are
// compressed.
func (h *LogfileHeader) Compressed() bool { return h.LogFileMode&ModeCompressed != 0 }

// logfileHeaderSize returns the fixed size of TRACE_LOGFILE_HEADER for a
// pointer size.
func logfileHeaderSize(ptr int) int {
	if ptr == 4 {
		return 0x110
	}
	return 0x118
}

// ParseLogfileHeader decodes a TRACE_LOGFILE_HEADER payload with the given
// pointer size (4 or 8). The two trailing strings are optional.
func ParseLogfileHeader(p []byte, ptr int) (*LogfileHeader, error) {
	d := newDecoder(p, ptr)
	h := new(LogfileHeader)
	h.BufferSize = d.u32()
	h.MajorVersion = d.u8()
	h.MinorVersion = d.u8()
	h.SubVersion = d.u8()
	h.SubMinorVersion = d.u8()
	h.ProviderVersion = d.u32()
	h.NumberOfProcessors = d.u32()
	h.EndTime = int64(d.u64())
	h.TimerResolution = d.u32()
	h.MaximumFileSize = d.u32()
	h.LogFileMode = d.u32()
	h.BuffersWritten = d.u32()
	h.StartBuffers = d.u32()
	h.PointerSize = d.u32()
	h.EventsLost = d.u32()
	h.CPUSpeedMHz = d.u32()
	d.ptr() // LoggerName pointer, stale
	d.ptr() // LogFileName pointer, stale
	h.TimeZone.Bias = int32(d.u32())
	h.TimeZone.StandardName = d.fixedUTF16(32)
	h.TimeZone.StandardDate = d.systemTime()
	h.TimeZone.StandardBias = int32(d.u32())
	h.TimeZone.DaylightName = d.fixedUTF16(32)
	h.TimeZone.DaylightDate = d.systemTime()
	h.TimeZone.DaylightBias = int32(d.u32())
	d.skip(4) // alignment before BootTime
	h.BootTime = int64(d.u64())
	h.PerfFreq = int64(d.u64())
	h.StartTime = int64(d.u64())
	h.ReservedFlags = d.u32()
	h.BuffersLost = d.u32()
	if err := d.err("TRACE_LOGFILE_HEADER"); err != nil {
		return nil, err
	}
	if d.off < len(p) {
		h.LoggerName = d.utf16z()
		if d.off < len(p) {
			h.LogFileName = d.utf16z()
		}
		d.failed = false // names are optional and may be cut short
	}
	return h, nil
}

// decodeFixedUTF16 decodes a NUL-padded UTF-16LE array.
func decodeFixedUTF16(b []byte) string {
	n, _ := utf16le.Text(b)
	return utf16le.String(b[:n])
}
