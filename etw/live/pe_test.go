package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
)

var testPDBGUID = etw.MustParseGUID("3844dbb9-2017-4967-be7a-a4a2c20430fa")

// buildPE lays out a minimal PE image (PE32 or PE32+) with one section
// holding a debug directory whose only entry is a CodeView RSDS record.
func buildPE(pe32plus bool, guid etw.GUID, age uint32, pdb string) []byte {
	le := binary.LittleEndian
	b := make([]byte, 0x600)
	b[0], b[1] = 'M', 'Z'
	le.PutUint32(b[0x3C:], 0x40)
	copy(b[0x40:], "PE\x00\x00")
	coff := 0x44
	le.PutUint16(b[coff:], 0x8664)
	le.PutUint16(b[coff+2:], 1) // sections
	opt := 0x58
	optSize, dd, cnt := 240, 112, 108
	magic := uint16(0x20b)
	if !pe32plus {
		optSize, dd, cnt, magic = 224, 96, 92, 0x10b
	}
	le.PutUint16(b[coff+16:], uint16(optSize))
	le.PutUint16(b[opt:], magic)
	le.PutUint32(b[opt+cnt:], 16)
	le.PutUint32(b[opt+dd+6*8:], 0x1010) // debug directory RVA
	le.PutUint32(b[opt+dd+6*8+4:], 28)
	sec := opt + optSize
	copy(b[sec:], ".rdata\x00\x00")
	le.PutUint32(b[sec+8:], 0x200)   // VirtualSize
	le.PutUint32(b[sec+12:], 0x1000) // VirtualAddress
	le.PutUint32(b[sec+16:], 0x200)  // SizeOfRawData
	le.PutUint32(b[sec+20:], 0x400)  // PointerToRawData
	ent := 0x410
	cv := 0x440
	cvLen := 24 + len(pdb) + 1
	le.PutUint32(b[ent+12:], 2) // CODEVIEW
	le.PutUint32(b[ent+16:], uint32(cvLen))
	le.PutUint32(b[ent+20:], 0x1040)
	le.PutUint32(b[ent+24:], uint32(cv))
	copy(b[cv:], "RSDS")
	g := guid.Bytes()
	copy(b[cv+4:], g[:])
	le.PutUint32(b[cv+20:], age)
	copy(b[cv+24:], pdb)
	return b
}

func TestReadPDBIdentity(t *testing.T) {
	for _, plus := range []bool{true, false} {
		img := buildPE(plus, testPDBGUID, 3, "ntdll.pdb")
		id, err := readPDBIdentity(bytes.NewReader(img))
		require.NoError(t, err)
		assert.Equal(t, testPDBGUID, id.GUID)
		assert.Equal(t, uint32(3), id.Age)
		assert.Equal(t, "ntdll.pdb", id.Name)
	}
}

func TestReadPDBIdentityBad(t *testing.T) {
	good := buildPE(true, testPDBGUID, 1, "x.pdb")
	le := binary.LittleEndian
	cases := map[string]func(b []byte) []byte{
		"empty":       func([]byte) []byte { return nil },
		"no MZ":       func(b []byte) []byte { b[0] = 'X'; return b },
		"far PE":      func(b []byte) []byte { le.PutUint32(b[0x3C:], 0x7FFFFFFF); return b },
		"no PE sig":   func(b []byte) []byte { b[0x40] = 'X'; return b },
		"bad magic":   func(b []byte) []byte { le.PutUint16(b[0x58:], 0x999); return b },
		"sections":    func(b []byte) []byte { le.PutUint16(b[0x46:], 1000); return b },
		"truncated":   func(b []byte) []byte { return b[:0x430] },
		"no rsds":     func(b []byte) []byte { copy(b[0x440:], "NB10"); return b },
		"no debugdir": func(b []byte) []byte { le.PutUint32(b[0x58+112+48:], 0); return b },
		"rva outside": func(b []byte) []byte { le.PutUint32(b[0x58+112+48:], 0x9000); return b },
		"few dirs":    func(b []byte) []byte { le.PutUint32(b[0x58+108:], 2); return b },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			b := mut(append([]byte(nil), good...))
			_, err := readPDBIdentity(bytes.NewReader(b))
			require.Error(t, err)
			assert.True(t, errors.Is(err, errBadPE) || errors.Is(err, errNoPDBIdentity), "%v", err)
		})
	}
}

func FuzzReadPDBIdentity(f *testing.F) {
	f.Add(buildPE(true, testPDBGUID, 1, "a.pdb"))
	f.Add(buildPE(false, testPDBGUID, 2, "b.pdb"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := readPDBIdentity(bytes.NewReader(b))
		if err == nil && len(id.Name) > maxCodeViewSize {
			t.Fatalf("name of %d bytes", len(id.Name))
		}
	})
}
