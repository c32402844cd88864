package etw

import (
	"encoding/binary"

	"github.com/etwkit/etwkit/internal/leanframe"
)

// Lean framing (see internal/leanframe): for the records of chosen hook ids
// under SYSTEM and PERFINFO headers, the reader sets only the fields a
// pipeline that decodes their payloads itself reads, instead of clearing
// the whole Event and framing every field. On the generated 200 MB trace of
// full stack walks that took poolleak from 2,617 to 2,409 million
// instructions (cachegrind), the most of it framing (issue 19).

func init() {
	leanframe.SetLean = func(r any, hooks []uint16) { r.(*Reader).setLean(hooks) }
	leanframe.Complete = func(ev any) { ev.(*Event).complete() }
}

// leanHooks is a set of hook ids, one bit each.
type leanHooks [1 << 16 / 64]uint64

func (h *leanHooks) has(id HookID) bool { return h[id>>6]&(1<<(id&63)) != 0 }

// setLean turns lean framing on for the given hook ids, or off for none.
// Turning it off completes the events the streams hold framed lean, so
// that none is delivered lean afterwards.
func (r *Reader) setLean(hooks []uint16) {
	if len(hooks) == 0 {
		r.lean = nil
		for _, s := range r.streams {
			if s.has {
				s.ev.complete()
			}
		}
		return
	}
	r.lean = new(leanHooks)
	for _, id := range hooks {
		r.lean[id>>6] |= 1 << (id & 63)
	}
}

// frameLean frames the record at data[p:end] as a lean Event when it is a
// record of a hook in lean with a SYSTEM or PERFINFO header (neither PEBS
// index nor PMC counters) that frameRecord would frame without an error,
// and returns its size; otherwise it returns 0 and leaves ev as it was. It
// sets Header, Hook, PID, TID, Timestamp, Payload and the record's bytes,
// each as frameRecord does; the caller sets the buffer-derived fields.
func frameLean(ev *Event, lean *leanHooks, data []byte, p, end int) int {
	if end-p < 16 {
		return 0
	}
	b := data[p:end]
	if b[3]&(markerTraceHeader|markerEventTrace) != markerTraceHeader|markerEventTrace {
		return 0
	}
	hook := HookID(binary.LittleEndian.Uint16(b[6:]))
	if !lean.has(hook) {
		return 0
	}
	size := int(binary.LittleEndian.Uint16(b[4:]))
	if size > len(b) {
		return 0
	}
	htype := HeaderType(b[2])
	var hs int
	switch htype {
	case HeaderSystem32, HeaderSystem64:
		hs = 32
		if size < hs {
			return 0
		}
		ev.TID = TID(binary.LittleEndian.Uint32(b[8:]))
		ev.PID = PID(binary.LittleEndian.Uint32(b[12:]))
		ev.Timestamp = int64(binary.LittleEndian.Uint64(b[16:]))
	case HeaderPerfInfo32, HeaderPerfInfo64:
		hs = 16
		if size < hs || binary.LittleEndian.Uint16(b)&(perfInfoPEBSFlag|perfInfoPMCMask) != 0 {
			return 0
		}
		ev.TID, ev.PID = NoTID, NoPID
		ev.Timestamp = int64(binary.LittleEndian.Uint64(b[8:]))
	default:
		return 0
	}
	ev.Header, ev.Hook, ev.lean = htype, hook, true
	ev.raw = b[:size:size]
	ev.Payload = b[hs:size:size]
	return size
}

// complete frames a lean Event in full, keeping its buffer-derived fields.
func (e *Event) complete() {
	if !e.lean {
		return
	}
	cpu, buf, off, clock, inComp := e.Processor, e.Buffer, e.Offset, e.clock, e.inComp
	// frameLean took the record only if frameRecord frames it without an
	// error.
	frameRecord(e, e.raw, 0, len(e.raw))
	e.Processor, e.Buffer, e.Offset, e.clock, e.inComp = cpu, buf, off, clock, inComp
}

// nextLean is ReadEvent for a lean reader, with its most common case in
// line: the current stream's next record, in the buffer at hand, framed
// lean. Anything else (the first call, an error, a stream to fill, a new
// buffer, a record not framed lean) goes to ReadEvent before any state
// changes, and this case does what ReadEvent and fill would do.
func (r *Reader) nextLean() (*Event, error) {
	s := r.cur
	if r.lean == nil || s == nil || !s.has || len(r.toFill) != 0 || r.err != nil || s.bi < 0 || s.pos >= s.end {
		return r.ReadEvent()
	}
	size := frameLean(&s.ev, r.lean, s.data, s.pos, s.end)
	if size == 0 {
		return r.ReadEvent()
	}
	r.place(s)
	s.pos += (size + 7) &^ 7
	if len(r.h) == 0 || s.ev.Timestamp <= r.h[0].ts {
		// Ties keep the current stream.
		r.stats.Events++
		return &s.ev, nil
	}
	return r.deliver(r.h.replaceTop(s))
}
