package etltest

import (
	"errors"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/etw"
)

// ReemitOptions configures Reemit.
type ReemitOptions struct {
	// Compress writes XPRESS-compressed data buffers (the source may be
	// compressed or not).
	Compress bool
	// Layout keeps the source's buffer layout: the same records in the
	// same buffers, the buffers in the same file order, and the buffer
	// header fields that events cannot tell (sequence number, flush time,
	// logger id, processor index as stored, the EVENTS_LOST/BUFFER_LOST
	// flags, the header buffer's Offset and a zero SavedOffset of Windows 7
	// header buffers). The writer computes every other field. Without
	// Layout the events are repacked into fresh buffers.
	Layout bool
	// BufferSize overrides the data buffer size (default: the source
	// session's buffer size, or the largest source buffer when larger).
	BufferSize int
}

// Reemit reads every event of the ETL data in src (size bytes) through an
// etw reader in file order and writes them again with a Writer: the
// records are copied as delivered (Event.Raw), into the buffers of their
// processors. It returns the number of events written. Format errors of
// the source stop the copy.
func Reemit(dst io.Writer, src io.ReaderAt, size int64, o ReemitOptions) (int, error) {
	r, err := etw.NewReader(src, size)
	if err != nil {
		return 0, err
	}
	if err := r.SetOrder(etw.FileOrder); err != nil {
		return 0, err
	}
	hdr := r.Header()
	bufs := r.Buffers()
	if len(bufs) == 0 {
		return 0, fmt.Errorf("etltest: source has no buffers")
	}
	bs := o.BufferSize
	maxProc := 0
	if bs == 0 {
		bs = int(hdr.BufferSize)
		for i := 1; i < len(bufs); i++ {
			b := &bufs[i]
			bs = max(bs, int(b.SavedOffset))
			if !b.Compressed() {
				bs = max(bs, int(b.Size))
			}
		}
		bs = max(align8(bs), minBufferSize)
	}
	for i := range bufs {
		maxProc = max(maxProc, int(bufs[i].Processor))
	}
	raw := make([]BufferHeader, len(bufs))
	var hb [BufferHeaderSize]byte
	for i := range bufs {
		if _, err := src.ReadAt(hb[:], bufs[i].FileOffset); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		raw[i], _ = ParseBufferHeader(hb[:])
	}
	wo := Options{
		PointerSize:        int(hdr.PointerSize),
		NumberOfProcessors: max(int(hdr.NumberOfProcessors), maxProc+1),
		BufferSize:         bs,
		HeaderBufferSize:   max(align8(int(bufs[0].Size)), 512),
		Compress:           o.Compress,
		LoggerName:         hdr.LoggerName,
		LogFileName:        hdr.LogFileName,
		LogFileMode:        hdr.LogFileMode &^ etw.ModeCompressed,
		// The source's header-buffer records are copied as they are.
		NoPartitionInfo: true,
	}
	if wo.PointerSize != 4 {
		wo.PointerSize = 8
	}
	if wo.NumberOfProcessors > maxProcessors {
		wo.NumberOfProcessors = maxProcessors
	}
	if o.Layout {
		wo.SplitBySource = true
		wo.FlushOrder = SortedBy(func(a, b *BufferInfo) bool { return a.Source < b.Source })
		wo.OnBuffer = func(bi *BufferInfo) {
			if bi.Source < 0 || bi.Source >= len(raw) {
				return
			}
			s := &raw[bi.Source]
			h := &bi.Header
			h.SequenceNumber = s.SequenceNumber
			h.TimeStamp = s.TimeStamp
			h.LoggerID = s.LoggerID
			h.ProcessorIndex = s.ProcessorIndex
			const kept = FlagEventsLost | FlagBufferLost | FlagProcIndex
			h.BufferFlag = h.BufferFlag&^kept | s.BufferFlag&kept
			if bi.Source == 0 {
				h.Offset = s.Offset
				if s.SavedOffset == 0 {
					h.SavedOffset = 0
					h.CurrentOffset = s.CurrentOffset
				}
			}
		}
	}
	w, err := NewWriter(dst, wo)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		if err := w.WriteEvent(ev); err != nil {
			return n, fmt.Errorf("etltest: event %d (buffer %d): %w", n, ev.Buffer, err)
		}
		n++
	}
	return n, w.Close()
}
