package pdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/internal/bounded"
)

// Limits on MSF structures.
const (
	maxStreams     = 1 << 20   // streams in the directory
	maxStreamBytes = 256 << 20 // bytes read from one stream into memory
	maxBlocks      = 1 << 28   // NumBlocks (1 TiB at 4 KiB blocks)
)

var msfMagic = []byte("Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00")

// Well-known stream indices.
const (
	streamPDB = 1
	streamTPI = 2
	streamDBI = 3
	streamIPI = 4
	nilStream = 0xffff // "no stream" in 16-bit stream index fields
)

// msf is the multi-stream file layer: a block size and, for each stream,
// its size and block list.
type msf struct {
	r         io.ReaderAt
	size      int64
	blockSize uint32
	numBlocks uint32
	sizes     []uint32 // stream sizes; 0 for nil streams
	first     []uint32 // index into blocks of each stream's first block; len(sizes)+1 entries
	blocks    []uint32 // all streams' block indices
}

func validBlockSize(n uint32) bool {
	switch n {
	case 512, 1024, 2048, 4096, 8192, 16384, 32768:
		return true
	}
	return false
}

func openMSF(r io.ReaderAt, size int64) (*msf, error) {
	var sb [56]byte
	if size < int64(len(sb)) {
		return nil, fileErr(0, fmt.Errorf("%w (%w)", ErrNotPDB, ErrTruncated), "input of %d bytes is too short for an MSF superblock", size)
	}
	if n, err := r.ReadAt(sb[:], 0); n != len(sb) {
		return nil, fileErr(0, fmt.Errorf("%w: %v", ErrTruncated, err), "reading MSF superblock")
	}
	if !bytes.Equal(sb[:32], msfMagic) {
		return nil, fileErr(0, ErrNotPDB, "bad MSF magic")
	}
	m := &msf{r: r, size: size}
	m.blockSize = binary.LittleEndian.Uint32(sb[32:])
	m.numBlocks = binary.LittleEndian.Uint32(sb[40:])
	dirBytes := binary.LittleEndian.Uint32(sb[44:])
	blockMapAddr := binary.LittleEndian.Uint32(sb[52:])
	bs := m.blockSize
	if !validBlockSize(bs) {
		return nil, fileErr(32, ErrCorrupt, "block size %d is not a power of two in 512..32768", bs)
	}
	if m.numBlocks == 0 || m.numBlocks > maxBlocks {
		return nil, fileErr(40, ErrCorrupt, "NumBlocks %d outside 1..%d", m.numBlocks, maxBlocks)
	}
	// The file must hold every block but possibly a partial last one.
	if int64(m.numBlocks-1)*int64(bs) >= size {
		return nil, fileErr(40, ErrTruncated, "NumBlocks %d × block size %d exceeds file size %d", m.numBlocks, bs, size)
	}
	// The block map (one block) lists the directory's blocks, so the
	// directory is at most blockSize/4 blocks long.
	maxDir := uint64(bs/4) * uint64(bs)
	if dirBytes < 4 || uint64(dirBytes) > maxDir {
		return nil, fileErr(44, ErrCorrupt, "stream directory size %d outside 4..%d", dirBytes, maxDir)
	}
	if blockMapAddr >= m.numBlocks {
		return nil, fileErr(52, ErrCorrupt, "block map address %d ≥ NumBlocks %d", blockMapAddr, m.numBlocks)
	}
	ndirBlocks := (dirBytes + bs - 1) / bs
	if ndirBlocks > m.numBlocks {
		// Blocks are never shared, so the directory cannot be larger than
		// the file; this keeps a tiny file from claiming a huge directory.
		return nil, fileErr(44, ErrCorrupt, "stream directory of %d blocks exceeds NumBlocks %d", ndirBlocks, m.numBlocks)
	}
	bm := make([]byte, 4*ndirBlocks)
	if err := m.readFile(bm, int64(blockMapAddr)*int64(bs), "stream directory block map"); err != nil {
		return nil, err
	}
	dir := make([]byte, int(ndirBlocks)*int(bs))
	for i := uint32(0); i < ndirBlocks; i++ {
		b := binary.LittleEndian.Uint32(bm[4*i:])
		if b >= m.numBlocks {
			return nil, fileErr(int64(blockMapAddr)*int64(bs)+4*int64(i), ErrCorrupt, "directory block %d ≥ NumBlocks %d", b, m.numBlocks)
		}
		if err := m.readFile(dir[i*bs:(i+1)*bs], int64(b)*int64(bs), "stream directory"); err != nil {
			return nil, err
		}
	}
	dir = dir[:dirBytes]
	if err := m.parseDirectory(dir, bm); err != nil {
		return nil, err
	}
	return m, nil
}

// parseDirectory decodes the stream directory dir, whose blocks are listed
// in the block map bm.
func (m *msf) parseDirectory(dir, bm []byte) error {
	// at maps an offset in the directory to a file offset, for errors.
	at := func(pos int) int64 {
		blk := binary.LittleEndian.Uint32(bm[4*(pos/int(m.blockSize)):])
		return int64(blk)*int64(m.blockSize) + int64(pos%int(m.blockSize))
	}
	n := binary.LittleEndian.Uint32(dir)
	if n > maxStreams {
		return fileErr(at(0), ErrCorrupt, "stream directory has %d streams, limit %d", n, maxStreams)
	}
	if uint64(n)*4 > uint64(len(dir)-4) {
		return fileErr(at(0), ErrTruncated, "stream directory of %d bytes too short for %d stream sizes", len(dir), n)
	}
	m.sizes = make([]uint32, n)
	m.first = make([]uint32, n+1)
	var total uint64
	for i := range m.sizes {
		s := binary.LittleEndian.Uint32(dir[4+4*i:])
		if s == 0xffffffff {
			s = 0 // nil stream
		}
		m.sizes[i] = s
		total += (uint64(s) + uint64(m.blockSize) - 1) / uint64(m.blockSize)
	}
	// Each block belongs to at most one stream, so all streams together
	// cannot hold more blocks than the file. Without this check, streams
	// that repeat one block could claim far more bytes than the file has.
	if total > uint64(m.numBlocks) {
		return fileErr(at(0), ErrCorrupt, "streams claim %d blocks, more than NumBlocks %d", total, m.numBlocks)
	}
	rest := dir[4+4*int(n):]
	if total*4 > uint64(len(rest)) {
		return fileErr(at(0), ErrTruncated, "stream directory of %d bytes too short for %d block indices", len(dir), total)
	}
	m.blocks = make([]uint32, total)
	for i := range m.blocks {
		b := binary.LittleEndian.Uint32(rest[4*i:])
		if b >= m.numBlocks {
			return fileErr(at(len(dir)-len(rest)+4*i), ErrCorrupt, "stream block index %d ≥ NumBlocks %d", b, m.numBlocks)
		}
		m.blocks[i] = b
	}
	var k uint32
	for i, s := range m.sizes {
		m.first[i] = k
		k += (s + m.blockSize - 1) / m.blockSize
	}
	m.first[n] = k
	return nil
}

// readFile reads len(b) bytes at file offset off.
func (m *msf) readFile(b []byte, off int64, what string) error {
	switch past, err := bounded.ReadAt(m.r, m.size, b, off, ErrTruncated); {
	case past:
		return fileErr(off, err, "%s (%d bytes) extends past end of file (%d bytes)", what, len(b), m.size)
	case err != nil:
		return fileErr(off, err, "reading %s", what)
	}
	return nil
}

// numStreams returns the number of streams in the directory.
func (m *msf) numStreams() int { return len(m.sizes) }

// streamSize returns the size of stream i, or 0 for a missing stream.
func (m *msf) streamSize(i int) uint32 {
	if i < 0 || i >= len(m.sizes) {
		return 0
	}
	return m.sizes[i]
}

// readStream reads bytes [off, off+len(b)) of stream i.
func (m *msf) readStream(i int, b []byte, off uint32, what string) error {
	if i < 0 || i >= len(m.sizes) {
		return streamErr(i, int64(off), ErrCorrupt, "%s: stream %d does not exist (%d streams)", what, i, len(m.sizes))
	}
	if uint64(off)+uint64(len(b)) > uint64(m.sizes[i]) {
		return streamErr(i, int64(off), ErrTruncated, "%s (%d bytes) extends past end of stream (%d bytes)", what, len(b), m.sizes[i])
	}
	bs := m.blockSize
	blocks := m.blocks[m.first[i]:m.first[i+1]]
	for len(b) > 0 {
		bi := off / bs
		in := off % bs
		n := bs - in
		if int(n) > len(b) {
			n = uint32(len(b))
		}
		if err := m.readFile(b[:n], int64(blocks[bi])*int64(bs)+int64(in), what); err != nil {
			return err
		}
		b = b[n:]
		off += n
	}
	return nil
}

// stream reads the whole of stream i, which must not exceed maxStreamBytes.
func (m *msf) stream(i int, what string) ([]byte, error) {
	s := m.streamSize(i)
	if s > maxStreamBytes {
		return nil, streamErr(i, 0, ErrCorrupt, "%s stream of %d bytes exceeds limit %d", what, s, maxStreamBytes)
	}
	b := make([]byte, s)
	if err := m.readStream(i, b, 0, what); err != nil {
		return nil, err
	}
	return b, nil
}
