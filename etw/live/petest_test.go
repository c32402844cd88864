package live

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/pe"
)

var testPDBGUID = etw.MustParseGUID("3844dbb9-2017-4967-be7a-a4a2c20430fa")

// buildPE lays out a minimal PE image for the identity tests (PE32 or PE32+) with one section
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

func TestBuiltPEHasCodeView(t *testing.T) {
	for _, plus := range []bool{true, false} {
		img := buildPE(plus, testPDBGUID, 3, "ntdll.pdb")
		f, err := pe.NewFile(bytes.NewReader(img), int64(len(img)))
		require.NoError(t, err)
		cv, ok, err := f.CodeView()
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, testPDBGUID, cv.GUID)
		assert.Equal(t, uint32(3), cv.Age)
		assert.Equal(t, "ntdll.pdb", cv.Path)
	}
}
