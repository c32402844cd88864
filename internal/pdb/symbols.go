package pdb

import (
	"encoding/binary"
	"sort"
)

// CodeView symbol record kinds read by this package (cvinfo.h SYM_ENUM_e).
const (
	sThunk32      = 0x1102
	sLProc32      = 0x110f
	sGProc32      = 0x1110
	sPub32        = 0x110e
	sSepCode      = 0x1132
	sLProc32ID    = 0x1146
	sGProc32ID    = 0x1147
	sLProc32DPC   = 0x1155
	sLProc32DPCID = 0x1156

	cvSignatureC13 = 4
	maxSymbols     = 1 << 24 // symbols kept from one PDB
)

// Kind classifies a [Symbol].
type Kind uint8

// Symbol kinds.
const (
	KindPublic   Kind = iota + 1 // S_PUB32 from the public symbol stream; decorated linkage name, no size
	KindFunction                 // S_GPROC32 / S_GPROC32_ID: a global procedure with its code size
	KindStatic                   // S_LPROC32 / S_LPROC32_ID / S_LPROC32_DPC*: a file-local (static) procedure
	KindThunk                    // S_THUNK32: an incremental-linking or other thunk
)

// String returns "public", "function", "static" or "thunk".
func (k Kind) String() string {
	switch k {
	case KindPublic:
		return "public"
	case KindFunction:
		return "function"
	case KindStatic:
		return "static"
	case KindThunk:
		return "thunk"
	}
	return "unknown"
}

// Symbol is a public symbol or procedure placed in the image.
type Symbol struct {
	Name string // as stored: decorated for publics (e.g. "_f@8", "?F@C@@QEAAXXZ"), qualified for procedures ("C::F")
	RVA  uint32 // address relative to the image base
	Size uint32 // code size in bytes; 0 for publics, whose extent is unknown
	Kind Kind
}

type procEntry struct {
	start, end uint32
	sym        uint32 // index into File.syms
}

type pubEntry struct {
	rva uint32
	sym uint32
}

// Symbols returns every public symbol and procedure that maps into the
// image, sorted by RVA (procedures before publics at equal RVA, then by
// name). A global function usually appears twice: as a KindFunction with
// its undecorated qualified name and size, and as a KindPublic with its
// decorated name. The slice is shared: do not modify it.
func (f *File) Symbols() ([]Symbol, error) {
	f.symOnce.Do(f.loadSymbols)
	return f.syms, f.symErr
}

// Lookup returns the symbol for rva and rva's offset from its start. A
// procedure whose code range [RVA, RVA+Size) contains rva is preferred;
// otherwise the nearest public symbol at or before rva in the same image
// section is used (as for PDBs stripped to publics, such as the kernel's).
// Lookup allocates nothing after the first call, which builds and caches the
// tables; a damaged symbol stream yields ok false (see [File.Symbols] for
// the error).
func (f *File) Lookup(rva uint32) (sym Symbol, off uint32, ok bool) {
	f.symOnce.Do(f.loadSymbols)
	p := f.procs
	i := sort.Search(len(p), func(i int) bool { return p[i].start > rva }) - 1
	// Walk back over a few candidates in case procedures overlap (separated
	// code, identical-code folding).
	for j := i; j >= 0 && j > i-8; j-- {
		if rva < p[j].end {
			s := f.syms[p[j].sym]
			return s, rva - s.RVA, true
		}
	}
	u := f.pubs
	k := sort.Search(len(u), func(i int) bool { return u[i].rva > rva }) - 1
	if k < 0 {
		return Symbol{}, 0, false
	}
	start, ok := f.sectionStart(rva)
	if !ok || u[k].rva < start {
		return Symbol{}, 0, false
	}
	// Several publics may share an address; take the first in name order.
	for k > 0 && u[k-1].rva == u[k].rva {
		k--
	}
	s := f.syms[u[k].sym]
	return s, rva - s.RVA, true
}

// symBuilder collects symbols with their names in one arena, so that the
// final table holds a single string allocation for all names.
type symBuilder struct {
	arena []byte
	recs  []rawSym
}

type rawSym struct {
	nameOff, nameLen uint32
	rva, size        uint32
	kind             Kind
}

func (b *symBuilder) add(name []byte, rva, size uint32, kind Kind) bool {
	if len(b.recs) >= maxSymbols {
		return false
	}
	b.recs = append(b.recs, rawSym{uint32(len(b.arena)), uint32(len(name)), rva, size, kind})
	b.arena = append(b.arena, name...)
	return true
}

func (f *File) loadSymbols() {
	var b symBuilder
	f.symErr = f.collectSymbols(&b)
	names := string(b.arena)
	syms := make([]Symbol, len(b.recs))
	for i, r := range b.recs {
		syms[i] = Symbol{Name: names[r.nameOff : r.nameOff+r.nameLen], RVA: r.rva, Size: r.size, Kind: r.kind}
	}
	sort.Slice(syms, func(i, j int) bool {
		a, c := &syms[i], &syms[j]
		if a.RVA != c.RVA {
			return a.RVA < c.RVA
		}
		if (a.Kind == KindPublic) != (c.Kind == KindPublic) {
			return a.Kind != KindPublic
		}
		if a.Name != c.Name {
			return a.Name < c.Name
		}
		return a.Size > c.Size
	})
	var procs []procEntry
	var pubs []pubEntry
	for i, s := range syms {
		if s.Kind == KindPublic {
			pubs = append(pubs, pubEntry{s.RVA, uint32(i)})
		} else if s.Size > 0 {
			end := uint64(s.RVA) + uint64(s.Size)
			procs = append(procs, procEntry{s.RVA, uint32(min(end, 0xffffffff)), uint32(i)})
		}
	}
	// Among procedures starting at the same RVA, Lookup takes the last one
	// that contains the address; order them so that is the first by name.
	sort.SliceStable(procs, func(i, j int) bool {
		if procs[i].start != procs[j].start {
			return procs[i].start < procs[j].start
		}
		return procs[i].sym > procs[j].sym
	})
	if f.symErr != nil {
		// Keep the error-or-result contract: no partial table.
		syms, procs, pubs = nil, nil, nil
	}
	f.syms, f.procs, f.pubs = syms, procs, pubs
}

func (f *File) collectSymbols(b *symBuilder) error {
	if !f.hasDBI {
		return nil
	}
	if f.symRecStream >= 0 && f.m.streamSize(f.symRecStream) > 0 {
		data, err := f.m.stream(f.symRecStream, "symbol records")
		if err != nil {
			return err
		}
		if err := f.scanPublics(data, b); err != nil {
			return err
		}
	}
	for i := range f.modules {
		if err := f.scanModule(&f.modules[i], b); err != nil {
			return err
		}
	}
	return nil
}

// records calls fn for each CodeView symbol record in data (stream offsets
// start at base), with the record's kind and its bytes after the kind.
func records(data []byte, stream int, base int64, fn func(kind uint16, rec []byte, off int64) error) error {
	c := newCursor(data, stream, base)
	for c.remaining() > 0 {
		if c.remaining() < 4 {
			// Trailing padding shorter than a record header.
			return nil
		}
		off := base + int64(c.off)
		n := int(c.u16("symbol record length"))
		if n < 2 {
			return streamErr(stream, off, ErrCorrupt, "symbol record length %d < 2", n)
		}
		kind := c.u16("symbol record kind")
		rec := c.bytes(n-2, "symbol record")
		if c.err != nil {
			return c.err
		}
		if err := fn(kind, rec, off); err != nil {
			return err
		}
	}
	return nil
}

// recName returns the NUL-terminated name at rec[at:].
func recName(rec []byte, at int, stream int, off int64) ([]byte, error) {
	if at > len(rec) {
		return nil, streamErr(stream, off, ErrTruncated, "symbol record of %d bytes too short for its fields", len(rec)+4)
	}
	name := rec[at:]
	i := indexByte(name, 0)
	if i < 0 {
		// Some writers omit the NUL when the name fills the record exactly.
		i = len(name)
	}
	if i > maxNameLen {
		return nil, streamErr(stream, off, ErrCorrupt, "symbol name of %d bytes exceeds limit %d", i, maxNameLen)
	}
	return name[:i], nil
}

func (f *File) scanPublics(data []byte, b *symBuilder) error {
	return records(data, f.symRecStream, 0, func(kind uint16, rec []byte, off int64) error {
		if kind != sPub32 {
			return nil
		}
		// flags u32, offset u32, segment u16, name
		name, err := recName(rec, 10, f.symRecStream, off)
		if err != nil {
			return err
		}
		o := binary.LittleEndian.Uint32(rec[4:])
		seg := binary.LittleEndian.Uint16(rec[8:])
		if rva, ok := f.rva(seg, o); ok {
			if !b.add(name, rva, 0, KindPublic) {
				return streamErr(f.symRecStream, off, ErrCorrupt, "more than %d symbols", maxSymbols)
			}
		}
		return nil
	})
}

// moduleStream reads a module's symbol stream, or returns nil if the module
// has none.
func (f *File) moduleStream(mod *module) ([]byte, error) {
	if mod.symStream < 0 || f.m.streamSize(mod.symStream) == 0 {
		return nil, nil
	}
	data, err := f.m.stream(mod.symStream, "module symbols")
	if err != nil {
		return nil, err
	}
	end := uint64(mod.symBytes) + uint64(mod.c11Bytes) + uint64(mod.c13Bytes)
	if end > uint64(len(data)) {
		return nil, streamErr(mod.symStream, 0, ErrTruncated, "module %q: symbol (%d), C11 (%d) and C13 (%d) bytes exceed stream size %d",
			mod.name, mod.symBytes, mod.c11Bytes, mod.c13Bytes, len(data))
	}
	return data, nil
}

func (f *File) scanModule(mod *module, b *symBuilder) error {
	data, err := f.moduleStream(mod)
	if data == nil || err != nil {
		return err
	}
	if mod.symBytes < 4 || binary.LittleEndian.Uint32(data) != cvSignatureC13 {
		return nil // no symbols, or pre-C13 CodeView this reader does not handle
	}
	s := mod.symStream
	// Record offsets of procedures, for S_SEPCODE's parent references.
	var parents map[uint32]int
	return records(data[4:mod.symBytes], s, 4, func(kind uint16, rec []byte, off int64) error {
		var k Kind
		switch kind {
		case sGProc32, sGProc32ID:
			k = KindFunction
		case sLProc32, sLProc32ID, sLProc32DPC, sLProc32DPCID:
			k = KindStatic
		case sThunk32:
			// parent, end, next u32; offset u32; segment u16; length u16; ordinal u8; name
			name, err := recName(rec, 21, s, off)
			if err != nil {
				return err
			}
			o := binary.LittleEndian.Uint32(rec[12:])
			seg := binary.LittleEndian.Uint16(rec[16:])
			size := uint32(binary.LittleEndian.Uint16(rec[18:]))
			if rva, ok := f.rva(seg, o); ok && !b.add(name, rva, size, KindThunk) {
				return streamErr(s, off, ErrCorrupt, "more than %d symbols", maxSymbols)
			}
			return nil
		case sSepCode:
			// parent, end u32; length u32; flags u32; offset u32; parent offset u32; section u16; parent section u16
			if len(rec) < 28 {
				return streamErr(s, off, ErrTruncated, "S_SEPCODE record of %d bytes", len(rec)+4)
			}
			parent := binary.LittleEndian.Uint32(rec[0:])
			size := binary.LittleEndian.Uint32(rec[8:])
			o := binary.LittleEndian.Uint32(rec[16:])
			seg := binary.LittleEndian.Uint16(rec[24:])
			pi, ok := parents[parent]
			if !ok {
				return nil
			}
			pr := b.recs[pi]
			name := b.arena[pr.nameOff : pr.nameOff+pr.nameLen]
			if rva, ok := f.rva(seg, o); ok && !b.add(name, rva, size, pr.kind) {
				return streamErr(s, off, ErrCorrupt, "more than %d symbols", maxSymbols)
			}
			return nil
		default:
			return nil
		}
		// parent, end, next u32; code size u32; debug start, end u32;
		// type u32; offset u32; segment u16; flags u8; name
		name, err := recName(rec, 35, s, off)
		if err != nil {
			return err
		}
		size := binary.LittleEndian.Uint32(rec[12:])
		o := binary.LittleEndian.Uint32(rec[28:])
		seg := binary.LittleEndian.Uint16(rec[32:])
		rva, ok := f.rva(seg, o)
		if !ok {
			return nil
		}
		if parents == nil {
			parents = make(map[uint32]int)
		}
		parents[uint32(off)] = len(b.recs)
		if !b.add(name, rva, size, k) {
			return streamErr(s, off, ErrCorrupt, "more than %d symbols", maxSymbols)
		}
		return nil
	})
}
