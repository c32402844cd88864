package symstore

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CAB (Microsoft Cabinet, "MSCF") reading, enough for symbol store files
// compressed by makecab or gcab: one cabinet (no spanning sets), folders
// stored uncompressed or MSZIP-compressed. LZX and Quantum folders (LZX is
// what symstore.exe /compress writes) are recognised and reported with
// [ErrUnsupported]. Data block checksums are not verified; the deflate
// decoder and the later PDB/PE parsers catch corrupt data.

// ErrCAB is wrapped by errors about malformed CAB files.
var ErrCAB = errors.New("symstore: malformed CAB file")

// ErrUnsupported is wrapped by errors about valid inputs this package does
// not handle, such as LZX-compressed CAB files.
var ErrUnsupported = errors.New("symstore: unsupported")

// Limits on CAB files.
const (
	maxCABFolders = 1024
	maxCABFiles   = 4096
	maxCABName    = 1024
	cabBlockMax   = 32768 // most uncompressed bytes in one CFDATA block
	cabHeaderLen  = 36
)

// CAB compression types (low 4 bits of CFFOLDER.typeCompress).
const (
	cabCompNone    = 0
	cabCompMSZIP   = 1
	cabCompQuantum = 2
	cabCompLZX     = 3
)

type cabFolder struct {
	dataOff  uint32 // coffCabStart
	nBlocks  uint16 // cCFData
	compress uint16 // typeCompress
}

type cabFile struct {
	size   uint32 // cbFile
	offset uint32 // uoffFolderStart
	folder uint16 // iFolder
	name   string
}

func cabErr(off int64, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrCAB, off, fmt.Sprintf(format, args...))
}

// isCAB reports whether b starts with the CAB signature.
func isCAB(b []byte) bool { return len(b) >= 4 && string(b[:4]) == "MSCF" }

// extractCAB writes the file called want (compared case-insensitively on
// its last path element; or the only file, if the cabinet holds one) from
// the cabinet r of the given size to w. It refuses files larger than
// limit bytes with [ErrTooLarge] and returns the number of bytes written.
func extractCAB(r io.ReaderAt, size int64, want string, w io.Writer, limit int64) (int64, error) {
	var hdr [cabHeaderLen + 4]byte
	if size < cabHeaderLen {
		return 0, cabErr(0, "file of %d bytes is shorter than the %d-byte header", size, cabHeaderLen)
	}
	n := int64(len(hdr))
	if size < n {
		n = size
	}
	if _, err := r.ReadAt(hdr[:n], 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("symstore: reading CAB header: %w", err)
	}
	if !isCAB(hdr[:]) {
		return 0, cabErr(0, "no MSCF signature")
	}
	le := binary.LittleEndian
	cbCabinet := int64(le.Uint32(hdr[8:]))
	coffFiles := int64(le.Uint32(hdr[16:]))
	major := hdr[25]
	nFolders := int(le.Uint16(hdr[26:]))
	nFiles := int(le.Uint16(hdr[28:]))
	flags := le.Uint16(hdr[30:])
	switch {
	case cbCabinet > size:
		return 0, cabErr(8, "cabinet size %d exceeds file size %d", cbCabinet, size)
	case major != 1:
		return 0, fmt.Errorf("%w: CAB format version %d.%d", ErrUnsupported, major, hdr[24])
	case flags&0x3 != 0:
		return 0, fmt.Errorf("%w: multi-cabinet CAB set (flags %#x)", ErrUnsupported, flags)
	case nFolders == 0 || nFolders > maxCABFolders:
		return 0, cabErr(26, "%d folders (limit %d)", nFolders, maxCABFolders)
	case nFiles == 0 || nFiles > maxCABFiles:
		return 0, cabErr(28, "%d files (limit %d)", nFiles, maxCABFiles)
	}
	size = cbCabinet
	off := int64(cabHeaderLen)
	var folderReserve, dataReserve int64
	if flags&0x4 != 0 { // cfhdrRESERVE_PRESENT
		if size < off+4 {
			return 0, cabErr(off, "truncated reserve sizes")
		}
		headerReserve := int64(le.Uint16(hdr[36:]))
		folderReserve = int64(hdr[38])
		dataReserve = int64(hdr[39])
		off += 4 + headerReserve
	}

	// CFFOLDER entries.
	folders := make([]cabFolder, nFolders)
	fsz := 8 + folderReserve
	for i := range folders {
		var b [8]byte
		if off+fsz > size {
			return 0, cabErr(off, "folder %d beyond the end of the cabinet", i)
		}
		if _, err := r.ReadAt(b[:], off); err != nil {
			return 0, fmt.Errorf("symstore: reading CAB folder %d: %w", i, err)
		}
		folders[i] = cabFolder{dataOff: le.Uint32(b[0:]), nBlocks: le.Uint16(b[4:]), compress: le.Uint16(b[6:])}
		off += fsz
	}

	// CFFILE entries.
	if coffFiles < off || coffFiles >= size {
		return 0, cabErr(16, "file table offset %d outside [%d,%d)", coffFiles, off, size)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, coffFiles, size-coffFiles), 4096)
	off = coffFiles
	var chosen *cabFile
	wantBase := baseName(want)
	for i := 0; i < nFiles; i++ {
		var b [16]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, cabErr(off, "file entry %d truncated", i)
		}
		f := cabFile{size: le.Uint32(b[0:]), offset: le.Uint32(b[4:]), folder: le.Uint16(b[8:])}
		name, err := br.ReadSlice(0)
		if err != nil || len(name) > maxCABName {
			return 0, cabErr(off+16, "file entry %d: name not NUL-terminated within %d bytes", i, maxCABName)
		}
		f.name = string(name[:len(name)-1])
		off += 16 + int64(len(name))
		if chosen == nil && (strings.EqualFold(baseName(f.name), wantBase) || nFiles == 1) {
			chosen = &f
		}
	}
	if chosen == nil {
		return 0, fmt.Errorf("%w: cabinet holds no file named %q", ErrCAB, wantBase)
	}
	if int(chosen.folder) >= nFolders {
		return 0, fmt.Errorf("%w: file %q continues across cabinets (folder index %#x)", ErrUnsupported, chosen.name, chosen.folder)
	}
	if int64(chosen.size) > limit {
		return 0, fmt.Errorf("%w: %q unpacks to %d bytes, limit %d", ErrTooLarge, chosen.name, chosen.size, limit)
	}
	fo := folders[chosen.folder]
	switch fo.compress & 0xf {
	case cabCompNone, cabCompMSZIP:
	case cabCompQuantum:
		return 0, fmt.Errorf("%w: Quantum-compressed CAB (only stored and MSZIP CAB files can be unpacked)", ErrUnsupported)
	case cabCompLZX:
		return 0, fmt.Errorf("%w: LZX-compressed CAB (only stored and MSZIP CAB files can be unpacked; expand it with expand.exe or cabextract)", ErrUnsupported)
	default:
		return 0, fmt.Errorf("%w: CAB compression type %#x", ErrUnsupported, fo.compress)
	}
	if int64(fo.dataOff) >= size {
		return 0, cabErr(int64(fo.dataOff), "data blocks start beyond the end of the cabinet")
	}
	return cabUnpack(r, size, fo, dataReserve, int64(chosen.offset), int64(chosen.size), w)
}

// cabUnpack decodes the blocks of folder fo and writes the uncompressed
// bytes [start, start+length) to w.
func cabUnpack(r io.ReaderAt, size int64, fo cabFolder, reserve, start, length int64, w io.Writer) (int64, error) {
	le := binary.LittleEndian
	end := start + length
	if length == 0 {
		return 0, nil
	}
	src := bufio.NewReaderSize(io.NewSectionReader(r, int64(fo.dataOff), size-int64(fo.dataOff)), 16<<10)
	off := int64(fo.dataOff)
	var comp, out []byte
	var hist []byte // MSZIP history: the last 32 KiB of output
	var fr io.ReadCloser
	var pos, written int64
	for blk := 0; blk < int(fo.nBlocks) && pos < end; blk++ {
		var h [8]byte
		if _, err := io.ReadFull(src, h[:]); err != nil {
			return written, cabErr(off, "data block %d header truncated", blk)
		}
		cbData := int(le.Uint16(h[4:]))
		cbUncomp := int(le.Uint16(h[6:]))
		if _, err := src.Discard(int(reserve)); err != nil {
			return written, cabErr(off+8, "data block %d reserve truncated", blk)
		}
		dataOff := off + 8 + reserve
		if cbUncomp == 0 || cbUncomp > cabBlockMax {
			return written, cabErr(off+6, "data block %d: uncompressed size %d (want 1..%d)", blk, cbUncomp, cabBlockMax)
		}
		if cap(comp) < cbData {
			comp = make([]byte, cbData)
		}
		comp = comp[:cbData]
		if cap(out) < cbUncomp {
			out = make([]byte, cabBlockMax)
		}
		if _, err := io.ReadFull(src, comp); err != nil {
			return written, cabErr(dataOff, "data block %d: %d data bytes truncated", blk, cbData)
		}
		ob := out[:cbUncomp]
		if fo.compress&0xf == cabCompNone {
			if cbData != cbUncomp {
				return written, cabErr(off+4, "stored data block %d: %d bytes but %d uncompressed", blk, cbData, cbUncomp)
			}
			copy(ob, comp)
		} else {
			if cbData < 2 || comp[0] != 'C' || comp[1] != 'K' {
				return written, cabErr(dataOff, "MSZIP data block %d lacks the CK signature", blk)
			}
			rd := bytes.NewReader(comp[2:])
			if fr == nil {
				fr = flate.NewReaderDict(rd, hist)
			} else if err := fr.(flate.Resetter).Reset(rd, hist); err != nil {
				return written, cabErr(dataOff, "MSZIP data block %d: %v", blk, err)
			}
			if _, err := io.ReadFull(fr, ob); err != nil {
				return written, cabErr(dataOff, "MSZIP data block %d: %v", blk, err)
			}
			hist = appendWindow(hist, ob)
		}
		// Write the overlap of [pos, pos+cbUncomp) with [start, end).
		lo, hi := max(pos, start), min(pos+int64(cbUncomp), end)
		if lo < hi {
			m, err := w.Write(ob[lo-pos : hi-pos])
			written += int64(m)
			if err != nil {
				return written, err
			}
		}
		pos += int64(cbUncomp)
		off = dataOff + int64(cbData)
	}
	if pos < end {
		return written, cabErr(off, "folder ends after %d bytes, file needs %d", pos, end)
	}
	return written, nil
}

// appendWindow appends b to the history window h, keeping its last 32 KiB.
func appendWindow(h, b []byte) []byte {
	const window = 32 << 10
	if len(b) >= window {
		return append(h[:0], b[len(b)-window:]...)
	}
	if len(h)+len(b) > window {
		drop := len(h) + len(b) - window
		h = append(h[:0], h[drop:]...)
	}
	return append(h, b...)
}
