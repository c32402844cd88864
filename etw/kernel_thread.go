package etw

// Thread is a decoded Thread Start (1), End (2), DCStart (3) or DCEnd (4)
// event, versions 0 to 4 in either pointer size. Fields that the event's
// version lacks are zero.
type Thread struct {
	// Opcode is 1, 2, 3 or 4.
	Opcode    uint8
	ProcessID PID
	ThreadID  TID
	// Stack bounds and start addresses (version 1 Start/DCStart, version 2
	// and later).
	StackBase      uint64
	StackLimit     uint64
	UserStackBase  uint64
	UserStackLimit uint64
	// StartAddr is set in versions 1 and 2; version 3 replaced it by
	// Affinity.
	StartAddr      uint64
	Affinity       uint64
	Win32StartAddr uint64
	// TebBase and SubProcessTag are set from version 2 on.
	TebBase       uint64
	SubProcessTag uint32
	// WaitMode is set in version 1 Start/DCStart events.
	WaitMode int8
	// Priorities and flags, version 3 and later.
	BasePriority uint8
	PagePriority uint8
	IoPriority   uint8
	ThreadFlags  uint8
	// ThreadName is set in version 4 (and in version 3 events that carry
	// it).
	ThreadName string
}

// DecodeThread decodes a Thread TypeGroup1 event, logged as a kernel record
// or as a classic record with the Thread class GUID.
func DecodeThread(ev *Event) (Thread, error) {
	c, op := classOf(ev)
	if c == nil || c.group != int(GroupThread) || op < opStart || op > opDCEnd {
		return Thread{}, errNotA("Thread Start/End/DCStart/DCEnd", ev)
	}
	size := ev.PointerSize()
	if size == 0 {
		return Thread{}, errNoPointerSize(ev)
	}
	var d decoder
	d.init(ev.Payload, size)
	t := Thread{Opcode: op}
	v := ev.Version
	if v == 0 {
		t.ThreadID = TID(d.u32f("TThreadId"))
		t.ProcessID = PID(d.u32f("ProcessId"))
	} else {
		t.ProcessID = PID(d.u32f("ProcessId"))
		t.ThreadID = TID(d.u32f("TThreadId"))
		if v >= 2 || op == opStart || op == opDCStart {
			t.StackBase = d.ptrf("StackBase")
			t.StackLimit = d.ptrf("StackLimit")
			t.UserStackBase = d.ptrf("UserStackBase")
			t.UserStackLimit = d.ptrf("UserStackLimit")
			if v >= 3 {
				t.Affinity = d.ptrf("Affinity")
			} else {
				t.StartAddr = d.ptrf("StartAddr")
			}
			t.Win32StartAddr = d.ptrf("Win32StartAddr")
			if v == 1 {
				t.WaitMode = int8(d.u8f("WaitMode"))
			} else {
				t.TebBase = d.ptrf("TebBase")
				t.SubProcessTag = d.u32f("SubProcessTag")
			}
			if v >= 3 {
				t.BasePriority = d.u8f("BasePriority")
				t.PagePriority = d.u8f("PagePriority")
				t.IoPriority = d.u8f("IoPriority")
				t.ThreadFlags = d.u8f("ThreadFlags")
				if v >= 4 || d.remaining() > 0 {
					t.ThreadName = d.utf16zf("ThreadName")
				}
			}
		}
	}
	if err := d.err(eventDesc(ev)); err != nil {
		return Thread{}, err
	}
	return t, nil
}
