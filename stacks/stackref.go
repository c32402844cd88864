package stacks

import "github.com/etwkit/etwkit/etw"

// FramesID names a list of frames interned by a [Correlator]: equal lists
// get equal IDs. 0 is the empty list.
type FramesID uint32

// InternFrames interns a list of frames, innermost first, and returns its
// ID. frames is not kept. A caller that decodes StackWalk Stack records
// itself interns each distinct frame list once and passes the ID with
// every record that carries it (see [Correlator.StackReference]).
func (c *Correlator) InternFrames(frames []uint64) FramesID {
	if len(frames) == 0 {
		return 0
	}
	return FramesID(c.internFrames(frames))
}

// StackRef is a decoded StackWalk Stack record (opcode 32) whose frames
// were interned with [Correlator.InternFrames]: the stack of the event
// logged by thread Thread of process Process at raw time EventTimeStamp.
type StackRef struct {
	EventTimeStamp int64
	Process        etw.PID
	Thread         etw.TID
	Frames         FramesID
	// PointerSize of the record (4 or 8; 0: the correlator's), which
	// tells kernel from user fragments.
	PointerSize int
}

// StackReference takes a decoded StackWalk Stack record, logged at raw time
// ts on processor cpu, as [Correlator.Event] would take the record itself:
// the two give the same stacks and statistics. s is not kept.
func (c *Correlator) StackReference(s *StackRef, cpu uint16, ts int64) {
	c.now = ts
	c.stats.StackRecords++
	c.attachStack(c.lookup(s.EventTimeStamp, s.Thread, cpu), s, cpu, ts)
	c.releaseDue()
}

// AwaitStack is [Correlator.Await] for an event followed at once by its
// Stack record s (logged at raw time stackTS on the same processor), then
// [Correlator.StackReference] for s: the pair most pool events of traces
// without stack caching come in. When s names this event (as for
// [Correlator.AwaitKernelKey]) and no earlier waiting event has its
// timestamp, the stack is attached without a search; the outcome is the
// same either way.
func (c *Correlator) AwaitStack(ts int64, pid etw.PID, tid etw.TID, cpu uint16, s *StackRef, stackTS int64) {
	if s.EventTimeStamp == ts && (s.Thread == tid || tid == etw.NoTID) && c.attachesAtOnce(ts, stackTS) {
		c.stats.StackRecords++
		pt, kernel := c.stackPart(s)
		p := c.queueWith(ts, pid, tid, cpu, stackTS)
		p.adopt(s.Process, s.Thread)
		if pt.kind != partNone {
			// setPart, with its kernel case (the part of most Stack
			// records that follow a pool event) inline: setPart itself
			// does not inline.
			if kernel {
				p.kernel = pt
			} else {
				c.setPart(p, pt, false)
			}
		}
		c.releaseDue()
		return
	}
	c.Await(ts, pid, tid, cpu)
	c.now = stackTS
	c.stats.StackRecords++
	c.attachStack(c.lookup(s.EventTimeStamp, s.Thread, cpu), s, cpu, stackTS) // in one step for the event just queued
	c.releaseDue()
}

// attachStack attaches the Stack record s, logged at raw time ts on
// processor cpu, to the waiting event p it belongs to (none when p is
// nil).
func (c *Correlator) attachStack(p *pending, s *StackRef, cpu uint16, ts int64) {
	if p == nil {
		c.stats.Unattached++
		return
	}
	c.stats.Attached++
	p.adopt(s.Process, s.Thread)
	pt, kernel := c.stackPart(s)
	if pt.kind != partNone {
		c.setPart(p, pt, kernel)
	}
	c.touched(p)
	if c.opts.KeepRecords {
		c.records = append(c.records, recordRef{opcode: 32, ts: s.EventTimeStamp, recordTS: ts, pid: s.Process, tid: s.Thread, cpu: cpu, p: pt})
	}
}

// stackPart returns the stack part of the Stack record s and whether it
// is the kernel part (its last frame is a kernel address); no part when s
// names no interned frames.
func (c *Correlator) stackPart(s *StackRef) (part, bool) {
	if s.Frames == 0 || int(s.Frames) > len(c.lastFrame) {
		return part{}, false
	}
	ptr := s.PointerSize
	if ptr == 0 {
		ptr = c.opts.PointerSize
	}
	return part{kind: partFrames, id: uint32(s.Frames)}, IsKernelAddress(c.lastFrame[s.Frames-1], ptr)
}
