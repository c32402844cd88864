package pdb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/pe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const symDir = "../../testdata/symbols"

// images pairs each committed image with its PDB.
var images = []struct{ image, pdb string }{
	{"x64dll.dll", "x64dll.pdb"},
	{"x86dll.dll", "x86dll.pdb"},
	{"driver.sys", "driver.pdb"},
	{"cppdll.dll", "cppdll.pdb"},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(symDir, name))
	require.NoError(t, err)
	return b
}

func openPDB(t testing.TB, name string) *File {
	t.Helper()
	b := readTestdata(t, name)
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return f
}

func openPE(t testing.TB, name string) *pe.File {
	t.Helper()
	b := readTestdata(t, name)
	f, err := pe.NewFile(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return f
}

func TestIdentityMatchesImage(t *testing.T) {
	for _, tt := range images {
		t.Run(tt.pdb, func(t *testing.T) {
			img := openPE(t, tt.image)
			cv, ok, err := img.CodeView()
			require.NoError(t, err)
			require.True(t, ok)
			p := openPDB(t, tt.pdb)
			assert.Equal(t, cv.GUID, p.GUID())
			assert.Equal(t, cv.Age, p.Age())
			assert.Equal(t, cv.Key(), p.Key())
			assert.Equal(t, uint16(img.Machine), p.Machine())
		})
	}
}

// symbolizerAnswer is one llvm-symbolizer answer from a *.symbolizer.txt
// golden file or a live run.
type symbolizerAnswer struct {
	addr uint32
	fn   string // "??" when unknown
	file string // "??" when unknown
	line int
}

func parseSymbolizer(t *testing.T, text string) []symbolizerAnswer {
	t.Helper()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	require.Zero(t, len(lines)%3, "symbolizer output is address, function, file:line triples")
	var out []symbolizerAnswer
	for i := 0; i < len(lines); i += 3 {
		a, err := strconv.ParseUint(lines[i], 0, 32)
		require.NoError(t, err, "line %d", i+1)
		loc := lines[i+2]
		j := strings.LastIndexByte(loc, ':')
		require.Positive(t, j, "line %d: %q", i+3, loc)
		ln, err := strconv.Atoi(loc[j+1:])
		require.NoError(t, err)
		out = append(out, symbolizerAnswer{uint32(a), lines[i+1], loc[:j], ln})
	}
	return out
}

// checkSymbolizer compares Lookup and Line with llvm-symbolizer's answers.
//
// llvm-symbolizer (--functions=linkage --no-demangle) names a procedure by
// the public symbol at its start when there is one, so a match is the
// procedure's name or a public's name at the same RVA. Outside procedures
// it falls back to the nearest public at or before the address, even in
// another section; Lookup stays within the address's section, so such
// answers must be "nothing" from Lookup.
func checkSymbolizer(t *testing.T, p *File, img *pe.File, answers []symbolizerAnswer) {
	t.Helper()
	syms, err := p.Symbols()
	require.NoError(t, err)
	pubsAt := map[uint32][]string{}
	pubRVA := map[string]uint32{}
	for _, s := range syms {
		if s.Kind == KindPublic {
			pubsAt[s.RVA] = append(pubsAt[s.RVA], s.Name)
			pubRVA[s.Name] = s.RVA
		}
	}
	require.NotEmpty(t, answers)
	var named, lined int
	for _, a := range answers {
		sym, off, ok := p.Lookup(a.addr)
		if ok {
			assert.Equal(t, a.addr, sym.RVA+off, "%#x", a.addr)
		}
		switch {
		case a.fn == "??":
			assert.False(t, ok, "%#x: Lookup found %q, llvm-symbolizer nothing", a.addr, sym.Name)
		case ok && (sym.Name == a.fn || contains(pubsAt[sym.RVA], a.fn)):
			named++
		default:
			// Cross-section fallback of llvm-symbolizer.
			r, isPub := pubRVA[a.fn]
			sec := img.Section(a.addr)
			require.True(t, isPub, "%#x: llvm-symbolizer says %q, not a public; Lookup says %q ok=%v", a.addr, a.fn, sym.Name, ok)
			assert.True(t, sec == nil || r < sec.VirtualAddress, "%#x: llvm-symbolizer says %q (in this section), Lookup says %q ok=%v", a.addr, a.fn, sym.Name, ok)
			assert.False(t, ok, "%#x: Lookup says %q, llvm-symbolizer %q from another section", a.addr, sym.Name, a.fn)
		}
		file, line, ok := p.Line(a.addr)
		if a.line == 0 {
			assert.False(t, ok, "%#x: Line says %s:%d, llvm-symbolizer nothing", a.addr, file, line)
		} else {
			lined++
			assert.True(t, ok, "%#x: no line, llvm-symbolizer %s:%d", a.addr, a.file, a.line)
			assert.Equal(t, a.file+":"+strconv.Itoa(a.line), file+":"+strconv.Itoa(line), "%#x", a.addr)
		}
	}
	assert.Positive(t, named)
	assert.Positive(t, lined)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func goldenBase(image string) string { return strings.TrimSuffix(image, filepath.Ext(image)) }

func TestGoldenSymbolizer(t *testing.T) {
	for _, tt := range images {
		t.Run(tt.image, func(t *testing.T) {
			answers := parseSymbolizer(t, string(readTestdata(t, goldenBase(tt.image)+".symbolizer.txt")))
			checkSymbolizer(t, openPDB(t, tt.pdb), openPE(t, tt.image), answers)
		})
	}
}

// TestLiveSymbolizer asks llvm-symbolizer, when installed, about the same
// addresses as the golden files and compares its answers with ours.
func TestLiveSymbolizer(t *testing.T) {
	tool := ""
	for _, name := range []string{"llvm-symbolizer", "llvm-symbolizer-14"} {
		if p, err := exec.LookPath(name); err == nil {
			tool = p
			break
		}
	}
	if tool == "" {
		t.Skip("llvm-symbolizer not on PATH; golden comparison only")
	}
	for _, tt := range images {
		t.Run(tt.image, func(t *testing.T) {
			golden := parseSymbolizer(t, string(readTestdata(t, goldenBase(tt.image)+".symbolizer.txt")))
			var in strings.Builder
			for _, a := range golden {
				fmt.Fprintf(&in, "%#x\n", a.addr)
			}
			dir := t.TempDir()
			// llvm-symbolizer finds the PDB next to the image by its
			// CodeView file name.
			for _, n := range []string{tt.image, tt.pdb} {
				require.NoError(t, os.WriteFile(filepath.Join(dir, n), readTestdata(t, n), 0o644))
			}
			cmd := exec.Command(tool, "--obj="+filepath.Join(dir, tt.image), "--relative-address",
				"--output-style=GNU", "--print-address", "--functions=linkage", "--no-demangle", "--no-inlines")
			cmd.Stdin = strings.NewReader(in.String())
			out, err := cmd.Output()
			require.NoError(t, err)
			checkSymbolizer(t, openPDB(t, tt.pdb), openPE(t, tt.image), parseSymbolizer(t, string(out)))
		})
	}
}

var (
	pdbutilRecord = regexp.MustCompile("^\\s*\\d+ \\| (S_[A-Z0-9_]+) \\[size = \\d+\\] `(.*)`$")
	pdbutilAddr   = regexp.MustCompile(`addr = ([0-9]{4}):([0-9]+)(?:, code size = ([0-9]+))?`)
)

// TestGoldenPdbutil compares Symbols with llvm-pdbutil dump -publics
// -symbols.
func TestGoldenPdbutil(t *testing.T) {
	kinds := map[string]Kind{
		"S_PUB32": KindPublic, "S_GPROC32": KindFunction, "S_GPROC32_ID": KindFunction,
		"S_LPROC32": KindStatic, "S_LPROC32_ID": KindStatic, "S_THUNK32": KindThunk,
	}
	for _, tt := range images {
		t.Run(tt.pdb, func(t *testing.T) {
			img := openPE(t, tt.image)
			var want []Symbol
			sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, goldenBase(tt.image)+".pdbutil.txt")))
			var pending *Symbol
			for sc.Scan() {
				if m := pdbutilRecord.FindStringSubmatch(sc.Text()); m != nil {
					pending = nil
					if k, ok := kinds[m[1]]; ok {
						pending = &Symbol{Name: m[2], Kind: k}
					}
					continue
				}
				if m := pdbutilAddr.FindStringSubmatch(sc.Text()); m != nil && pending != nil {
					seg, _ := strconv.Atoi(m[1])
					off, _ := strconv.Atoi(m[2])
					require.True(t, seg >= 1 && seg <= len(img.Sections))
					pending.RVA = img.Sections[seg-1].VirtualAddress + uint32(off)
					if m[3] != "" && pending.Kind != KindPublic {
						n, _ := strconv.Atoi(m[3])
						pending.Size = uint32(n)
					}
					want = append(want, *pending)
					pending = nil
				}
			}
			require.NoError(t, sc.Err())
			require.NotEmpty(t, want)
			got, err := openPDB(t, tt.pdb).Symbols()
			require.NoError(t, err)
			assert.ElementsMatch(t, want, got)
			for i := 1; i < len(got); i++ {
				assert.LessOrEqual(t, got[i-1].RVA, got[i].RVA)
			}
		})
	}
}

func TestSymbolKinds(t *testing.T) {
	p := openPDB(t, "x64dll.pdb")
	syms, err := p.Symbols()
	require.NoError(t, err)
	kinds := map[string][]Kind{}
	for _, s := range syms {
		kinds[s.Name] = append(kinds[s.Name], s.Kind)
	}
	assert.ElementsMatch(t, []Kind{KindStatic}, kinds["square"], "static function")
	assert.ElementsMatch(t, []Kind{KindStatic}, kinds["mix"])
	assert.ElementsMatch(t, []Kind{KindFunction, KindPublic}, kinds["SumSquares"])
	assert.ElementsMatch(t, []Kind{KindPublic}, kinds["ExportedData"])

	s, off, ok := p.Lookup(0x1075)
	require.True(t, ok)
	assert.Equal(t, "square", s.Name)
	assert.Equal(t, KindStatic, s.Kind)
	assert.Equal(t, uint32(5), off)
	assert.Equal(t, uint32(37), s.Size)
	file, line, ok := p.Line(0x1075)
	require.True(t, ok)
	assert.Equal(t, "/etwkit/testdata/symbols/x64dll.c:12", fmt.Sprintf("%s:%d", file, line))
	_, _, ok = p.Lookup(0)
	assert.False(t, ok)
	_, _, ok = p.Lookup(0xffffffff)
	assert.False(t, ok)
	require.NoError(t, p.LineErr())
}

func TestX86Decorated(t *testing.T) {
	p := openPDB(t, "x86dll.pdb")
	syms, err := p.Symbols()
	require.NoError(t, err)
	var pubs []string
	for _, s := range syms {
		if s.Kind == KindPublic {
			pubs = append(pubs, s.Name)
		}
	}
	assert.Subset(t, pubs, []string{"_CdeclAdd", "_StdcallMul@8", "@FastClamp@8", "_Accumulate@4", "_DllMain@12"})
}

// TestUndecorateGolden checks that Undecorate turns each decorated public
// into the qualified name the compiler recorded for the procedure at the
// same address.
func TestUndecorateGolden(t *testing.T) {
	var pairs int
	for _, tt := range images {
		p := openPDB(t, tt.pdb)
		syms, err := p.Symbols()
		require.NoError(t, err)
		procs := map[uint32]string{}
		for _, s := range syms {
			if s.Kind == KindFunction || s.Kind == KindStatic {
				procs[s.RVA] = s.Name
			}
		}
		for _, s := range syms {
			if proc, ok := procs[s.RVA]; ok && s.Kind == KindPublic {
				assert.Equal(t, proc, p.Undecorate(s.Name), "%s: %s", tt.pdb, s.Name)
				pairs++
			}
		}
	}
	assert.Greater(t, pairs, 15)
}

func TestTruncated(t *testing.T) {
	for _, tt := range images[:2] {
		b := readTestdata(t, tt.pdb)
		for n := 0; n < len(b); n += 61 {
			f, err := Open(bytes.NewReader(b[:n]), int64(n))
			if err != nil {
				var fe *FormatError
				require.True(t, errors.As(err, &fe), "%s[:%d]: %v", tt.pdb, n, err)
				require.True(t, errors.Is(err, ErrNotPDB) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt), "%v", err)
				continue
			}
			exerciseAll(t, f)
		}
	}
}

func TestCorrupt(t *testing.T) {
	orig := readTestdata(t, "x64dll.pdb")
	put32 := func(b []byte, off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	tests := []struct {
		name   string
		mutate func(b []byte)
		want   error
		msg    string
	}{
		{"magic", func(b []byte) { b[0] = 'X' }, ErrNotPDB, "magic"},
		{"block size", func(b []byte) { put32(b, 32, 1000) }, ErrCorrupt, "block size"},
		{"num blocks", func(b []byte) { put32(b, 40, 1<<20) }, ErrTruncated, "NumBlocks"},
		{"directory size", func(b []byte) { put32(b, 44, 1<<30) }, ErrCorrupt, "directory size"},
		{"block map", func(b []byte) { put32(b, 52, 1<<20) }, ErrCorrupt, "block map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			tt.mutate(b)
			_, err := Open(bytes.NewReader(b), int64(len(b)))
			require.ErrorIs(t, err, tt.want)
			require.ErrorContains(t, err, tt.msg)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
		})
	}
	_, err := Open(bytes.NewReader(nil), 0)
	require.ErrorIs(t, err, ErrNotPDB)
}

func TestOMAP(t *testing.T) {
	om := []omapEntry{{0x1000, 0x5000}, {0x1100, 0}, {0x1200, 0x2000}}
	for _, tc := range []struct {
		in, out uint32
		ok      bool
	}{
		{0x0fff, 0, false}, {0x1000, 0x5000, true}, {0x1010, 0x5010, true}, {0x1150, 0, false}, {0x1234, 0x2034, true},
	} {
		got, ok := mapOMAP(om, tc.in)
		assert.Equal(t, tc.ok, ok, "%#x", tc.in)
		assert.Equal(t, tc.out, got, "%#x", tc.in)
	}
}

func exerciseAll(t testing.TB, f *File) {
	_ = f.GUID()
	_ = f.Age()
	_ = f.InfoAge()
	_ = f.Key()
	_ = f.Machine()
	syms, err := f.Symbols()
	if err != nil && syms != nil {
		t.Fatalf("Symbols returned both symbols and %v", err)
	}
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("Symbols: %v is not a *FormatError", err)
		}
	}
	_ = f.LineErr()
	for _, rva := range []uint32{0, 0x1000, 0x1001, 0x1075, 0x2000, 0x3000, 0xffffffff} {
		_, _, _ = f.Lookup(rva)
		_, _, _ = f.Line(rva)
	}
	for _, s := range syms {
		if got, off, ok := f.Lookup(s.RVA); ok && got.RVA+off != s.RVA {
			t.Fatalf("Lookup(%#x) = %+v+%#x", s.RVA, got, off)
		}
		_, _, _ = f.Line(s.RVA)
		_ = f.Undecorate(s.Name)
	}
}
