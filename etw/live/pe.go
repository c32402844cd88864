package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/etw"
)

// Limits of the PE debug-directory reader. Image files come from the local
// disk but are still read defensively: every count and offset is capped.
const (
	maxPEHeaderOffset = 1 << 20 // e_lfanew
	maxPESections     = 96      // the PE/COFF limit
	maxDebugEntries   = 64
	maxCodeViewSize   = 4096 // RSDS record: 24 bytes + PDB path
)

// errNoPDBIdentity reports that an image file carries no CodeView RSDS
// record (no debug directory, or only other debug formats).
var errNoPDBIdentity = errors.New("live: image has no RSDS debug record")

// errBadPE reports a structurally invalid PE file.
var errBadPE = errors.New("live: malformed PE file")

// pdbIdentity is the CodeView RSDS record of an image: what a symbol server
// needs to find the matching PDB.
type pdbIdentity struct {
	GUID etw.GUID
	Age  uint32
	Name string // PDB file name as recorded by the linker
}

// readAt reads exactly len(b) bytes at off, reporting short files as a
// malformed PE naming the field.
func readAt(r io.ReaderAt, b []byte, off int64, what string) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("%w: %s at offset 0x%x runs past the end of the file", errBadPE, what, off)
	}
	return err
}

// readPDBIdentity reads the PE debug directory of an image file and
// returns its first CodeView RSDS record.
func readPDBIdentity(r io.ReaderAt) (pdbIdentity, error) {
	le := binary.LittleEndian
	var dos [64]byte
	if err := readAt(r, dos[:], 0, "DOS header"); err != nil {
		return pdbIdentity{}, err
	}
	if dos[0] != 'M' || dos[1] != 'Z' {
		return pdbIdentity{}, fmt.Errorf("%w: no MZ signature at offset 0", errBadPE)
	}
	peOff := int64(le.Uint32(dos[0x3C:]))
	if peOff > maxPEHeaderOffset {
		return pdbIdentity{}, fmt.Errorf("%w: PE header offset 0x%x beyond the %d-byte limit", errBadPE, peOff, maxPEHeaderOffset)
	}
	var coff [24]byte
	if err := readAt(r, coff[:], peOff, "PE header"); err != nil {
		return pdbIdentity{}, err
	}
	if string(coff[:4]) != "PE\x00\x00" {
		return pdbIdentity{}, fmt.Errorf("%w: no PE signature at offset 0x%x", errBadPE, peOff)
	}
	nsec := int(le.Uint16(coff[6:]))
	optSize := int64(le.Uint16(coff[20:]))
	if nsec > maxPESections {
		return pdbIdentity{}, fmt.Errorf("%w: %d sections at offset 0x%x (limit %d)", errBadPE, nsec, peOff+6, maxPESections)
	}
	optOff := peOff + 24
	var magic [2]byte
	if err := readAt(r, magic[:], optOff, "optional header"); err != nil {
		return pdbIdentity{}, err
	}
	var ddOff, countOff int64
	switch le.Uint16(magic[:]) {
	case 0x10b: // PE32
		countOff, ddOff = 92, 96
	case 0x20b: // PE32+
		countOff, ddOff = 108, 112
	default:
		return pdbIdentity{}, fmt.Errorf("%w: optional header magic 0x%x at offset 0x%x", errBadPE, le.Uint16(magic[:]), optOff)
	}
	const debugDir = 6
	if optSize < ddOff+8*(debugDir+1) {
		return pdbIdentity{}, errNoPDBIdentity
	}
	var cnt [4]byte
	if err := readAt(r, cnt[:], optOff+countOff, "NumberOfRvaAndSizes"); err != nil {
		return pdbIdentity{}, err
	}
	if le.Uint32(cnt[:]) <= debugDir {
		return pdbIdentity{}, errNoPDBIdentity
	}
	var dd [8]byte
	if err := readAt(r, dd[:], optOff+ddOff+8*debugDir, "debug data directory"); err != nil {
		return pdbIdentity{}, err
	}
	rva, size := le.Uint32(dd[:]), le.Uint32(dd[4:])
	if rva == 0 || size == 0 {
		return pdbIdentity{}, errNoPDBIdentity
	}

	// Map the directory's RVA to a file offset through the section table.
	secOff := optOff + optSize
	var sec [40]byte
	dirOff := int64(-1)
	for i := range nsec {
		if err := readAt(r, sec[:], secOff+40*int64(i), "section header"); err != nil {
			return pdbIdentity{}, err
		}
		va, vsize := le.Uint32(sec[12:]), le.Uint32(sec[8:])
		rawSize, rawPtr := le.Uint32(sec[16:]), le.Uint32(sec[20:])
		if vsize < rawSize {
			vsize = rawSize
		}
		if rva >= va && uint64(rva) < uint64(va)+uint64(vsize) {
			dirOff = int64(rawPtr) + int64(rva-va)
			break
		}
	}
	if dirOff < 0 {
		return pdbIdentity{}, fmt.Errorf("%w: debug directory RVA 0x%x lies in no section", errBadPE, rva)
	}
	n := int(size / 28)
	if n > maxDebugEntries {
		n = maxDebugEntries
	}
	var ent [28]byte
	for i := range n {
		if err := readAt(r, ent[:], dirOff+28*int64(i), "debug directory entry"); err != nil {
			return pdbIdentity{}, err
		}
		if le.Uint32(ent[12:]) != 2 { // IMAGE_DEBUG_TYPE_CODEVIEW
			continue
		}
		cvSize := int(le.Uint32(ent[16:]))
		cvOff := int64(le.Uint32(ent[24:]))
		if cvSize < 24 {
			continue
		}
		if cvSize > maxCodeViewSize {
			cvSize = maxCodeViewSize
		}
		cv := make([]byte, cvSize)
		if err := readAt(r, cv, cvOff, "CodeView record"); err != nil {
			return pdbIdentity{}, err
		}
		if string(cv[:4]) != "RSDS" {
			continue
		}
		id := pdbIdentity{GUID: etw.GUIDFromBytes(cv[4:20]), Age: le.Uint32(cv[20:])}
		name := cv[24:]
		for j, c := range name {
			if c == 0 {
				name = name[:j]
				break
			}
		}
		id.Name = string(name)
		return id, nil
	}
	return pdbIdentity{}, errNoPDBIdentity
}
