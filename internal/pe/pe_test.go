package pe

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const symDir = "../../testdata/symbols"

var images = []string{"x64dll.dll", "x86dll.dll", "driver.sys", "cppdll.dll"}

func openImage(t testing.TB, name string) (*File, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(symDir, name))
	require.NoError(t, err)
	f, err := NewFile(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return f, b
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name      string
		machine   Machine
		is64, dll bool
		base      uint64
		subsystem uint16
	}{
		{"x64dll.dll", MachineAMD64, true, true, 0x180000000, 2},
		{"x86dll.dll", MachineI386, false, true, 0x10000000, 2},
		{"driver.sys", MachineAMD64, true, false, 0x140000000, 1},
		{"cppdll.dll", MachineAMD64, true, true, 0x180000000, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, b := openImage(t, tt.name)
			require.NotEmpty(t, f.Sections)
			assert.Equal(t, tt.machine, f.Machine)
			assert.Equal(t, tt.is64, f.Is64)
			assert.Equal(t, tt.dll, f.IsDLL())
			assert.Equal(t, tt.base, f.ImageBase)
			assert.Equal(t, tt.subsystem, f.Subsystem)
			last := f.Sections[len(f.Sections)-1]
			assert.GreaterOrEqual(t, f.SizeOfImage, last.VirtualAddress+last.VirtualSize)
			assert.NotZero(t, f.TimeDateStamp)
			assert.Equal(t, ".text", f.Sections[0].Name)
			assert.Equal(t, uint32(0x1000), f.Sections[0].VirtualAddress)
			// Offset maps .text to its raw data.
			off, ok := f.Offset(0x1000)
			require.True(t, ok)
			assert.Equal(t, int64(f.Sections[0].Offset), off)
			_, ok = f.Offset(f.SizeOfImage + 0x1000)
			assert.False(t, ok)
			off, ok = f.Offset(0x3c)
			assert.True(t, ok)
			assert.Equal(t, int64(0x3c), off)
			assert.Len(t, f.ImageKey(), 8+4)
			_ = b
		})
	}
}

// readobjGolden parses the committed llvm-readobj --coff-exports
// --coff-debug-directory output.
type readobjGolden struct {
	exports []Export // RVA != 0 only
	guid    [16]byte
	age     uint32
	path    string
}

func parseReadobj(t *testing.T, name string) readobjGolden {
	t.Helper()
	fh, err := os.Open(filepath.Join(symDir, strings.TrimSuffix(name, filepath.Ext(name))+".exports.txt"))
	require.NoError(t, err)
	defer fh.Close()
	var g readobjGolden
	var cur Export
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, _ := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		switch key {
		case "Ordinal":
			n, err := strconv.ParseUint(val, 10, 32)
			require.NoError(t, err)
			cur = Export{Ordinal: uint32(n)}
		case "Name":
			cur.Name = val
		case "RVA":
			n, err := strconv.ParseUint(val, 0, 32)
			require.NoError(t, err)
			cur.RVA = uint32(n)
			if n != 0 {
				g.exports = append(g.exports, cur)
			}
		case "PDBGUID":
			hexs := strings.Fields(strings.Trim(val, "()"))
			require.Len(t, hexs, 16)
			for i, h := range hexs {
				v, err := strconv.ParseUint(h, 16, 8)
				require.NoError(t, err)
				g.guid[i] = byte(v)
			}
		case "PDBAge":
			n, err := strconv.ParseUint(val, 10, 32)
			require.NoError(t, err)
			g.age = uint32(n)
		case "PDBFileName":
			g.path = val
		}
	}
	require.NoError(t, sc.Err())
	return g
}

func TestGoldenReadobj(t *testing.T) {
	for _, name := range images {
		t.Run(name, func(t *testing.T) {
			f, _ := openImage(t, name)
			g := parseReadobj(t, name)
			cv, ok, err := f.CodeView()
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, g.guid, cv.GUID.Bytes())
			assert.Equal(t, g.age, cv.Age)
			assert.Equal(t, g.path, cv.Path)
			assert.Equal(t, strings.TrimSuffix(name, filepath.Ext(name))+".pdb", cv.Path)
			assert.Len(t, cv.Key(), 33)

			exps, err := f.Exports()
			require.NoError(t, err)
			var got []Export
			for _, e := range exps {
				got = append(got, Export{Name: e.Name, Ordinal: e.Ordinal, RVA: e.RVA})
			}
			assert.ElementsMatch(t, g.exports, got)
		})
	}
}

func TestExportsX64(t *testing.T) {
	f, _ := openImage(t, "x64dll.dll")
	exps, err := f.Exports()
	require.NoError(t, err)
	byName := map[string]Export{}
	for i, e := range exps {
		if i > 0 {
			assert.LessOrEqual(t, exps[i-1].RVA, e.RVA, "sorted by RVA")
		}
		byName[e.Name] = e
	}
	assert.Equal(t, "kernel32.Sleep", byName["ForwardedSleep"].Forwarder)
	assert.Empty(t, byName["Add"].Forwarder)
	noname, ok := byName[""]
	require.True(t, ok, "the NONAME ordinal export is listed")
	assert.Equal(t, uint32(20), noname.Ordinal)
	assert.Equal(t, byName["HelperAlias"].RVA, noname.RVA)

	e, off, ok := f.LookupExport(byName["Hash"].RVA + 5)
	require.True(t, ok)
	assert.Equal(t, "Hash", e.Name)
	assert.Equal(t, uint32(5), off)
	// Helper is exported twice (by name and NONAME ordinal): the named one wins.
	e, off, ok = f.LookupExport(byName["HelperAlias"].RVA)
	require.True(t, ok)
	assert.Equal(t, "HelperAlias", e.Name)
	assert.Zero(t, off)
	// Before the first export and in the headers: nothing.
	_, _, ok = f.LookupExport(0x10)
	assert.False(t, ok)
	// Forwarders are never lookup results.
	e, _, ok = f.LookupExport(byName["ForwardedSleep"].RVA)
	assert.True(t, !ok || e.Forwarder == "")
}

func TestNoExports(t *testing.T) {
	f, _ := openImage(t, "driver.sys")
	exps, err := f.Exports()
	require.NoError(t, err)
	assert.Empty(t, exps)
	_, _, ok := f.LookupExport(0x1000)
	assert.False(t, ok)
}

// TestTruncated cuts each image at every length and checks that NewFile and
// every accessor return an error or a result without panicking, and that
// short inputs report the right sentinels.
func TestTruncated(t *testing.T) {
	for _, name := range images {
		_, b := openImage(t, name)
		for n := 0; n < len(b); n++ {
			f, err := NewFile(bytes.NewReader(b[:n]), int64(n))
			if err != nil {
				var fe *FormatError
				require.True(t, errors.As(err, &fe), "%s[:%d]: %v", name, n, err)
				require.True(t, errors.Is(err, ErrNotPE) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt), "%v", err)
				if n < 64 {
					require.ErrorIs(t, err, ErrNotPE)
				}
				continue
			}
			exerciseAll(f)
		}
	}
}

func TestCorrupt(t *testing.T) {
	_, orig := openImage(t, "x64dll.dll")
	lfanew := int(orig[0x3c])
	tests := []struct {
		name   string
		mutate func(b []byte)
		want   error
		msg    string
	}{
		{"no MZ", func(b []byte) { b[0] = 'X' }, ErrNotPE, "MZ"},
		{"no PE", func(b []byte) { b[lfanew] = 'X' }, ErrNotPE, "PE signature"},
		{"huge lfanew", func(b []byte) { b[0x3c+3] = 0x7f }, ErrCorrupt, "e_lfanew"},
		{"bad magic", func(b []byte) { b[lfanew+24] = 0x77 }, ErrNotPE, "magic"},
		{"many sections", func(b []byte) { b[lfanew+6], b[lfanew+7] = 0xff, 0xff }, ErrCorrupt, "NumberOfSections"},
		{"section table past end", func(b []byte) { b[lfanew+6], b[lfanew+7] = 0x00, 0x10 }, ErrTruncated, "section table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			tt.mutate(b)
			_, err := NewFile(bytes.NewReader(b), int64(len(b)))
			require.ErrorIs(t, err, tt.want)
			require.ErrorContains(t, err, tt.msg)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestCorruptExports(t *testing.T) {
	_, orig := openImage(t, "x64dll.dll")
	f, _ := openImage(t, "x64dll.dll")
	dirOff, ok := f.Offset(f.Dirs[DirExport].VirtualAddress)
	require.True(t, ok)
	b := bytes.Clone(orig)
	b[dirOff+20+3] = 0x7f // NumberOfFunctions
	f2, err := NewFile(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	_, err = f2.Exports()
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "NumberOfFunctions")
	_, _, ok = f2.LookupExport(0x1000)
	assert.False(t, ok)
}

func exerciseAll(f *File) {
	_, _ = f.Exports()
	_, _, _ = f.CodeView()
	_ = f.ImageKey()
	_ = f.Machine.String()
	_ = f.IsDLL()
	for _, rva := range []uint32{0, 0x3c, 0x1000, 0x1010, 0x2000, 0x3000, f.SizeOfImage, 0xffffffff} {
		_, _, _ = f.LookupExport(rva)
		_, _ = f.Offset(rva)
		_ = f.Section(rva)
	}
	for _, s := range f.Sections {
		_, _, _ = f.LookupExport(s.VirtualAddress + 1)
	}
}
