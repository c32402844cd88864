package stacks

import "github.com/etwkit/etwkit/etw"

// Source says where the process or thread attributed to an event came
// from.
type Source uint8

// Sources of an attribution.
const (
	SourceNone    Source = iota // not known
	SourceHeader                // the event's own header
	SourcePayload               // the event's payload (SampledProfile ThreadId, HardFault TThreadId, CSwitch NewThreadId; Image and Process ProcessId)
	SourceStack                 // the StackWalk record of the event (StackProcess, StackThread)
	SourceThreads               // the thread-to-process table of Thread events (Options.ProcessOf)
)

// String returns "header", "payload", "stack", "threads" or "".
func (s Source) String() string {
	switch s {
	case SourceHeader:
		return "header"
	case SourcePayload:
		return "payload"
	case SourceStack:
		return "stack"
	case SourceThreads:
		return "threads"
	}
	return ""
}

// Attribution is the process and thread of an emitted event, as the
// correlator worked them out. For an event whose header names them both
// are SourceHeader. PID is [etw.NoPID] (and TID [etw.NoTID]) when nothing
// named them.
type Attribution struct {
	PID     etw.PID
	TID     etw.TID
	PIDFrom Source
	TIDFrom Source
}

// Attributed returns the attribution of the event being emitted. It is
// meant to be called from Options.Emit; elsewhere it returns the zero
// Attribution.
func (c *Correlator) Attributed() Attribution {
	if c.cur == 0 || c.cur > len(c.queue) {
		return Attribution{}
	}
	p := &c.queue[c.cur-1]
	a := Attribution{PID: p.pid, TID: p.tid, PIDFrom: p.pidFrom, TIDFrom: p.tidFrom}
	if a.PIDFrom == SourceNone && a.PID != etw.NoPID {
		a.PIDFrom = SourceHeader
	}
	if a.TIDFrom == SourceNone && a.TID != etw.NoTID {
		a.TIDFrom = SourceHeader
	}
	return a
}

// attribute gives a wanted event whose header and stack records named no
// process the process of its thread, when Options.ProcessOf knows it, and
// counts where the process of such events came from.
func (c *Correlator) attribute(p *pending) {
	switch p.pidFrom {
	case SourceStack:
		c.stats.ProcessFromStack++
		return
	case SourcePayload:
		c.stats.ProcessFromPayload++
		return
	}
	if p.tid != etw.NoTID && c.opts.ProcessOf != nil {
		if pid, ok := c.opts.ProcessOf(p.tid, p.ts); ok {
			p.pid, p.pidFrom = pid, SourceThreads
			c.stats.ProcessFromThreads++
			return
		}
	}
	c.stats.ProcessUnknown++
}

// processOfPayload returns the process a kernel Image or Process event
// names in its payload (the process the image is mapped in, the process
// started or ended), for events whose header names none.
func processOfPayload(ev *etw.Event) (etw.PID, bool) {
	if !ev.IsKernel() {
		return etw.NoPID, false
	}
	switch {
	case ev.Hook == etw.HookImageLoad || ev.Group() == etw.GroupImage:
		if im, err := etw.DecodeImage(ev); err == nil {
			return im.ProcessID, true
		}
	case ev.Group() == etw.GroupProcess:
		if pr, err := etw.DecodeProcess(ev); err == nil {
			return pr.ProcessID, true
		}
	}
	return etw.NoPID, false
}
