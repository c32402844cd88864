package leak

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestNTCopy checks the assembly copy of records against copy, into
// 16-byte aligned memory (non-temporal stores) and into memory that is
// not (ordinary stores), for every count up to a stage and more.
func TestNTCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]rec, 3*stageLen)
	for i := range src {
		r := &src[i]
		r.ts, r.entry, r.size, r.ref, r.refTS = rng.Int64(), rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Int64()
		r.tag, r.typ, r.session, r.pid, r.tid = rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32(), rng.Uint32()
		r.cpu, r.kind, r.op = uint16(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32())
	}
	// Records over bytes, at an offset of 0 (aligned: a large allocation
	// starts on a page) or 8 bytes.
	buf := make([]byte, (len(src)+1)*int(unsafe.Sizeof(rec{})))
	for _, off := range []uintptr{0, 8} {
		dst := unsafe.Slice((*rec)(unsafe.Add(unsafe.Pointer(&buf[0]), off)), len(src))
		require.Equal(t, off == 0, uintptr(unsafe.Pointer(&dst[0]))%16 == 0)
		for n := 0; n <= len(src); n++ {
			clear(buf)
			copyOut(dst[:n], src[:n])
			require.Equal(t, src[:n], dst[:n], "offset %d, %d records", off, n)
			for i := n; i < len(dst); i++ {
				require.Zero(t, dst[i], "offset %d, %d records: record %d written", off, n, i)
			}
		}
	}
}
