package etw

// ImageID is a KernelTraceControl ImageID event (opcode 0,
// DBGID_LOG_TYPE_IMAGEID), injected by xperf/WPR/PerfView merges. It has the
// same raw timestamp as the Image event it describes; match it on timestamp
// and ImageBase (its ProcessID is usually 0).
type ImageID struct {
	ImageBase        uint64
	ImageSize        uint64
	ProcessID        PID
	TimeDateStamp    uint32
	OriginalFileName string
}

// DbgID is a KernelTraceControl DbgID_RSDS (opcode 36) or DbgID_ILRSDS (37)
// event: the CodeView identity of an image's PDB.
type DbgID struct {
	// Opcode is 36 (RSDS) or 37 (ILRSDS, the IL PDB of an NGEN image).
	Opcode    uint8
	ImageBase uint64
	ProcessID PID
	// GUID (GuidSig) and Age identify the PDB on a symbol server.
	GUID        GUID
	Age         uint32
	PDBFileName string
}

func isKTC(ev *Event) (uint8, bool) {
	c, op := classOf(ev)
	return op, c != nil && c.guid == KernelTraceControlGUID
}

// DecodeImageID decodes a KernelTraceControl ImageID event.
func DecodeImageID(ev *Event) (ImageID, error) {
	op, ok := isKTC(ev)
	if !ok || op != opImageID {
		return ImageID{}, errNotA("KernelTraceControl/ImageID", ev)
	}
	size := ev.PointerSize()
	if size == 0 {
		return ImageID{}, errNoPointerSize(ev)
	}
	var d decoder
	d.init(ev.Payload, size)
	var r ImageID
	r.ImageBase = d.ptrf("ImageBase")
	r.ImageSize = d.ptrf("ImageSize")
	r.ProcessID = PID(d.u32f("ProcessId"))
	r.TimeDateStamp = d.u32f("TimeDateStamp")
	r.OriginalFileName = d.utf16zf("OriginalFileName")
	if err := d.err(eventDesc(ev)); err != nil {
		return ImageID{}, err
	}
	return r, nil
}

// DecodeDbgID decodes a KernelTraceControl DbgID_RSDS or DbgID_ILRSDS
// event.
func DecodeDbgID(ev *Event) (DbgID, error) {
	op, ok := isKTC(ev)
	if !ok || (op != opDbgIDRSDS && op != opDbgIDILRSDS) {
		return DbgID{}, errNotA("KernelTraceControl/DbgID_RSDS", ev)
	}
	size := ev.PointerSize()
	if size == 0 {
		return DbgID{}, errNoPointerSize(ev)
	}
	var d decoder
	d.init(ev.Payload, size)
	r := DbgID{Opcode: op}
	r.ImageBase = d.ptrf("ImageBase")
	r.ProcessID = PID(d.u32f("ProcessId"))
	r.GUID = d.guidf("GuidSig")
	r.Age = d.u32f("Age")
	r.PDBFileName = d.ansizf("PdbFileName")
	if err := d.err(eventDesc(ev)); err != nil {
		return DbgID{}, err
	}
	return r, nil
}

// HeaderExtension is an EventTrace Extension (type 5) or EndExtension
// (type 32) event: the kernel group masks in effect (a PERFINFO_GROUPMASK)
// and the kernel event version.
type HeaderExtension struct {
	// Opcode is 5 (Extension) or 32 (EndExtension).
	Opcode     uint8
	GroupMasks [8]uint32
	// KernelEventVersion is 0 when the payload stops after the masks.
	KernelEventVersion uint32
}

// PERFINFO_GROUPMASK bits used by pool and stack tracing (mask index and
// bit).
const (
	// PerfPool is PERF_POOL: GroupMasks[1] bit 0x40 enables pool events.
	PerfPool = 0x40
)

// PoolTracing reports whether the masks enable pool events (PERF_POOL).
func (h *HeaderExtension) PoolTracing() bool { return h.GroupMasks[1]&PerfPool != 0 }

// DecodeHeaderExtension decodes an EventTrace Extension or EndExtension
// event.
func DecodeHeaderExtension(ev *Event) (HeaderExtension, error) {
	c, op := classOf(ev)
	if c == nil || c.group != int(GroupHeader) || (op != opExtension && op != opEndExtension) {
		return HeaderExtension{}, errNotA("EventTrace/Extension", ev)
	}
	var d decoder
	d.init(ev.Payload, ev.PointerSize())
	h := HeaderExtension{Opcode: op}
	names := [8]string{"GroupMask1", "GroupMask2", "GroupMask3", "GroupMask4", "GroupMask5", "GroupMask6", "GroupMask7", "GroupMask8"}
	for i := range h.GroupMasks {
		h.GroupMasks[i] = d.u32f(names[i])
	}
	if d.remaining() > 0 {
		h.KernelEventVersion = d.u32f("KernelEventVersion")
	}
	if err := d.err(eventDesc(ev)); err != nil {
		return HeaderExtension{}, err
	}
	return h, nil
}
