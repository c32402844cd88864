package pe

import (
	"encoding/binary"
	"sort"
)

// Export is one export table entry.
type Export struct {
	Name      string // exported name; empty for an export by ordinal only (NONAME)
	Ordinal   uint32 // biased ordinal (OrdinalBase + index), as used by GetProcAddress
	RVA       uint32 // address of the export; for a forwarder, the RVA of the forwarder string
	Forwarder string // "DLL.Name" or "DLL.#123" for a forwarded export; empty otherwise
}

// Exports returns the export table sorted by RVA; exports sharing an RVA
// are ordered named first, then by name and ordinal. Unused address table
// slots (RVA 0) are omitted. An image without an export directory has no
// exports and no error. The returned slice is shared: do not modify it.
func (f *File) Exports() ([]Export, error) {
	f.expOnce.Do(f.loadExports)
	return f.exports, f.expErr
}

// LookupExport returns the non-forwarded export at or before rva in the same
// section, and rva's offset from it. It is the fallback symbolization for
// images without a PDB; an address past the last export of its section is
// still attributed to that export, which may be wrong for non-exported
// code.
func (f *File) LookupExport(rva uint32) (e Export, offset uint32, ok bool) {
	f.expOnce.Do(f.loadExports)
	l := f.lookup
	i := sort.Search(len(l), func(i int) bool { return f.exports[l[i]].RVA > rva }) - 1
	if i < 0 {
		return Export{}, 0, false
	}
	// Among exports sharing this RVA, take the first (named ones sort first).
	for i > 0 && f.exports[l[i-1]].RVA == f.exports[l[i]].RVA {
		i--
	}
	e = f.exports[l[i]]
	s := f.Section(e.RVA)
	if s == nil || !s.contains(rva) {
		return Export{}, 0, false
	}
	return e, rva - e.RVA, true
}

func (f *File) loadExports() {
	f.exports, f.expErr = f.parseExports()
	for i := range f.exports {
		if f.exports[i].Forwarder == "" {
			f.lookup = append(f.lookup, int32(i))
		}
	}
}

func (f *File) parseExports() ([]Export, error) {
	dir := f.Dirs[DirExport]
	if dir.VirtualAddress == 0 || dir.Size == 0 {
		return nil, nil
	}
	var h [40]byte
	if err := f.readRVA(h[:], dir.VirtualAddress, "export directory"); err != nil {
		return nil, err
	}
	base := binary.LittleEndian.Uint32(h[16:])
	nfuncs := binary.LittleEndian.Uint32(h[20:])
	nnames := binary.LittleEndian.Uint32(h[24:])
	funcsRVA := binary.LittleEndian.Uint32(h[28:])
	namesRVA := binary.LittleEndian.Uint32(h[32:])
	ordsRVA := binary.LittleEndian.Uint32(h[36:])
	off, _ := f.Offset(dir.VirtualAddress)
	if nfuncs > maxExports {
		return nil, formatErr(off+20, ErrCorrupt, "export NumberOfFunctions %d exceeds limit %d", nfuncs, maxExports)
	}
	if nnames > maxExports {
		return nil, formatErr(off+24, ErrCorrupt, "export NumberOfNames %d exceeds limit %d", nnames, maxExports)
	}
	funcs := make([]byte, 4*nfuncs)
	if err := f.readRVA(funcs, funcsRVA, "export address table"); err != nil {
		return nil, err
	}
	names := make([]byte, 4*nnames)
	ords := make([]byte, 2*nnames)
	if nnames > 0 {
		if err := f.readRVA(names, namesRVA, "export name pointer table"); err != nil {
			return nil, err
		}
		if err := f.readRVA(ords, ordsRVA, "export ordinal table"); err != nil {
			return nil, err
		}
	}
	// Name for each address table index; the first name wins, further names
	// for the same index become extra entries.
	exps := make([]Export, 0, nfuncs)
	named := make([]bool, nfuncs)
	dirEnd := uint64(dir.VirtualAddress) + uint64(dir.Size)
	entry := func(idx uint32, name string) (Export, error) {
		rva := binary.LittleEndian.Uint32(funcs[4*idx:])
		e := Export{Name: name, Ordinal: base + idx, RVA: rva}
		if rva >= dir.VirtualAddress && uint64(rva) < dirEnd {
			fw, err := f.cstringAt(rva, maxNameLen, "export forwarder")
			if err != nil {
				return Export{}, err
			}
			e.Forwarder = fw
		}
		return e, nil
	}
	for i := uint32(0); i < nnames; i++ {
		idx := uint32(binary.LittleEndian.Uint16(ords[2*i:]))
		if idx >= nfuncs {
			return nil, formatErr(-1, ErrCorrupt, "export name %d has ordinal index %d outside the address table (%d entries)", i, idx, nfuncs)
		}
		nameRVA := binary.LittleEndian.Uint32(names[4*i:])
		name, err := f.cstringAt(nameRVA, maxNameLen, "export name")
		if err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(funcs[4*idx:]) == 0 {
			continue
		}
		e, err := entry(idx, name)
		if err != nil {
			return nil, err
		}
		named[idx] = true
		exps = append(exps, e)
	}
	for idx := uint32(0); idx < nfuncs; idx++ {
		if named[idx] || binary.LittleEndian.Uint32(funcs[4*idx:]) == 0 {
			continue
		}
		e, err := entry(idx, "")
		if err != nil {
			return nil, err
		}
		exps = append(exps, e)
	}
	sort.Slice(exps, func(i, j int) bool {
		a, b := &exps[i], &exps[j]
		if a.RVA != b.RVA {
			return a.RVA < b.RVA
		}
		if (a.Name == "") != (b.Name == "") {
			return a.Name != ""
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Ordinal < b.Ordinal
	})
	return exps, nil
}
