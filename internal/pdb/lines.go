package pdb

import (
	"encoding/binary"
	"sort"
)

// C13 debug subsection kinds (cvinfo.h DEBUG_S_SUBSECTION_TYPE).
const (
	debugSIgnore    = 0x80000000 // flag: subsection to be ignored
	debugSLines     = 0xf2
	debugSFileChksm = 0xf4

	namesSignature = 0xeffeeffe
	maxLineEntries = 1 << 26 // line entries kept from one PDB
	maxFiles       = 1 << 20

	// Special line numbers MSVC uses for compiler-generated code.
	lineHidden    = 0xfeefee
	lineHiddenAlt = 0xf00f00
)

// lineEntry starts a line-table row at rva. file == noFile marks the end
// of a range covered by line information.
type lineEntry struct {
	rva  uint32
	line uint32
	file uint32
}

const noFile = ^uint32(0)

// Line returns the source file and line of the instruction at rva, from the
// modules' C13 line tables. ok is false when no line information covers
// rva. The file name is the one recorded by the compiler (often an absolute
// path on the build machine). The tables are built on the first call and
// cached; Line allocates nothing afterwards.
func (f *File) Line(rva uint32) (file string, line int, ok bool) {
	f.lineOnce.Do(f.loadLines)
	l := f.lines
	i := sort.Search(len(l), func(i int) bool { return l[i].rva > rva }) - 1
	if i < 0 || l[i].file == noFile {
		return "", 0, false
	}
	return f.files[l[i].file], int(l[i].line), true
}

// LineErr returns the error, if any, met while building the line tables;
// after an error [File.Line] reports nothing.
func (f *File) LineErr() error {
	f.lineOnce.Do(f.loadLines)
	return f.lineErr
}

type lineBuilder struct {
	f       *File
	names   []byte            // /names string buffer
	fileIdx map[uint32]uint32 // /names offset -> index into files
	files   []string
	lines   []lineEntry
}

func (f *File) loadLines() {
	lb := &lineBuilder{f: f, fileIdx: make(map[uint32]uint32)}
	err := lb.build()
	if err != nil {
		f.lineErr = err
		return
	}
	// Sort by RVA; at equal RVAs end markers first, so that a range that
	// starts where another ends wins.
	sort.SliceStable(lb.lines, func(i, j int) bool {
		a, b := lb.lines[i], lb.lines[j]
		if a.rva != b.rva {
			return a.rva < b.rva
		}
		return a.file == noFile && b.file != noFile
	})
	f.lines, f.files = lb.lines, lb.files
}

func (lb *lineBuilder) build() error {
	f := lb.f
	if !f.hasDBI {
		return nil
	}
	if f.names >= 0 {
		data, err := f.m.stream(f.names, "/names")
		if err != nil {
			return err
		}
		c := newCursor(data, f.names, 0)
		sig := c.u32("/names signature")
		_ = c.u32("/names hash version")
		n := c.u32("/names buffer size")
		if c.err != nil {
			return c.err
		}
		if sig != namesSignature {
			return streamErr(f.names, 0, ErrCorrupt, "/names signature %#x, want %#x", sig, uint32(namesSignature))
		}
		lb.names = c.bytes(int(min(n, uint32(c.remaining())+1)), "/names buffer")
		if c.err != nil {
			return c.err
		}
	}
	for i := range f.modules {
		if err := lb.module(&f.modules[i]); err != nil {
			return err
		}
	}
	return nil
}

func (lb *lineBuilder) module(mod *module) error {
	f := lb.f
	data, err := f.moduleStream(mod)
	if data == nil || err != nil || mod.c13Bytes == 0 {
		return err
	}
	s := mod.symStream
	start := int(mod.symBytes) + int(mod.c11Bytes)
	c13 := data[start : start+int(mod.c13Bytes)]
	// Pass 1: the file checksums subsection, which DEBUG_S_LINES blocks
	// reference by byte offset.
	var chk []byte
	var chkBase int64
	err = subsections(c13, s, int64(start), func(kind uint32, sub []byte, off int64) error {
		if kind == debugSFileChksm && chk == nil {
			chk, chkBase = sub, off
		}
		return nil
	})
	if err != nil {
		return err
	}
	return subsections(c13, s, int64(start), func(kind uint32, sub []byte, off int64) error {
		if kind != debugSLines {
			return nil
		}
		return lb.lineSubsection(sub, s, off, chk, chkBase)
	})
}

// subsections calls fn for each C13 debug subsection in data.
func subsections(data []byte, stream int, base int64, fn func(kind uint32, sub []byte, off int64) error) error {
	c := newCursor(data, stream, base)
	for c.remaining() >= 8 {
		kind := c.u32("subsection kind")
		n := c.u32("subsection length")
		off := base + int64(c.off)
		sub := c.bytes(int(min(n, 1<<30)), "debug subsection")
		if c.err != nil {
			return c.err
		}
		c.align(4)
		if kind&debugSIgnore != 0 {
			continue
		}
		if err := fn(kind, sub, off); err != nil {
			return err
		}
	}
	return nil
}

func (lb *lineBuilder) lineSubsection(sub []byte, s int, base int64, chk []byte, chkBase int64) error {
	f := lb.f
	c := newCursor(sub, s, base)
	relocOff := c.u32("lines offset")
	seg := c.u16("lines segment")
	flags := c.u16("lines flags")
	codeSize := c.u32("lines code size")
	if c.err != nil {
		return c.err
	}
	hasColumns := flags&1 != 0
	startRVA, ok := f.rva(seg, relocOff)
	if !ok {
		return nil // code in no known section: nothing to map
	}
	for c.remaining() > 0 {
		blockOff := c.off
		fileID := c.u32("line block file")
		n := c.u32("line block count")
		blockSize := c.u32("line block size")
		if c.err != nil {
			return c.err
		}
		per := uint64(8)
		if hasColumns {
			per += 4
		}
		if uint64(n)*per+12 > uint64(blockSize) || uint64(blockSize) > uint64(len(sub)-blockOff) {
			return streamErr(s, base+int64(blockOff), ErrCorrupt, "line block of %d bytes cannot hold %d lines", blockSize, n)
		}
		if len(lb.lines)+int(n)+1 > maxLineEntries {
			return streamErr(s, base+int64(blockOff), ErrCorrupt, "more than %d line entries", maxLineEntries)
		}
		file, err := lb.file(fileID, chk, s, chkBase)
		if err != nil {
			return err
		}
		ents := c.bytes(8*int(n), "line entries")
		if c.err != nil {
			return c.err
		}
		for i := 0; i < int(n); i++ {
			o := binary.LittleEndian.Uint32(ents[8*i:])
			ln := binary.LittleEndian.Uint32(ents[8*i+4:]) & 0xffffff
			rva, ok := f.lineRVA(seg, relocOff, startRVA, o)
			if !ok {
				continue
			}
			e := lineEntry{rva: rva, line: ln, file: file}
			if ln == 0 || ln == lineHidden || ln == lineHiddenAlt {
				e.file = noFile
			}
			lb.lines = append(lb.lines, e)
		}
		c.off = blockOff + int(blockSize)
	}
	if end, ok := f.lineRVA(seg, relocOff, startRVA, codeSize); ok {
		lb.lines = append(lb.lines, lineEntry{rva: end, file: noFile})
	}
	return nil
}

// lineRVA maps the line-table offset o (relative to the subsection's
// segment:offset start) to an RVA.
func (f *File) lineRVA(seg uint16, relocOff, startRVA, o uint32) (uint32, bool) {
	if f.omapFrom != nil {
		return f.rva(seg, relocOff+o)
	}
	v := uint64(startRVA) + uint64(o)
	return uint32(v), v <= 0xffffffff
}

// file resolves a line block's file ID (an offset into the file checksums
// subsection) to an index into lb.files.
func (lb *lineBuilder) file(id uint32, chk []byte, s int, chkBase int64) (uint32, error) {
	if uint64(id)+6 > uint64(len(chk)) {
		return 0, streamErr(s, chkBase, ErrCorrupt, "line block file ID %#x outside the file checksums subsection (%d bytes)", id, len(chk))
	}
	nameOff := binary.LittleEndian.Uint32(chk[id:])
	if i, ok := lb.fileIdx[nameOff]; ok {
		return i, nil
	}
	if len(lb.files) >= maxFiles {
		return 0, streamErr(s, chkBase+int64(id), ErrCorrupt, "more than %d source files", maxFiles)
	}
	name := "?"
	if uint64(nameOff) < uint64(len(lb.names)) {
		b := lb.names[nameOff:]
		i := indexByte(b, 0)
		if i < 0 || i > maxNameLen {
			return 0, streamErr(lb.f.names, 12+int64(nameOff), ErrCorrupt, "/names string at %#x is unterminated or longer than %d bytes", nameOff, maxNameLen)
		}
		name = string(b[:i])
	}
	idx := uint32(len(lb.files))
	lb.files = append(lb.files, name)
	lb.fileIdx[nameOff] = idx
	return idx, nil
}
