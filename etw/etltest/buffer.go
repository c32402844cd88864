package etltest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// BufferHeaderSize is the size of a WMI_BUFFER_HEADER, the same for 32- and
// 64-bit traces.
const BufferHeaderSize = 72

// Buffer flags (ETW_BUFFER_FLAG_*), the BufferFlag field of a buffer header.
const (
	FlagFlushMarker     uint16 = 0x0001 // set on the header buffer and on the last buffer of a file
	FlagEventsLost      uint16 = 0x0002 // events were lost on this processor
	FlagBufferLost      uint16 = 0x0004 // a buffer was lost
	FlagRTBackupCorrupt uint16 = 0x0008
	FlagRTBackup        uint16 = 0x0010
	FlagProcIndex       uint16 = 0x0020 // ProcessorIndex is a 16-bit index (Windows 8 and later)
	FlagCompressed      uint16 = 0x0040 // the data after the header is XPRESS compressed
)

// Buffer types (ETW_BUFFER_TYPE_*), the BufferType field of a buffer header.
const (
	TypeGeneric uint16 = 0 // data buffers
	TypeRundown uint16 = 1
	TypeHeader  uint16 = 4 // the first buffer of a file
)

// BufferStateFlush is the State value of every buffer in a file (3, Flush).
// In the first buffer of a compressed file the same value names the XPRESS
// compression format.
const BufferStateFlush = 3

// BufferHeader is a WMI_BUFFER_HEADER as stored at the start of every
// buffer. Field comments give the byte offset.
type BufferHeader struct {
	BufferSize     uint32   // 0x00: bytes the buffer occupies in the file
	SavedOffset    uint32   // 0x04: end of the event data (after decompression)
	CurrentOffset  uint32   // 0x08: live logging cursor, volatile
	ReferenceCount int32    // 0x0C
	TimeStamp      int64    // 0x10: flush time, trace clock
	SequenceNumber int64    // 0x18: unique 0..N-1 across the file
	ClockFrequency uint64   // 0x20: union ClockType/Frequency/SlistEntry, volatile
	ProcessorIndex uint16   // 0x28: processor (ProcessorNumber u8 + Alignment u8 without FlagProcIndex)
	LoggerID       uint16   // 0x2A
	State          uint32   // 0x2C
	Offset         uint32   // 0x30: fill level at flush
	BufferFlag     uint16   // 0x34: Flag* bits
	BufferType     uint16   // 0x36: Type* values
	Reserved       [16]byte // 0x38: union ReferenceTime/list pointers, volatile
}

// ErrShortBuffer reports input shorter than a buffer header.
var ErrShortBuffer = errors.New("etltest: buffer header needs 72 bytes")

// ParseBufferHeader decodes the 72-byte buffer header at the start of b.
func ParseBufferHeader(b []byte) (BufferHeader, error) {
	var h BufferHeader
	if len(b) < BufferHeaderSize {
		return h, fmt.Errorf("%w, have %d", ErrShortBuffer, len(b))
	}
	le := binary.LittleEndian
	h.BufferSize = le.Uint32(b[0x00:])
	h.SavedOffset = le.Uint32(b[0x04:])
	h.CurrentOffset = le.Uint32(b[0x08:])
	h.ReferenceCount = int32(le.Uint32(b[0x0C:]))
	h.TimeStamp = int64(le.Uint64(b[0x10:]))
	h.SequenceNumber = int64(le.Uint64(b[0x18:]))
	h.ClockFrequency = le.Uint64(b[0x20:])
	h.ProcessorIndex = le.Uint16(b[0x28:])
	h.LoggerID = le.Uint16(b[0x2A:])
	h.State = le.Uint32(b[0x2C:])
	h.Offset = le.Uint32(b[0x30:])
	h.BufferFlag = le.Uint16(b[0x34:])
	h.BufferType = le.Uint16(b[0x36:])
	copy(h.Reserved[:], b[0x38:0x48])
	return h, nil
}

// AppendBinary appends the 72-byte wire form of h to b.
func (h *BufferHeader) AppendBinary(b []byte) ([]byte, error) {
	return h.appendTo(b), nil
}

func (h *BufferHeader) appendTo(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, h.BufferSize)
	b = le.AppendUint32(b, h.SavedOffset)
	b = le.AppendUint32(b, h.CurrentOffset)
	b = le.AppendUint32(b, uint32(h.ReferenceCount))
	b = le.AppendUint64(b, uint64(h.TimeStamp))
	b = le.AppendUint64(b, uint64(h.SequenceNumber))
	b = le.AppendUint64(b, h.ClockFrequency)
	b = le.AppendUint16(b, h.ProcessorIndex)
	b = le.AppendUint16(b, h.LoggerID)
	b = le.AppendUint32(b, h.State)
	b = le.AppendUint32(b, h.Offset)
	b = le.AppendUint16(b, h.BufferFlag)
	b = le.AppendUint16(b, h.BufferType)
	return append(b, h.Reserved[:]...)
}

// put writes the wire form of h into the first 72 bytes of b.
func (h *BufferHeader) put(b []byte) {
	h.appendTo(b[:0])
}

// Processor returns the processor number the header names: the 16-bit
// ProcessorIndex masked with ETW_PROCESSOR_INDEX_MASK when FlagProcIndex is
// set, else the ProcessorNumber byte.
func (h *BufferHeader) Processor() int {
	if h.BufferFlag&FlagProcIndex != 0 {
		return int(h.ProcessorIndex & 0x07FF)
	}
	return int(h.ProcessorIndex & 0xFF)
}

// DataEnd returns the end of the event data measured from the buffer start:
// SavedOffset, or Offset when SavedOffset is 0 (Windows 7 header buffers).
func (h *BufferHeader) DataEnd() uint32 {
	if h.SavedOffset != 0 {
		return h.SavedOffset
	}
	return h.Offset
}
