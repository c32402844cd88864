package etw

import "encoding/binary"

// bufferHeaderSize is the size of WMI_BUFFER_HEADER.
const bufferHeaderSize = 72

// BufferFlag holds ETW_BUFFER_FLAG_* bits of a buffer header.
type BufferFlag uint16

// Buffer flags.
const (
	BufferFlushMarker    BufferFlag = 0x0001 // ETW_BUFFER_FLAG_FLUSH_MARKER
	BufferEventsLost     BufferFlag = 0x0002 // ETW_BUFFER_FLAG_EVENTS_LOST
	BufferBufferLost     BufferFlag = 0x0004 // ETW_BUFFER_FLAG_BUFFER_LOST
	BufferRTBackupCorupt BufferFlag = 0x0008 // ETW_BUFFER_FLAG_RTBACKUP_CORRUPT
	BufferRTBackup       BufferFlag = 0x0010 // ETW_BUFFER_FLAG_RTBACKUP
	BufferProcIndex      BufferFlag = 0x0020 // ETW_BUFFER_FLAG_PROC_INDEX
	BufferCompressed     BufferFlag = 0x0040 // ETW_BUFFER_FLAG_COMPRESSED
)

// BufferType is ETW_BUFFER_TYPE_* of a buffer header.
type BufferType uint16

// Buffer types.
const (
	BufferGeneric     BufferType = 0 // ETW_BUFFER_TYPE_GENERIC, data buffers
	BufferRundown     BufferType = 1 // ETW_BUFFER_TYPE_RUNDOWN
	BufferCtxSwap     BufferType = 2 // ETW_BUFFER_TYPE_CTX_SWAP
	BufferRefTime     BufferType = 3 // ETW_BUFFER_TYPE_REFTIME
	BufferHeader      BufferType = 4 // ETW_BUFFER_TYPE_HEADER, the first buffer
	BufferBatched     BufferType = 5 // ETW_BUFFER_TYPE_BATCHED
	BufferEmptyMarker BufferType = 6 // ETW_BUFFER_TYPE_EMPTY_MARKER
	BufferDbgInfo     BufferType = 7 // ETW_BUFFER_TYPE_DBG_INFO
)

// ProcessorIndexMask masks the processor index of a buffer context
// (ETW_PROCESSOR_INDEX_MASK). Older files store an 8-bit processor number
// followed by an alignment byte, which the mask also handles.
const ProcessorIndexMask = 0x07FF

// BufferInfo describes one buffer of a file, from its WMI_BUFFER_HEADER.
type BufferInfo struct {
	Index       int        // position in the file, 0 = header buffer
	FileOffset  int64      // file offset of the buffer header
	Size        uint32     // BufferSize: bytes the buffer occupies in the file
	SavedOffset uint32     // end of valid data (after decompression)
	FlushOffset uint32     // the Offset field (0x30)
	Timestamp   int64      // flush time stamp, trace clock
	Sequence    int64      // SequenceNumber
	Processor   uint16     // processor index, masked
	LoggerID    uint16     // ClientContext.LoggerId
	State       uint32     // ETW_BUFFER_STATE (compression format in the first buffer)
	Flags       BufferFlag // BufferFlag
	Type        BufferType // BufferType
	// Avail is the number of bytes of the buffer present in the input; it
	// is less than Size only for a buffer cut off by the end of the file.
	Avail uint32
}

// Compressed reports whether the buffer's data is compressed.
func (b *BufferInfo) Compressed() bool { return b.Flags&BufferCompressed != 0 }

// DataEnd returns the end of the buffer's valid data measured from the
// buffer start: SavedOffset, or the Offset field when SavedOffset is 0
// (Windows 7 era header buffers).
func (b *BufferInfo) DataEnd() uint32 {
	if b.SavedOffset != 0 {
		return b.SavedOffset
	}
	return b.FlushOffset
}

func parseBufferHeader(b []byte, bi *BufferInfo) {
	bi.Size = binary.LittleEndian.Uint32(b[0x00:])
	bi.SavedOffset = binary.LittleEndian.Uint32(b[0x04:])
	bi.Timestamp = int64(binary.LittleEndian.Uint64(b[0x10:]))
	bi.Sequence = int64(binary.LittleEndian.Uint64(b[0x18:]))
	bi.Processor = binary.LittleEndian.Uint16(b[0x28:]) & ProcessorIndexMask
	bi.LoggerID = binary.LittleEndian.Uint16(b[0x2A:])
	bi.State = binary.LittleEndian.Uint32(b[0x2C:])
	bi.FlushOffset = binary.LittleEndian.Uint32(b[0x30:])
	bi.Flags = BufferFlag(binary.LittleEndian.Uint16(b[0x34:]))
	bi.Type = BufferType(binary.LittleEndian.Uint16(b[0x36:]))
}
