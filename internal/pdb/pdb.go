package pdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/etwkit/etwkit/internal/guid"
)

// Limits on counts and lengths read from the DBI and info streams.
const (
	maxModules     = 1 << 18 // module info entries in the DBI stream
	maxSections    = 1 << 16 // section headers (segments are 16-bit)
	maxNameLen     = 1 << 14 // a symbol name, module name or file path
	maxNamedStream = 1 << 12 // entries in the info stream's named stream map
)

// File is an open PDB. Create one with [Open].
type File struct {
	m         *msf
	version   uint32
	signature uint32
	infoAge   uint32
	guid      guid.GUID
	names     int // "/names" stream index, or -1

	hasDBI       bool
	dbiAge       uint32
	machine      uint16
	symRecStream int
	modules      []module
	sections     []section // SectionHdr: the image's sections
	origSections []section // SectionHdrOrig, used with omapFrom
	omapFrom     []omapEntry

	symOnce sync.Once
	syms    []Symbol
	procs   []procEntry // procedures (Function, Static, Thunk) sorted by start
	pubs    []pubEntry  // publics sorted by RVA
	symErr  error

	lineOnce sync.Once
	lines    []lineEntry
	files    []string
	lineErr  error
}

type module struct {
	name      string
	symStream int
	symBytes  uint32
	c11Bytes  uint32
	c13Bytes  uint32
}

type section struct {
	va, size uint32
}

type omapEntry struct {
	from, to uint32
}

// Open reads the MSF superblock and stream directory, the PDB info stream
// and the DBI stream header, module list and section headers of the PDB in
// r, which holds size bytes. Symbols and line tables are read lazily.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fileErr(0, ErrCorrupt, "negative input size %d", size)
	}
	m, err := openMSF(r, size)
	if err != nil {
		return nil, err
	}
	f := &File{m: m, names: -1, symRecStream: -1}
	if err := f.readInfo(); err != nil {
		return nil, err
	}
	if m.streamSize(streamDBI) > 0 {
		if err := f.readDBI(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// GUID returns the PDB's signature GUID from the PDB info stream. It equals
// the GUID in the matching image's CodeView record.
func (f *File) GUID() guid.GUID { return f.guid }

// Age returns the PDB age that matches the image's CodeView record: the DBI
// stream's age, or the info stream's age when the PDB has no DBI stream.
func (f *File) Age() uint32 {
	if f.hasDBI {
		return f.dbiAge
	}
	return f.infoAge
}

// InfoAge returns the age stored in the PDB info stream. Linkers keep it
// equal to the DBI age ([File.Age]) when they write a fresh PDB; tools that
// rewrite PDBs may increment only this one.
func (f *File) InfoAge() uint32 { return f.infoAge }

// Machine returns the DBI stream's machine type (an IMAGE_FILE_MACHINE_*
// value such as 0x14c for x86 or 0x8664 for x64), or 0 if unknown.
func (f *File) Machine() uint16 { return f.machine }

// Key returns the symbol-server key of the PDB: the GUID as 32 uppercase
// hex digits followed by the age in uppercase hex.
func (f *File) Key() string {
	g := f.guid
	return fmt.Sprintf("%08X%04X%04X%X%X", g.Data1, g.Data2, g.Data3, g.Data4[:], f.Age())
}

func (f *File) readInfo() error {
	b, err := f.m.stream(streamPDB, "PDB info")
	if err != nil {
		return err
	}
	c := newCursor(b, streamPDB, 0)
	f.version = c.u32("info version")
	f.signature = c.u32("info signature")
	f.infoAge = c.u32("info age")
	g := c.bytes(16, "info GUID")
	if c.err != nil {
		return c.err
	}
	f.guid = guid.FromBytes(g)
	// Named stream map: string buffer, then a hash table of
	// (string offset, stream index) pairs.
	strSize := c.u32("named stream buffer size")
	strs := c.bytes(int(min(strSize, 1<<30)), "named stream buffer")
	_ = c.u32("named stream map size")
	capacity := c.u32("named stream map capacity")
	presentWords := c.u32("present bit vector length")
	if c.err != nil {
		// VC2.0-era info streams end after the GUID-less header; a map we
		// cannot read just means no /names stream.
		return nil
	}
	if presentWords > maxNamedStream || capacity > maxNamedStream*32 {
		return streamErr(streamPDB, int64(c.off), ErrCorrupt, "named stream map of %d words exceeds limit", presentWords)
	}
	present := make([]uint32, presentWords)
	for i := range present {
		present[i] = c.u32("present bit vector")
	}
	deletedWords := c.u32("deleted bit vector length")
	if deletedWords > maxNamedStream {
		return streamErr(streamPDB, int64(c.off), ErrCorrupt, "deleted bit vector of %d words exceeds limit", deletedWords)
	}
	c.bytes(4*int(deletedWords), "deleted bit vector")
	for w, bits := range present {
		for bit := 0; bit < 32; bit++ {
			if bits&(1<<bit) == 0 {
				continue
			}
			key := c.u32("named stream key")
			val := c.u32("named stream index")
			if c.err != nil {
				return c.err
			}
			_ = w
			if key < uint32(len(strs)) {
				name := strs[key:]
				if i := indexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				if string(name) == "/names" {
					f.names = int(val)
				}
			}
		}
	}
	return c.err
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (f *File) readDBI() error {
	b, err := f.m.stream(streamDBI, "DBI")
	if err != nil {
		return err
	}
	c := newCursor(b, streamDBI, 0)
	sig := int32(c.u32("DBI version signature"))
	_ = c.u32("DBI version header")
	f.dbiAge = c.u32("DBI age")
	_ = c.u16("global stream index")
	_ = c.u16("build number")
	_ = c.u16("public stream index")
	_ = c.u16("PDB DLL version")
	symRec := c.u16("symbol record stream index")
	_ = c.u16("PDB DLL rebuild")
	var sizes [6]int32
	names := [6]string{"module info", "section contribution", "section map", "source info", "type server map", "MFC index"}
	for i := range sizes {
		sizes[i] = int32(c.u32(names[i] + " size"))
	}
	optSize := int32(c.u32("optional debug header size"))
	ecSize := int32(c.u32("EC substream size"))
	_ = c.u16("DBI flags")
	f.machine = c.u16("DBI machine")
	_ = c.u32("DBI padding")
	if c.err != nil {
		return c.err
	}
	if sig != -1 {
		return streamErr(streamDBI, 0, ErrCorrupt, "DBI version signature %d is not -1 (pre-VC4.1 DBI unsupported)", sig)
	}
	f.hasDBI = true
	if symRec != nilStream {
		f.symRecStream = int(symRec)
	}
	// Substreams in order: module info, section contributions, section map,
	// source info, type server map, EC, optional debug header. sizes[5] is
	// the MFC type server index, not a size.
	lens := []int32{sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], ecSize, optSize}
	subs := make([][]byte, len(lens))
	subOff := make([]int, len(lens))
	for i, n := range lens {
		if n < 0 {
			return streamErr(streamDBI, int64(c.off), ErrCorrupt, "negative DBI substream size %d", n)
		}
		subOff[i] = c.off
		subs[i] = c.bytes(int(n), "DBI substream")
		if c.err != nil {
			return c.err
		}
	}
	if err := f.readModules(subs[0], int64(subOff[0])); err != nil {
		return err
	}
	// Optional debug header: stream indices for FPO, exception, fixup,
	// OMAP to/from source, section headers, ..., original section headers.
	dbg := newCursor(subs[6], streamDBI, int64(subOff[6]))
	var dbgStreams [11]int
	for i := range dbgStreams {
		dbgStreams[i] = -1
		if dbg.remaining() >= 2 {
			if s := dbg.u16("debug header stream"); s != nilStream {
				dbgStreams[i] = int(s)
			}
		}
	}
	const (
		dbgOmapFromSrc    = 4
		dbgSectionHdr     = 5
		dbgSectionHdrOrig = 10
	)
	if s := dbgStreams[dbgSectionHdr]; s >= 0 {
		if f.sections, err = f.readSections(s); err != nil {
			return err
		}
	}
	if s, o := dbgStreams[dbgOmapFromSrc], dbgStreams[dbgSectionHdrOrig]; s >= 0 && o >= 0 && f.m.streamSize(s) > 0 {
		if f.origSections, err = f.readSections(o); err != nil {
			return err
		}
		if f.omapFrom, err = f.readOMAP(s); err != nil {
			return err
		}
	}
	return nil
}

func (f *File) readModules(b []byte, base int64) error {
	c := newCursor(b, streamDBI, base)
	// Module streams are distinct; a shared one would be read once per
	// module that names it.
	seen := make(map[int]bool)
	for c.remaining() > 0 {
		if len(f.modules) >= maxModules {
			return streamErr(streamDBI, base+int64(c.off), ErrCorrupt, "more than %d modules", maxModules)
		}
		hdr := c.bytes(64, "module info")
		name := c.cstring(maxNameLen, "module name")
		_ = c.cstring(maxNameLen, "object file name")
		c.align(4)
		if c.err != nil {
			return c.err
		}
		mod := module{
			name:      string(name),
			symStream: int(binary.LittleEndian.Uint16(hdr[34:])),
			symBytes:  binary.LittleEndian.Uint32(hdr[36:]),
			c11Bytes:  binary.LittleEndian.Uint32(hdr[40:]),
			c13Bytes:  binary.LittleEndian.Uint32(hdr[44:]),
		}
		if mod.symStream == nilStream {
			mod.symStream = -1
		} else if seen[mod.symStream] {
			return streamErr(streamDBI, base+int64(c.off), ErrCorrupt, "module %q reuses symbol stream %d", mod.name, mod.symStream)
		} else if mod.symStream >= f.m.numStreams() {
			return streamErr(streamDBI, base+int64(c.off), ErrCorrupt, "module %q names symbol stream %d of %d", mod.name, mod.symStream, f.m.numStreams())
		}
		seen[mod.symStream] = true
		f.modules = append(f.modules, mod)
	}
	return nil
}

func (f *File) readSections(stream int) ([]section, error) {
	n := f.m.streamSize(stream) / 40
	if n > maxSections {
		return nil, streamErr(stream, 0, ErrCorrupt, "%d section headers exceed limit %d", n, maxSections)
	}
	b := make([]byte, 40*n)
	if err := f.m.readStream(stream, b, 0, "section headers"); err != nil {
		return nil, err
	}
	secs := make([]section, n)
	for i := range secs {
		h := b[40*i:]
		secs[i] = section{
			size: binary.LittleEndian.Uint32(h[8:]),
			va:   binary.LittleEndian.Uint32(h[12:]),
		}
	}
	return secs, nil
}

func (f *File) readOMAP(stream int) ([]omapEntry, error) {
	b, err := f.m.stream(stream, "OMAP")
	if err != nil {
		return nil, err
	}
	om := make([]omapEntry, len(b)/8)
	for i := range om {
		om[i] = omapEntry{binary.LittleEndian.Uint32(b[8*i:]), binary.LittleEndian.Uint32(b[8*i+4:])}
	}
	if !sort.SliceIsSorted(om, func(i, j int) bool { return om[i].from < om[j].from }) {
		sort.Slice(om, func(i, j int) bool { return om[i].from < om[j].from })
	}
	return om, nil
}

// rva converts a segment:offset address to an RVA in the image. ok is false
// for addresses in no known section or not mapped by OMAP.
func (f *File) rva(seg uint16, off uint32) (uint32, bool) {
	secs := f.sections
	if f.omapFrom != nil {
		secs = f.origSections
	}
	if seg == 0 || int(seg) > len(secs) {
		return 0, false
	}
	v := uint64(secs[seg-1].va) + uint64(off)
	if v > 0xffffffff {
		return 0, false
	}
	if f.omapFrom == nil {
		return uint32(v), true
	}
	return mapOMAP(f.omapFrom, uint32(v))
}

func mapOMAP(om []omapEntry, a uint32) (uint32, bool) {
	i := sort.Search(len(om), func(i int) bool { return om[i].from > a }) - 1
	if i < 0 || om[i].to == 0 {
		return 0, false
	}
	v := uint64(om[i].to) + uint64(a-om[i].from)
	if v > 0xffffffff {
		return 0, false
	}
	return uint32(v), true
}

// sectionStart returns the RVA of the start of the image section holding
// rva, or false if rva lies in no section.
func (f *File) sectionStart(rva uint32) (uint32, bool) {
	for _, s := range f.sections {
		if rva >= s.va && rva-s.va < max(s.size, 1) {
			return s.va, true
		}
	}
	return 0, false
}
