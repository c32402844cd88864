package etw_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zipOf returns a zip archive whose member trace.etl holds data.
func zipOf(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	require.NoError(t, etltest.WriteZip(&b, "trace.etl", func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}))
	return b.Bytes()
}

// damageDeflate flips 64 bytes of the member's deflated data at the given
// fraction of its length.
func damageDeflate(t *testing.T, z []byte, at float64) []byte {
	z = append([]byte(nil), z...)
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	require.NoError(t, err)
	off, err := zr.File[0].DataOffset()
	require.NoError(t, err)
	pos := off + int64(float64(zr.File[0].CompressedSize64)*at)
	for i := range int64(64) {
		z[pos+i] ^= 0xA5
	}
	return z
}

// openLog opens name, reads it in order and logs what was pending at open,
// every event and error, and the statistics.
func openLog(t *testing.T, name string, order etw.Order, follow bool) []string {
	old := etw.FollowZip(follow)
	defer etw.FollowZip(old)
	var log []string
	r, err := etw.Open(name)
	if err != nil {
		return []string{"open: " + err.Error()}
	}
	defer r.Close()
	if order == etw.FileOrder {
		assert.Equal(t, follow, etw.Follows(r), "following")
	}
	require.NoError(t, r.SetOrder(order))
	for ev, err := range r.All() {
		if err != nil {
			log = append(log, "error: "+err.Error())
			continue
		}
		log = append(log, fmt.Sprintf("%d %d %d %x %x", ev.Buffer, ev.Offset, ev.Timestamp, ev.Hook, ev.Raw()))
	}
	log = append(log, fmt.Sprintf("stats %+v", r.Stats()))
	for _, err := range r.PendingErrors() {
		log = append(log, "pending: "+err.Error())
	}
	// What opening knows, asked before reading.
	r2, err := etw.Open(name)
	require.NoError(t, err)
	defer r2.Close()
	log = append(log, fmt.Sprintf("buffers %d", len(r2.Buffers())))
	for _, err := range r2.PendingErrors() {
		log = append(log, "pending at open: "+err.Error())
	}
	return log
}

// TestZipFollowSameOutcome reads zip members, whole and damaged (in the
// deflated data and in the trace), following their inflation and waiting
// for its end, in both orders: everything observable must be the same.
func TestZipFollowSameOutcome(t *testing.T) {
	comp, bufs := compressedTrace(t)
	var plain etltest.MemFile
	require.NoError(t, denseTrace(3)(&plain))
	shortData := append([]byte(nil), comp...)
	binary.LittleEndian.PutUint32(shortData[bufs[7].FileOffset+4:], bufs[7].SavedOffset+64)
	badHeader := append([]byte(nil), comp...)
	binary.LittleEndian.PutUint32(badHeader[bufs[20].FileOffset:], 3)
	cases := map[string][]byte{
		"compressed":               zipOf(t, comp),
		"compressed, bad deflate":  damageDeflate(t, zipOf(t, comp), 0.6),
		"compressed, early damage": damageDeflate(t, zipOf(t, comp), 0.05),
		"short buffer":             zipOf(t, shortData),
		"broken chain":             zipOf(t, badHeader),
		"plain":                    zipOf(t, plain.Bytes()),
		"plain, bad deflate":       damageDeflate(t, zipOf(t, plain.Bytes()), 0.5),
	}
	dir := t.TempDir()
	i := 0
	for name, z := range cases {
		i++
		path := filepath.Join(dir, fmt.Sprintf("%d.zip", i))
		require.NoError(t, os.WriteFile(path, z, 0o644))
		for _, order := range []etw.Order{etw.FileOrder, etw.TimeOrder} {
			t.Run(name+"/"+orderName(order), func(t *testing.T) {
				waited := openLog(t, path, order, false)
				followed := openLog(t, path, order, true)
				require.Equal(t, len(waited), len(followed))
				for i := range waited {
					if waited[i] != followed[i] {
						t.Fatalf("entry %d: waiting %q, following %q", i, waited[i], followed[i])
					}
				}
				assert.Greater(t, len(waited), 100, "events")
			})
		}
	}
}

// TestZipFollowEnds checks that the goroutines that inflate a member and
// decompress ahead end when a reader following the member is closed part
// way, and when it reads to the end.
func TestZipFollowEnds(t *testing.T) {
	comp, _ := compressedTrace(t)
	path := filepath.Join(t.TempDir(), "c.zip")
	require.NoError(t, os.WriteFile(path, zipOf(t, comp), 0o644))
	base := runtime.NumGoroutine()
	settled := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		require.LessOrEqual(t, runtime.NumGoroutine(), base, "goroutines left after %s", what)
	}
	for _, n := range []int{0, 10, 5000, -1} {
		r, err := etw.Open(path)
		require.NoError(t, err)
		require.True(t, etw.Follows(r), "following")
		read := 0
		for _, err := range r.All() {
			require.NoError(t, err)
			if read++; read == n {
				break
			}
		}
		require.NoError(t, r.Close())
		settled(fmt.Sprintf("Close after %d events", read))
	}
}
