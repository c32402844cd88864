package stacks

import "github.com/etwkit/etwkit/etw"

// threadSpan says that a thread belonged to pid from raw time from on.
type threadSpan struct {
	from int64
	pid  etw.PID
}

// maxSpansPerThread bounds the history kept per thread ID: IDs are reused,
// and a live session may run for days.
const maxSpansPerThread = 8

// thread notes a Thread Start, End, DCStart or DCEnd event.
func (ms *Modules) thread(ev *etw.Event) {
	t, err := etw.DecodeThread(ev)
	if err != nil || t.ThreadID == etw.NoTID {
		return
	}
	from := ev.Timestamp
	switch t.Opcode {
	case 3: // DCStart: the thread runs since before the trace
		from = -Always
	case 2, 4: // End, DCEnd: they confirm the owner; they open nothing
		if _, ok := ms.ProcessOf(t.ThreadID, ev.Timestamp); ok {
			return
		}
		from = -Always
	}
	if ms.threads == nil {
		ms.threads = map[etw.TID][]threadSpan{}
	}
	spans := ms.threads[t.ThreadID]
	if n := len(spans); n > 0 && spans[n-1].pid == t.ProcessID {
		return
	}
	if len(spans) >= maxSpansPerThread {
		spans = append(spans[:0], spans[1:]...)
	}
	ms.threads[t.ThreadID] = append(spans, threadSpan{from: from, pid: t.ProcessID})
}

// ProcessOf returns the process that thread tid belonged to at raw time
// ts, from the Thread Start, DCStart, End and DCEnd events seen, and
// whether one is known. Thread IDs are reused: the latest owner whose
// span began at or before ts is the answer.
func (ms *Modules) ProcessOf(tid etw.TID, ts int64) (etw.PID, bool) {
	spans := ms.threads[tid]
	for i := len(spans) - 1; i >= 0; i-- {
		if spans[i].from <= ts {
			return spans[i].pid, true
		}
	}
	return etw.NoPID, false
}
