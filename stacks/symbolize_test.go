package stacks

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/pdb"
	"github.com/etwkit/etwkit/internal/pe"
	"github.com/etwkit/etwkit/internal/symstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var symbolsDir = filepath.Join(corpus.ModuleRoot(), "testdata", "symbols")

// testImage describes one of the committed test images as a trace would:
// a module with its PDB identity (from DbgID_RSDS) or without it.
func testModule(t *testing.T, image string, withPDB bool) *Module {
	t.Helper()
	f, err := os.Open(filepath.Join(symbolsDir, image))
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	img, err := pe.NewFile(f, st.Size())
	require.NoError(t, err)
	m := &Module{Name: image, Path: `\Device\HarddiskVolume3\test\` + image, Base: 0x10000000, Size: uint64(img.SizeOfImage),
		TimeDateStamp: img.TimeDateStamp, Loaded: -Always, Unloaded: Always, Bits: 64}
	if withPDB {
		cv, ok, err := img.CodeView()
		require.NoError(t, err)
		require.True(t, ok)
		m.PDB = &PDB{GUID: cv.GUID, Age: cv.Age, Name: cv.Path}
	}
	return m
}

type golden struct {
	rva  uint64
	name string
	line string
}

// readGolden reads llvm-symbolizer's answers (GNU style: address, linkage
// name, file:line per address) committed beside the images.
func readGolden(t *testing.T, image string) []golden {
	t.Helper()
	f, err := os.Open(filepath.Join(symbolsDir, strings.TrimSuffix(image, filepath.Ext(image))+".symbolizer.txt"))
	require.NoError(t, err)
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i := 0; i+2 < len(lines); i += 3 {
		rva, err := strconv.ParseUint(strings.TrimPrefix(lines[i], "0x"), 16, 64)
		require.NoError(t, err)
		out = append(out, golden{rva: rva, name: lines[i+1], line: lines[i+2]})
	}
	return out
}

// storeLayout copies the test images and PDBs into a one-tier symbol store.
func storeLayout(t *testing.T, root string) {
	t.Helper()
	for _, image := range []string{"x64dll.dll", "x86dll.dll", "driver.sys", "cppdll.dll"} {
		m := testModule(t, image, true)
		pdbName := filepath.Base(strings.ReplaceAll(m.PDB.Name, `\`, "/"))
		key := symstore.PDBKey{Name: pdbName, GUID: m.PDB.GUID, Age: m.PDB.Age}.Dir()
		copyFile(t, filepath.Join(symbolsDir, strings.TrimSuffix(image, filepath.Ext(image))+".pdb"), filepath.Join(root, pdbName, key, pdbName))
		ikey := symstore.PEKey{Name: image, TimeDateStamp: m.TimeDateStamp, SizeOfImage: uint32(m.Size)}.Dir()
		copyFile(t, filepath.Join(symbolsDir, image), filepath.Join(root, image, ikey, image))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

// checkAgainstGolden symbolizes every golden address of an image that lies
// inside a procedure and compares the function (undecorated) and file:line
// with llvm-symbolizer's. (llvm-symbolizer also names the padding after a
// procedure by it; we do not.)
func checkAgainstGolden(t *testing.T, s Symbolizer, image string, withPDB bool) {
	t.Helper()
	m := testModule(t, image, withPDB)
	f, err := os.Open(filepath.Join(symbolsDir, strings.TrimSuffix(image, filepath.Ext(image))+".pdb"))
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	p, err := pdb.Open(f, st.Size())
	require.NoError(t, err)
	syms, err := p.Symbols()
	require.NoError(t, err)
	inProc := func(rva uint64) bool {
		for _, s := range syms {
			if s.Size > 0 && rva >= uint64(s.RVA) && rva < uint64(s.RVA)+uint64(s.Size) {
				return true
			}
		}
		return false
	}
	matched := 0
	for _, g := range readGolden(t, image) {
		if g.name == "??" || !inProc(g.rva) {
			continue
		}
		sym, ok := s.Symbolize(m, g.rva)
		if !assert.True(t, ok, "%s+0x%x", image, g.rva) {
			continue
		}
		assert.Equal(t, p.Undecorate(g.name), sym.Name, "%s+0x%x", image, g.rva)
		if !strings.HasPrefix(g.line, "??") && !strings.HasSuffix(g.line, ":0") {
			f := &Frame{Symbol: &sym}
			assert.Equal(t, g.line, f.Line(), "%s+0x%x", image, g.rva)
		}
		matched++
	}
	assert.NotZero(t, matched)
}

func TestPathSymbolizerFolderStoreHTTP(t *testing.T) {
	images := []string{"x64dll.dll", "x86dll.dll", "driver.sys", "cppdll.dll"}

	t.Run("flat folder", func(t *testing.T) {
		s, err := NewPathSymbolizer(symbolsDir, nil)
		require.NoError(t, err)
		defer s.Close()
		for _, img := range images {
			checkAgainstGolden(t, s, img, true)
		}
	})

	t.Run("store, PDB found through the image", func(t *testing.T) {
		root := t.TempDir()
		storeLayout(t, root)
		s, err := NewPathSymbolizer("srv*"+root, nil)
		require.NoError(t, err)
		defer s.Close()
		for _, img := range images {
			checkAgainstGolden(t, s, img, false)
		}
	})

	t.Run("HTTP store with cache", func(t *testing.T) {
		root := t.TempDir()
		storeLayout(t, root)
		var requests atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			http.FileServer(http.Dir(root)).ServeHTTP(w, r)
		}))
		defer srv.Close()
		cache := t.TempDir()
		s, err := NewPathSymbolizer("srv*"+cache+"*"+srv.URL, &SymbolOptions{Context: context.Background()})
		require.NoError(t, err)
		for _, img := range images {
			checkAgainstGolden(t, s, img, true)
		}
		s.Close()
		first := requests.Load()
		assert.NotZero(t, first)
		// A new symbolizer finds everything in the cache.
		s2, err := NewPathSymbolizer("srv*"+cache+"*"+srv.URL, nil)
		require.NoError(t, err)
		defer s2.Close()
		for _, img := range images {
			checkAgainstGolden(t, s2, img, true)
		}
		assert.Equal(t, first, requests.Load(), "second run served from the cache")
	})
}

func TestPathSymbolizerRefusesMismatchedPDB(t *testing.T) {
	root := t.TempDir()
	storeLayout(t, root)
	m := testModule(t, "x64dll.dll", true)
	// Put x86dll.pdb where x64dll.pdb's identity points.
	pdbName := filepath.Base(strings.ReplaceAll(m.PDB.Name, `\`, "/"))
	key := symstore.PDBKey{Name: pdbName, GUID: m.PDB.GUID, Age: m.PDB.Age}.Dir()
	copyFile(t, filepath.Join(symbolsDir, "x86dll.pdb"), filepath.Join(root, pdbName, key, pdbName))
	var warnings []string
	s, err := NewPathSymbolizer("srv*"+root, &SymbolOptions{Logf: func(f string, a ...any) {
		warnings = append(warnings, f)
	}})
	require.NoError(t, err)
	defer s.Close()
	m.PDB.Name = pdbName
	_, ok := s.Symbolize(m, 0x1000)
	// The image's own CodeView names the same (wrong) PDB, so only exports
	// remain, or nothing.
	_ = ok
	require.NotEmpty(t, warnings)
	assert.Contains(t, strings.Join(warnings, "\n"), "refused")
	f := Frame{Addr: m.Base + 0x1000, Module: m}
	assert.Equal(t, "x64dll.dll+0x1000", f.String())
}

func TestEmptySymbolPathFindsNothing(t *testing.T) {
	s, err := NewPathSymbolizer("", nil)
	require.NoError(t, err)
	_, ok := s.Symbolize(testModule(t, "x64dll.dll", true), 0x1000)
	assert.False(t, ok)
}
