package pe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/etwkit/etwkit/internal/bounded"
)

// Limits on counts and lengths read from an image. They are far above what
// real images use and keep hostile inputs from driving large allocations.
const (
	maxSections     = 8192    // COFF NumberOfSections (the loader accepts up to 96 on old systems, 65535 on new)
	maxOptHeader    = 4096    // SizeOfOptionalHeader
	maxExports      = 1 << 16 // export address table entries and name pointers (ordinals are 16-bit)
	maxNameLen      = 4096    // an export name, forwarder string or DLL name
	maxDebugEntries = 64      // IMAGE_DEBUG_DIRECTORY entries
	maxCodeViewLen  = 64 << 10
	maxPDBPathLen   = 4096
	maxLfanew       = 1 << 24 // e_lfanew; real images keep it under a few KiB
)

// Machine is the COFF machine type (IMAGE_FILE_MACHINE_*).
type Machine uint16

// Machine types the symbolizer cares about.
const (
	MachineUnknown Machine = 0x0
	MachineI386    Machine = 0x14c  // IMAGE_FILE_MACHINE_I386 (x86)
	MachineARMNT   Machine = 0x1c4  // IMAGE_FILE_MACHINE_ARMNT (Thumb-2)
	MachineAMD64   Machine = 0x8664 // IMAGE_FILE_MACHINE_AMD64 (x64)
	MachineARM64   Machine = 0xaa64 // IMAGE_FILE_MACHINE_ARM64
)

// String returns "x86", "x64", "arm64", "arm" or the hex value.
func (m Machine) String() string {
	switch m {
	case MachineI386:
		return "x86"
	case MachineAMD64:
		return "x64"
	case MachineARM64:
		return "arm64"
	case MachineARMNT:
		return "arm"
	}
	return fmt.Sprintf("Machine(%#x)", uint16(m))
}

// Data directory indices (IMAGE_DIRECTORY_ENTRY_*).
const (
	DirExport = 0
	DirImport = 1
	DirDebug  = 6
	numDirs   = 16
)

// DataDirectory is one optional-header data directory entry.
type DataDirectory struct {
	VirtualAddress uint32 // RVA of the table
	Size           uint32 // size of the table in bytes
}

// Section is one section header.
type Section struct {
	Name            string // up to 8 bytes, trailing NULs removed ("/123" long names are kept as is)
	VirtualAddress  uint32 // RVA of the section
	VirtualSize     uint32 // size in memory
	Offset          uint32 // PointerToRawData: file offset of the section data
	Size            uint32 // SizeOfRawData: bytes of section data in the file
	Characteristics uint32 // IMAGE_SCN_* flags
}

// contains reports whether rva lies inside the section's memory range.
func (s *Section) contains(rva uint32) bool {
	n := s.VirtualSize
	if n == 0 {
		n = s.Size
	}
	return rva >= s.VirtualAddress && rva-s.VirtualAddress < n
}

// File is a parsed PE image. The exported fields are filled by [NewFile].
type File struct {
	Machine         Machine
	Characteristics uint16 // COFF IMAGE_FILE_* flags
	TimeDateStamp   uint32 // link time (a hash for reproducible builds); part of the symbol-server key
	Is64            bool   // optional header is PE32+
	ImageBase       uint64 // preferred load address
	SizeOfImage     uint32 // size in memory; part of the symbol-server key
	SizeOfHeaders   uint32
	CheckSum        uint32
	Subsystem       uint16 // IMAGE_SUBSYSTEM_* (1 = native, for drivers)
	Sections        []Section
	Dirs            [numDirs]DataDirectory // data directories; missing ones are zero

	r    io.ReaderAt
	size int64

	expOnce sync.Once
	exports []Export // sorted by RVA, then named before unnamed, then ordinal
	lookup  []int32  // indices into exports of non-forwarder entries, in RVA order
	expErr  error
}

// IsDLL reports whether the COFF characteristics mark the image as a DLL.
func (f *File) IsDLL() bool { return f.Characteristics&0x2000 != 0 }

// NewFile parses the headers of the PE image in r, which holds size bytes.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, formatErr(-1, ErrCorrupt, "negative input size %d", size)
	}
	f := &File{r: r, size: size}
	dos := make([]byte, 64)
	if err := f.readFull(dos, 0, "DOS header"); err != nil {
		if errors.Is(err, ErrTruncated) {
			return nil, formatErr(0, fmt.Errorf("%w (%w)", ErrNotPE, ErrTruncated), "input of %d bytes is too short for a DOS header", size)
		}
		return nil, err
	}
	if dos[0] != 'M' || dos[1] != 'Z' {
		return nil, formatErr(0, ErrNotPE, "missing MZ signature")
	}
	lfanew := int64(binary.LittleEndian.Uint32(dos[0x3c:]))
	if lfanew > maxLfanew {
		return nil, formatErr(0x3c, ErrCorrupt, "e_lfanew %#x exceeds limit %#x", lfanew, maxLfanew)
	}
	var hdr [24]byte
	if err := f.readFull(hdr[:], lfanew, "PE signature and COFF header"); err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:4], []byte{'P', 'E', 0, 0}) {
		return nil, formatErr(lfanew, ErrNotPE, "missing PE signature")
	}
	coff := hdr[4:]
	f.Machine = Machine(binary.LittleEndian.Uint16(coff[0:]))
	nsect := int(binary.LittleEndian.Uint16(coff[2:]))
	f.TimeDateStamp = binary.LittleEndian.Uint32(coff[4:])
	optSize := int(binary.LittleEndian.Uint16(coff[16:]))
	f.Characteristics = binary.LittleEndian.Uint16(coff[18:])
	if nsect > maxSections {
		return nil, formatErr(lfanew+6, ErrCorrupt, "NumberOfSections %d exceeds limit %d", nsect, maxSections)
	}
	if optSize > maxOptHeader {
		return nil, formatErr(lfanew+20, ErrCorrupt, "SizeOfOptionalHeader %d exceeds limit %d", optSize, maxOptHeader)
	}
	optOff := lfanew + 24
	if optSize < 2 {
		return nil, formatErr(optOff, ErrNotPE, "no optional header (SizeOfOptionalHeader %d)", optSize)
	}
	opt := make([]byte, optSize)
	if err := f.readFull(opt, optOff, "optional header"); err != nil {
		return nil, err
	}
	if err := f.parseOptional(opt, optOff); err != nil {
		return nil, err
	}
	secOff := optOff + int64(optSize)
	sh := make([]byte, 40*nsect)
	if err := f.readFull(sh, secOff, "section table"); err != nil {
		return nil, err
	}
	f.Sections = make([]Section, nsect)
	for i := range f.Sections {
		b := sh[40*i : 40*i+40]
		f.Sections[i] = Section{
			Name:            string(bytes.TrimRight(b[:8], "\x00")),
			VirtualSize:     binary.LittleEndian.Uint32(b[8:]),
			VirtualAddress:  binary.LittleEndian.Uint32(b[12:]),
			Size:            binary.LittleEndian.Uint32(b[16:]),
			Offset:          binary.LittleEndian.Uint32(b[20:]),
			Characteristics: binary.LittleEndian.Uint32(b[36:]),
		}
	}
	return f, nil
}

func (f *File) parseOptional(opt []byte, off int64) error {
	magic := binary.LittleEndian.Uint16(opt)
	var dirOff, minSize int
	switch magic {
	case 0x10b: // PE32
		minSize, dirOff = 96, 96
	case 0x20b: // PE32+
		minSize, dirOff = 112, 112
		f.Is64 = true
	default:
		return formatErr(off, ErrNotPE, "optional header magic %#x is neither PE32 nor PE32+", magic)
	}
	if len(opt) < minSize {
		return formatErr(off, ErrTruncated, "optional header of %d bytes, need %d", len(opt), minSize)
	}
	if f.Is64 {
		f.ImageBase = binary.LittleEndian.Uint64(opt[24:])
	} else {
		f.ImageBase = uint64(binary.LittleEndian.Uint32(opt[28:]))
	}
	f.SizeOfImage = binary.LittleEndian.Uint32(opt[56:])
	f.SizeOfHeaders = binary.LittleEndian.Uint32(opt[60:])
	f.CheckSum = binary.LittleEndian.Uint32(opt[64:])
	f.Subsystem = binary.LittleEndian.Uint16(opt[68:])
	ndirs := binary.LittleEndian.Uint32(opt[dirOff-4:])
	if ndirs > numDirs {
		// The loader ignores entries past the sixteenth; so do we.
		ndirs = numDirs
	}
	for i := 0; i < int(ndirs); i++ {
		p := dirOff + 8*i
		if p+8 > len(opt) {
			break // directories beyond the optional header are absent
		}
		f.Dirs[i] = DataDirectory{
			VirtualAddress: binary.LittleEndian.Uint32(opt[p:]),
			Size:           binary.LittleEndian.Uint32(opt[p+4:]),
		}
	}
	return nil
}

// readFull reads len(b) bytes at off, reporting a truncation as a
// [FormatError] naming what was read.
func (f *File) readFull(b []byte, off int64, what string) error {
	switch past, err := bounded.ReadAt(f.r, f.size, b, off, ErrTruncated); {
	case past:
		return formatErr(off, err, "%s (%d bytes) extends past end of input (%d bytes)", what, len(b), f.size)
	case err != nil:
		return formatErr(off, err, "reading %s", what)
	}
	return nil
}

// Section returns the section whose memory range contains rva, or nil.
func (f *File) Section(rva uint32) *Section {
	for i := range f.Sections {
		if f.Sections[i].contains(rva) {
			return &f.Sections[i]
		}
	}
	return nil
}

// Offset maps an RVA to a file offset. It reports false when the RVA lies
// in no section, or in the part of a section that is not backed by file
// data (uninitialized data past SizeOfRawData). RVAs inside the headers map
// to themselves.
func (f *File) Offset(rva uint32) (int64, bool) {
	if s := f.Section(rva); s != nil {
		d := rva - s.VirtualAddress
		if d >= s.Size {
			return 0, false
		}
		off := int64(s.Offset) + int64(d)
		if off >= f.size {
			return 0, false
		}
		return off, true
	}
	if rva < f.SizeOfHeaders && int64(rva) < f.size {
		return int64(rva), true
	}
	return 0, false
}

// readRVA reads len(b) bytes at rva; the range must be file-backed within
// one section (or the headers).
func (f *File) readRVA(b []byte, rva uint32, what string) error {
	off, ok := f.Offset(rva)
	if !ok {
		return formatErr(-1, ErrCorrupt, "%s at RVA %#x is not in the file", what, rva)
	}
	if len(b) > 0 {
		last := uint64(rva) + uint64(len(b)) - 1
		if last > 0xffffffff {
			return formatErr(off, ErrCorrupt, "%s at RVA %#x overflows the address space", what, rva)
		}
		if endOff, ok := f.Offset(uint32(last)); !ok || endOff != off+int64(len(b))-1 {
			return formatErr(off, ErrTruncated, "%s at RVA %#x (%d bytes) runs past its section's file data", what, rva, len(b))
		}
	}
	return f.readFull(b, off, what)
}

// cstringAt reads a NUL-terminated string of at most maxLen bytes at rva.
func (f *File) cstringAt(rva uint32, maxLen int, what string) (string, error) {
	off, ok := f.Offset(rva)
	if !ok {
		return "", formatErr(-1, ErrCorrupt, "%s at RVA %#x is not in the file", what, rva)
	}
	// Bound the read by the file-backed bytes of the containing section.
	avail := f.size - off
	if s := f.Section(rva); s != nil {
		if n := int64(s.Size - (rva - s.VirtualAddress)); n < avail {
			avail = n
		}
	}
	var buf [256]byte
	var out []byte
	for len(out) <= maxLen {
		n := int64(len(buf))
		if n > avail {
			n = avail
		}
		if n <= 0 {
			return "", formatErr(off, ErrTruncated, "%s is not NUL-terminated", what)
		}
		chunk := buf[:n]
		if err := f.readFull(chunk, off, what); err != nil {
			return "", err
		}
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			out = append(out, chunk[:i]...)
			if len(out) > maxLen {
				break
			}
			return string(out), nil
		}
		out = append(out, chunk...)
		off += n
		avail -= n
	}
	return "", formatErr(off, ErrCorrupt, "%s longer than %d bytes", what, maxLen)
}
