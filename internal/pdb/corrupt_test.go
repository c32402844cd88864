package pdb

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamFileOffset maps a stream offset to its file offset.
func streamFileOffset(f *File, stream int, off uint32) int64 {
	m := f.m
	blk := m.blocks[m.first[stream]+off/m.blockSize]
	return int64(blk)*int64(m.blockSize) + int64(off%m.blockSize)
}

// TestCorruptModuleStream damages records inside a module stream and checks
// that Symbols and Line report a FormatError naming that stream, with no
// partial result.
func TestCorruptModuleStream(t *testing.T) {
	orig := readTestdata(t, "x64dll.pdb")
	p := openPDB(t, "x64dll.pdb")
	var mod *module
	for i := range p.modules {
		if p.modules[i].c13Bytes > 0 {
			mod = &p.modules[i]
			break
		}
	}
	require.NotNil(t, mod)

	t.Run("symbol record length", func(t *testing.T) {
		b := bytes.Clone(orig)
		// The first record after the CV signature: length 1 is invalid.
		binary.LittleEndian.PutUint16(b[streamFileOffset(p, mod.symStream, 4):], 1)
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		require.NoError(t, err)
		syms, err := f.Symbols()
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Nil(t, syms)
		var fe *FormatError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, mod.symStream, fe.Stream)
		assert.Equal(t, int64(4), fe.Offset)
		_, _, ok := f.Lookup(0x1000)
		assert.False(t, ok)
	})

	t.Run("line subsection length", func(t *testing.T) {
		b := bytes.Clone(orig)
		c13 := mod.symBytes + mod.c11Bytes
		// First subsection's length: far beyond the stream.
		binary.LittleEndian.PutUint32(b[streamFileOffset(p, mod.symStream, c13+4):], 0x7fffffff)
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		require.NoError(t, err)
		require.ErrorIs(t, f.LineErr(), ErrTruncated)
		_, _, ok := f.Line(0x1000)
		assert.False(t, ok)
		// Symbols do not depend on line tables.
		_, err = f.Symbols()
		require.NoError(t, err)
	})
}

func TestConcurrentLookup(t *testing.T) {
	p := openPDB(t, "cppdll.pdb")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rva := uint32(0x1000); rva < 0x1300; rva++ {
				p.Lookup(rva)
				p.Line(rva)
			}
		}()
	}
	wg.Wait()
	s, _, ok := p.Lookup(0x1000)
	require.True(t, ok)
	assert.Equal(t, "etwkit::pool::Ledger::Ledger", s.Name)
}
