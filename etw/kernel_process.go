package etw

// ProcessFlags is the Flags word of Process events from version 4 on
// (ETW_PROCESS_EVENT_FLAG_* in ntwmi.h).
type ProcessFlags uint32

// Process flags.
const (
	ProcessApplicationID ProcessFlags = 0x1 // has an application id / package name
	ProcessWOW64         ProcessFlags = 0x2 // 32-bit process on 64-bit Windows
	ProcessProtected     ProcessFlags = 0x4 // protected process
	ProcessPackaged      ProcessFlags = 0x8 // packaged (AppX) process
)

// Process is a decoded Process Start (1), End (2), DCStart (3), DCEnd (4) or
// Defunct (39) event, versions 0 to 5 in either pointer size. Fields that an
// older version lacks are zero.
type Process struct {
	// Opcode is 1, 2, 3, 4 or 39.
	Opcode uint8
	// UniqueProcessKey is the EPROCESS address (version 2 and later).
	UniqueProcessKey uint64
	// ProcessID and ParentID are pointer-sized in version 0; their low 32
	// bits are kept.
	ProcessID PID
	ParentID  PID
	// SessionID is 0xFFFFFFFF for the Idle and System processes (version 1
	// and later).
	SessionID uint32
	// ExitStatus is the NTSTATUS exit code (259, STATUS_PENDING, while the
	// process runs); version 1 and later.
	ExitStatus int32
	// DirectoryTableBase is the page directory base (PageDirectoryBase in
	// version 1; version 3 and later).
	DirectoryTableBase uint64
	// Flags is set from version 4 on.
	Flags ProcessFlags
	// UserSID is the process token's user SID in string form ("S-1-5-18"),
	// or "" when the event carries none.
	UserSID string
	// ImageFileName is the image name as an 8-bit string ("svchost.exe").
	ImageFileName string
	// CommandLine (version 2 and later), PackageFullName and ApplicationID
	// (version 4 and later, when present).
	CommandLine     string
	PackageFullName string
	ApplicationID   string
	// ExitTime is the FILETIME of the exit (version 5, Defunct).
	ExitTime int64
}

// IsWOW64 reports whether the Flags say the process is a 32-bit process on
// 64-bit Windows. Versions before 4 have no Flags and report false.
func (p *Process) IsWOW64() bool { return p.Flags&ProcessWOW64 != 0 }

// DecodeProcess decodes a Process TypeGroup1 event, logged as a kernel
// record or as a classic record with the Process class GUID. The variable
// size UserSID is skipped (and kept in string form).
func DecodeProcess(ev *Event) (Process, error) {
	c, op := classOf(ev)
	if c == nil || c.group != int(GroupProcess) || !(op >= opStart && op <= opDCEnd || op == opDefunct) {
		return Process{}, errNotA("Process Start/End/DCStart/DCEnd/Defunct", ev)
	}
	size := ev.PointerSize()
	if size == 0 {
		return Process{}, errNoPointerSize(ev)
	}
	var d decoder
	d.init(ev.Payload, size)
	p := Process{Opcode: op}
	v := ev.Version
	switch v {
	case 0:
		p.ProcessID = PID(d.ptrf("ProcessId"))
		p.ParentID = PID(d.ptrf("ParentId"))
	case 1:
		p.DirectoryTableBase = d.ptrf("PageDirectoryBase")
	default:
		p.UniqueProcessKey = d.ptrf("UniqueProcessKey")
	}
	if v >= 1 {
		p.ProcessID = PID(d.u32f("ProcessId"))
		p.ParentID = PID(d.u32f("ParentId"))
		p.SessionID = d.u32f("SessionId")
		p.ExitStatus = int32(d.u32f("ExitStatus"))
	}
	if v >= 3 {
		p.DirectoryTableBase = d.ptrf("DirectoryTableBase")
	}
	if v >= 4 {
		p.Flags = ProcessFlags(d.u32f("Flags"))
	}
	p.UserSID = FormatSID(d.sidf("UserSID"))
	p.ImageFileName = d.ansizf("ImageFileName")
	if v >= 2 {
		p.CommandLine = d.utf16zf("CommandLine")
	}
	if v >= 4 && d.remaining() > 0 {
		p.PackageFullName = d.utf16zf("PackageFullName")
		if v >= 5 || d.remaining() > 0 {
			p.ApplicationID = d.utf16zf("ApplicationId")
		}
	}
	if v >= 5 && d.remaining() > 0 {
		p.ExitTime = int64(d.u64f("ExitTime"))
	}
	if err := d.err(eventDesc(ev)); err != nil {
		return Process{}, err
	}
	return p, nil
}
