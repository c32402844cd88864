package pe

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/etwkit/etwkit/internal/guid"
)

// debugTypeCodeView is IMAGE_DEBUG_TYPE_CODEVIEW.
const debugTypeCodeView = 2

// CodeView is the RSDS CodeView record of an image's debug directory: the
// identity of the matching PDB. A symbol server stores the PDB under
// Path's base name and the key GUID (32 uppercase hex digits) followed by
// Age in hex.
type CodeView struct {
	GUID guid.GUID // PDB signature GUID; equals the PDB info stream's GUID
	Age  uint32    // PDB age; equals the PDB info stream's age (the DBI age)
	Path string    // PDB path as recorded by the linker (may be a bare file name)
}

// CodeView returns the first RSDS CodeView record in the debug directory.
// ok is false, with a nil error, when the image has no debug directory or
// no RSDS record (older NB10 records are not reported).
func (f *File) CodeView() (cv CodeView, ok bool, err error) {
	dir := f.Dirs[DirDebug]
	if dir.VirtualAddress == 0 || dir.Size == 0 {
		return CodeView{}, false, nil
	}
	n := dir.Size / 28
	if n > maxDebugEntries {
		off, _ := f.Offset(dir.VirtualAddress)
		return CodeView{}, false, formatErr(off, ErrCorrupt, "debug directory of %d entries exceeds limit %d", n, maxDebugEntries)
	}
	ents := make([]byte, 28*n)
	if err := f.readRVA(ents, dir.VirtualAddress, "debug directory"); err != nil {
		return CodeView{}, false, err
	}
	for i := uint32(0); i < n; i++ {
		e := ents[28*i : 28*i+28]
		if binary.LittleEndian.Uint32(e[12:]) != debugTypeCodeView {
			continue
		}
		size := binary.LittleEndian.Uint32(e[16:])
		rva := binary.LittleEndian.Uint32(e[20:])
		ptr := int64(binary.LittleEndian.Uint32(e[24:]))
		if size < 24 {
			continue // too small for RSDS; maybe NB10
		}
		if size > maxCodeViewLen {
			return CodeView{}, false, formatErr(ptr, ErrCorrupt, "CodeView record of %d bytes exceeds limit %d", size, maxCodeViewLen)
		}
		if ptr == 0 {
			off, ok := f.Offset(rva)
			if !ok {
				return CodeView{}, false, formatErr(-1, ErrCorrupt, "CodeView record at RVA %#x is not in the file", rva)
			}
			ptr = off
		}
		b := make([]byte, size)
		if err := f.readFull(b, ptr, "CodeView record"); err != nil {
			return CodeView{}, false, err
		}
		if !bytes.Equal(b[:4], []byte("RSDS")) {
			continue
		}
		path := b[24:]
		if i := bytes.IndexByte(path, 0); i >= 0 {
			path = path[:i]
		}
		if len(path) > maxPDBPathLen {
			return CodeView{}, false, formatErr(ptr+24, ErrCorrupt, "PDB path longer than %d bytes", maxPDBPathLen)
		}
		return CodeView{
			GUID: guid.FromBytes(b[4:20]),
			Age:  binary.LittleEndian.Uint32(b[20:]),
			Path: string(path),
		}, true, nil
	}
	return CodeView{}, false, nil
}

// Key returns the symbol-server key of the PDB: the GUID as 32 uppercase
// hex digits (Data1, Data2, Data3, then Data4 bytes) followed by Age in
// uppercase hex without leading zeros, e.g. "E61262FCB2B7E94B4C4C44205044422E1".
func (cv CodeView) Key() string {
	g := cv.GUID
	return fmt.Sprintf("%08X%04X%04X%X%X", g.Data1, g.Data2, g.Data3, g.Data4[:], cv.Age)
}

// ImageKey returns the symbol-server key of the image itself: TimeDateStamp
// as 8 uppercase hex digits followed by SizeOfImage in hex without leading
// zeros.
func (f *File) ImageKey() string {
	return fmt.Sprintf("%08X%X", f.TimeDateStamp, f.SizeOfImage)
}
