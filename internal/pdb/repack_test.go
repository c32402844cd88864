package pdb

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repack rewrites the PDB f as a new MSF file with the given block size and
// its streams' blocks laid out in reverse order, so that streams are not
// contiguous. It exercises block sizes other than lld's 4096 and gives the
// fuzzer small seeds.
func repack(t testing.TB, f *File, bs uint32) []byte {
	t.Helper()
	m := f.m
	n := m.numStreams()
	var streams [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, m.streamSize(i))
		require.NoError(t, m.readStream(i, b, 0, "repack"))
		streams = append(streams, b)
	}
	// Blocks: 0 superblock, 1-2 free block maps, then data.
	next := uint32(3)
	var data [][]byte // data[k] is block 3+k
	lists := make([][]uint32, n)
	for i := n - 1; i >= 0; i-- {
		s := streams[i]
		for off := 0; off < len(s); off += int(bs) {
			blk := make([]byte, bs)
			copy(blk, s[off:])
			data = append(data, blk)
			lists[i] = append(lists[i], next)
			next++
		}
	}
	var dir []byte
	dir = binary.LittleEndian.AppendUint32(dir, uint32(n))
	for i := 0; i < n; i++ {
		dir = binary.LittleEndian.AppendUint32(dir, m.streamSize(i))
	}
	for i := 0; i < n; i++ {
		for _, b := range lists[i] {
			dir = binary.LittleEndian.AppendUint32(dir, b)
		}
	}
	var blockMap []byte
	for off := 0; off < len(dir); off += int(bs) {
		blk := make([]byte, bs)
		copy(blk, dir[off:])
		data = append(data, blk)
		blockMap = binary.LittleEndian.AppendUint32(blockMap, next)
		next++
	}
	require.LessOrEqual(t, len(blockMap), int(bs), "directory too large for one block map block")
	bm := make([]byte, bs)
	copy(bm, blockMap)
	data = append(data, bm)
	blockMapAddr := next
	next++

	out := make([]byte, 3*bs, int(next)*int(bs))
	copy(out, msfMagic)
	binary.LittleEndian.PutUint32(out[32:], bs)
	binary.LittleEndian.PutUint32(out[36:], 1)
	binary.LittleEndian.PutUint32(out[40:], next)
	binary.LittleEndian.PutUint32(out[44:], uint32(len(dir)))
	binary.LittleEndian.PutUint32(out[52:], blockMapAddr)
	for _, blk := range data {
		out = append(out, blk...)
	}
	return out
}

// TestRepacked checks that a PDB repacked with other block sizes reads the
// same as the original.
func TestRepacked(t *testing.T) {
	for _, tt := range images {
		orig := openPDB(t, tt.pdb)
		want, err := orig.Symbols()
		require.NoError(t, err)
		for _, bs := range []uint32{512, 1024, 8192} {
			b := repack(t, orig, bs)
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			require.NoError(t, err, "%s at %d", tt.pdb, bs)
			assert.Equal(t, orig.GUID(), f.GUID())
			assert.Equal(t, orig.Age(), f.Age())
			got, err := f.Symbols()
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s at %d", tt.pdb, bs)
			for rva := uint32(0x1000); rva < 0x1400; rva += 3 {
				f1, l1, ok1 := orig.Line(rva)
				f2, l2, ok2 := f.Line(rva)
				require.Equal(t, ok1, ok2)
				require.Equal(t, f1, f2)
				require.Equal(t, l1, l2)
			}
		}
	}
}
