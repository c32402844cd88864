package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/etwkit/etwkit/internal/pdb"
	"github.com/etwkit/etwkit/internal/pe"
	"github.com/etwkit/etwkit/internal/symstore"
)

// SymbolPathEnv is the environment variable Windows tools read the symbol
// path from.
const SymbolPathEnv = "_NT_SYMBOL_PATH"

// SymbolPath returns the symbol path a tool should use: flag when it is not
// empty, else the _NT_SYMBOL_PATH environment variable (which may be empty:
// then nothing is symbolized and nothing is fetched).
func SymbolPath(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(SymbolPathEnv)
}

// SymbolOptions configure a [PathSymbolizer].
type SymbolOptions struct {
	// Logf receives warnings: PDBs refused for a GUID/age mismatch, damaged
	// files, symbol-server errors. Nil discards them.
	Logf func(format string, args ...any)
	// Context bounds downloads from symbol servers; nil means Background.
	Context context.Context
	// DefaultStore is the cache folder for downloads when the path names
	// none (see the symstore rules); empty means the user cache folder.
	DefaultStore string
}

// PathSymbolizer symbolizes frames from PDBs and PE images found on a
// symbol path in _NT_SYMBOL_PATH syntax: plain folders, symbol stores
// (one- and two-tier, file.ptr, compressed files) and HTTP symbol servers
// with a local cache.
//
// For a module it tries, in order: the PDB named by the trace's
// DbgID_RSDS identity; else the image file (found by TimeDateStamp and
// size), its CodeView record's PDB, and failing that the image's export
// table. A PDB whose GUID and age differ from the identity asked for is
// refused with a warning. Each module's source is looked up once and
// cached. It is safe for concurrent use.
type PathSymbolizer struct {
	store    *symstore.Store
	opts     SymbolOptions
	mu       sync.Mutex
	cache    map[moduleKey]*symSource
	byModule map[*Module]*symSource // fast path: the same module again
}

type moduleKey struct {
	name string
	pdb  string
	ts   uint32
	size uint64
}

// symSource is what symbolizes one module: a PDB, an image's exports, or
// nothing.
type symSource struct {
	pdb     *pdb.File
	exports *pe.File
	files   []*os.File
}

// NewPathSymbolizer returns a symbolizer for the symbol path (see
// [SymbolPath]). An empty path gives a symbolizer that finds nothing.
func NewPathSymbolizer(path string, opts *SymbolOptions) (*PathSymbolizer, error) {
	p, err := symstore.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("stacks: symbol path: %w", err)
	}
	s := &PathSymbolizer{cache: map[moduleKey]*symSource{}, byModule: map[*Module]*symSource{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Context == nil {
		s.opts.Context = context.Background()
	}
	s.store = symstore.New(p, &symstore.Options{Logf: s.opts.Logf, DefaultStore: s.opts.DefaultStore, Verify: verifyPDB})
	return s, nil
}

// verifyPDB checks a PDB found flat in a folder against the key asked for.
func verifyPDB(path, name, key string) error {
	if !strings.HasSuffix(strings.ToLower(name), ".pdb") {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	p, err := pdb.Open(f, st.Size())
	if err != nil {
		return err
	}
	if !strings.EqualFold(p.Key(), key) {
		return fmt.Errorf("PDB %s has identity %s, want %s", path, p.Key(), key)
	}
	return nil
}

// Close closes the files the symbolizer opened.
func (s *PathSymbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, src := range s.cache {
		for _, f := range src.files {
			errs = append(errs, f.Close())
		}
		src.files = nil
	}
	return errors.Join(errs...)
}

func (s *PathSymbolizer) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// Symbolize implements [Symbolizer].
func (s *PathSymbolizer) Symbolize(m *Module, rva uint64) (Symbol, bool) {
	if rva > 0xFFFFFFFF {
		return Symbol{}, false
	}
	src := s.source(m)
	switch {
	case src.pdb != nil:
		sym, off, ok := src.pdb.Lookup(uint32(rva))
		if !ok {
			return Symbol{}, false
		}
		out := Symbol{Name: src.pdb.Undecorate(sym.Name), Decorated: sym.Name, RVA: rva - uint64(off)}
		if file, line, ok := src.pdb.Line(uint32(rva)); ok {
			out.File, out.Line = file, line
		}
		return out, true
	case src.exports != nil:
		e, off, ok := src.exports.LookupExport(uint32(rva))
		if !ok || e.Name == "" {
			return Symbol{}, false
		}
		return Symbol{Name: pdb.Undecorate(e.Name), Decorated: e.Name, RVA: rva - uint64(off)}, true
	}
	return Symbol{}, false
}

// Line implements [LineSymbolizer]: the source line of rva from the
// module's PDB.
func (s *PathSymbolizer) Line(m *Module, rva uint64) (string, int, bool) {
	if rva > 0xFFFFFFFF {
		return "", 0, false
	}
	if src := s.source(m); src.pdb != nil {
		return src.pdb.Line(uint32(rva))
	}
	return "", 0, false
}

// ImageFile returns the path of the module's image file on the symbol path
// (found by name, TimeDateStamp and size, as debuggers find images), or
// "" when the path does not hold it.
func (s *PathSymbolizer) ImageFile(m *Module) string {
	if m.TimeDateStamp == 0 || m.Size == 0 || m.Size > 0xFFFFFFFF {
		return ""
	}
	path, err := s.store.FindPE(s.opts.Context, symstore.PEKey{Name: m.Name, TimeDateStamp: m.TimeDateStamp, SizeOfImage: uint32(m.Size)})
	if err != nil {
		if !errors.Is(err, symstore.ErrNotFound) {
			s.logf("stacks: %s: %v", m.Name, err)
		}
		return ""
	}
	return path
}

func (s *PathSymbolizer) source(m *Module) *symSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src, ok := s.byModule[m]; ok {
		return src
	}
	k := moduleKey{name: strings.ToLower(m.Name), ts: m.TimeDateStamp, size: m.Size}
	if m.PDB != nil {
		k.pdb = m.PDB.BuildID()
	}
	if src, ok := s.cache[k]; ok {
		s.byModule[m] = src
		return src
	}
	src := &symSource{}
	s.cache[k] = src
	s.byModule[m] = src
	ctx := s.opts.Context
	if m.PDB != nil {
		if f := s.openPDB(ctx, src, m.PDB.Name, m.PDB, m.Name); f != nil {
			src.pdb = f
			return src
		}
	}
	path := s.ImageFile(m)
	if path == "" {
		return src
	}
	img, file, err := openPE(path)
	if err != nil {
		s.logf("stacks: %s: %v", path, err)
		return src
	}
	src.files = append(src.files, file)
	if cv, ok, err := img.CodeView(); err == nil && ok {
		want := &PDB{GUID: cv.GUID, Age: cv.Age, Name: cv.Path}
		if m.PDB != nil && (m.PDB.GUID != cv.GUID || m.PDB.Age != cv.Age) {
			s.logf("stacks: %s: image's CodeView record names PDB %s, the trace says %s", path, want.BuildID(), m.PDB.BuildID())
		} else if f := s.openPDB(ctx, src, cv.Path, want, m.Name); f != nil {
			src.pdb = f
			return src
		}
	}
	src.exports = img
	return src
}

// openPDB finds and opens the PDB with the given identity and verifies it.
func (s *PathSymbolizer) openPDB(ctx context.Context, src *symSource, name string, want *PDB, module string) *pdb.File {
	path, err := s.store.FindPDB(ctx, symstore.PDBKey{Name: name, GUID: want.GUID, Age: want.Age})
	if err != nil {
		if !errors.Is(err, symstore.ErrNotFound) {
			s.logf("stacks: %s: PDB %s: %v", module, name, err)
		}
		return nil
	}
	fh, err := os.Open(path)
	if err != nil {
		s.logf("stacks: %v", err)
		return nil
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil
	}
	f, err := pdb.Open(fh, st.Size())
	if err != nil {
		fh.Close()
		s.logf("stacks: %s: %v", path, err)
		return nil
	}
	if f.GUID() != want.GUID || f.Age() != want.Age {
		fh.Close()
		s.logf("stacks: %s: PDB %s has GUID/age %s, module wants %s: refused, frames stay module+offset", module, path, strings.ToLower(f.Key()), want.BuildID())
		return nil
	}
	src.files = append(src.files, fh)
	return f
}

func openPE(path string) (*pe.File, *os.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	img, err := pe.NewFile(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	return img, fh, nil
}
