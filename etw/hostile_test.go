package etw_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Goals for every crafted input (issue 16): the reader's heap stays far
// below 512 MB resident, a run takes at most 20 s, nothing is left in the
// temporary folder, and the outcome is an error or a damage report, never a
// clean answer.
const (
	hostilePeakHeap = 320 << 20 // DefaultMaxMemory and some
	hostileTime     = 20 * time.Second
)

// heapPeak samples the live heap while it runs.
type heapPeak struct {
	stop chan struct{}
	wg   sync.WaitGroup
	base uint64
	peak uint64
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{}), base: heapObjects()}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			h.peak = max(h.peak, heapObjects())
			select {
			case <-h.stop:
				return
			case <-tk.C:
			}
		}
	}()
	return h
}

// done returns the peak heap growth since start.
func (h *heapPeak) done() uint64 {
	close(h.stop)
	h.wg.Wait()
	h.peak = max(h.peak, heapObjects())
	if h.peak < h.base {
		return 0
	}
	return h.peak - h.base
}

// hostileOutcome is what reading a crafted input gave.
type hostileOutcome struct {
	openErr  error
	events   int64
	errs     []error
	final    error // a non-format error that stopped reading
	peak     uint64
	elapsed  time.Duration
	allocs   uint64
	tempLeft []string
}

// readHostile opens name with a private temporary folder and reads it to
// the end in the given order, measuring heap, time and what is left in the
// temporary folder while the reader is open and after it is closed.
func readHostile(t *testing.T, name string, order etw.Order, lim etw.Limits) hostileOutcome {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var o hostileOutcome
	allocs0 := heapAllocs()
	hp := startHeapPeak()
	start := time.Now()
	r, err := etw.OpenLimited(name, lim)
	o.openErr = err
	if err == nil {
		if runtime.GOOS != "windows" {
			// The inflated copy of a large member is unlinked at once.
			o.tempLeft = append(o.tempLeft, listDir(t, tmp)...)
		}
		require.NoError(t, r.SetOrder(order))
		for {
			ev, err := r.ReadEvent()
			if err == io.EOF {
				break
			}
			if err != nil {
				var fe *etw.FormatError
				if errors.As(err, &fe) {
					o.errs = append(o.errs, err)
					require.Less(t, len(o.errs), 1<<20, "endless errors")
					continue
				}
				o.final = err
				break
			}
			_ = ev
			o.events++
		}
		require.NoError(t, r.Close())
	}
	o.elapsed = time.Since(start)
	o.peak = hp.done()
	o.allocs = heapAllocs() - allocs0
	o.tempLeft = append(o.tempLeft, listDir(t, tmp)...)
	return o
}

func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func listDir(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkHostile asserts the goals: bounded heap and time, no temporary file
// left, and an error or a damage report.
func checkHostile(t *testing.T, o hostileOutcome) {
	t.Helper()
	t.Logf("open error: %v; %d events, %d damage reports, final error: %v; peak heap +%d MB, %d MB allocated, %v",
		o.openErr, o.events, len(o.errs), o.final, o.peak>>20, o.allocs>>20, o.elapsed.Round(time.Millisecond))
	if len(o.errs) > 0 {
		t.Logf("first damage report: %v", o.errs[0])
	}
	assert.LessOrEqual(t, o.peak, uint64(hostilePeakHeap), "peak heap")
	assert.LessOrEqual(t, o.elapsed, hostileTime, "time")
	assert.Empty(t, o.tempLeft, "files left in the temporary folder")
	assert.True(t, o.openErr != nil || o.final != nil || len(o.errs) > 0, "a crafted input read as a clean answer")
}

// writeFile writes a file in dir with write and returns its name.
func writeFile(t *testing.T, dir, name string, write func(io.Writer) error) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	bw := bufio.NewWriterSize(f, 1<<20)
	require.NoError(t, write(bw))
	require.NoError(t, bw.Flush())
	require.NoError(t, f.Close())
	return path
}

// bomb writes the compression bomb of issue 16: a header claiming 2048
// processors and 16 MiB buffers, each buffer an XPRESS stream that
// inflates to 16 MiB (about 94 MB on disk).
func bomb(o etltest.BombOptions) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := etltest.WriteBomb(w, o)
		return err
	}
}

func TestHostileBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 94 MB file")
	}
	dir := t.TempDir()
	for _, perfInfo := range []bool{false, true} {
		name := "system"
		if perfInfo {
			name = "perfinfo"
		}
		etl := writeFile(t, dir, name+".etl", bomb(etltest.BombOptions{PerfInfo: perfInfo}))
		zipped := writeFile(t, dir, name+".zip", func(w io.Writer) error {
			return etltest.WriteZip(w, "bomb.etl", bomb(etltest.BombOptions{PerfInfo: perfInfo}))
		})
		if st, err := os.Stat(etl); err == nil {
			t.Logf("%s: %d bytes", etl, st.Size())
		}
		if st, err := os.Stat(zipped); err == nil {
			t.Logf("%s: %d bytes", zipped, st.Size())
		}
		for _, file := range []string{etl, zipped + "!bomb.etl"} {
			for _, order := range []etw.Order{etw.TimeOrder, etw.FileOrder} {
				t.Run(filepath.Base(file)+"/"+orderName(order), func(t *testing.T) {
					o := readHostile(t, file, order, etw.Limits{})
					checkHostile(t, o)
					// Every buffer claims 16 MiB from about 46 KB: each is
					// reported as damage, none is inflated.
					require.Len(t, o.errs, 2048)
					assert.ErrorIs(t, o.errs[0], etw.ErrCorrupt)
					assert.ErrorContains(t, o.errs[0], "implausible")
					assert.Less(t, o.allocs, uint64(64<<20), "bytes allocated")
				})
			}
		}
	}
}

// TestHostileBombRatio18 reads 64 processors of 16 MiB buffers that expand
// 18 times, as a real trace could: in time order they need 1 GiB at once,
// over DefaultMaxMemory, so the reader stops with a LimitError.
func TestHostileBombRatio18(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 60 MB file")
	}
	name := writeFile(t, t.TempDir(), "ratio18.etl", bomb(etltest.BombOptions{Processors: 64, Distinct: 65536}))
	o := readHostile(t, name, etw.TimeOrder, etw.Limits{})
	checkHostile(t, o)
	require.ErrorIs(t, o.final, etw.ErrLimit)
	var le *etw.LimitError
	require.ErrorAs(t, o.final, &le)
	assert.Greater(t, le.Need, int64(63<<24), "what 64 buffers of 16 MiB need")
	assert.Equal(t, int64(etw.DefaultMaxMemory), le.Limit)
}

// TestHostileBombWithinRatio builds buffers that expand within MaxExpansion
// but whose processors together need more than the memory ceiling: the
// reader stops with a LimitError that says what it would have needed.
func TestHostileBombWithinRatio(t *testing.T) {
	const limit = 4 << 20
	var f etltest.MemFile
	w, err := etltest.NewWriter(&f, etltest.Options{NumberOfProcessors: 64, BufferSize: 256 << 10})
	require.NoError(t, err)
	rec := etltest.Pool(8, etltest.PoolEvent{Meta: etltest.Meta{TID: 1, PID: 1}, Opcode: etltest.PoolAlloc, Tag: etltest.Tag("Lim "), Size: 1})
	for cpu := range 64 {
		require.NoError(t, w.WriteRecord(cpu, etltest.DefaultStartTicks+int64(cpu), rec))
	}
	require.NoError(t, w.Close())
	r, err := etw.NewReaderLimited(&f, f.Size(), etw.Limits{MaxMemory: limit})
	require.NoError(t, err)
	var events int
	for ev, err := range r.All() {
		if err != nil {
			var le *etw.LimitError
			require.ErrorAs(t, err, &le)
			assert.ErrorIs(t, err, etw.ErrLimit)
			assert.Equal(t, int64(limit), le.Limit)
			assert.Greater(t, le.Need, le.Limit)
			assert.Contains(t, err.Error(), "Limits.MaxMemory")
			t.Log(err)
			break
		}
		_ = ev
		events++
	}
	assert.Zero(t, events, "time order needs every processor's first buffer at once")
	_, err = r.ReadEvent()
	assert.ErrorIs(t, err, etw.ErrLimit, "the limit error is final")

	// File order holds one buffer at a time: the same limit reads it all.
	r, err = etw.NewReaderLimited(&f, f.Size(), etw.Limits{MaxMemory: limit})
	require.NoError(t, err)
	require.NoError(t, r.SetOrder(etw.FileOrder))
	events = 0
	for ev, err := range r.All() {
		require.NoError(t, err)
		if ev.Hook == etw.HookID(uint16(etw.GroupPool)<<8|uint16(etltest.PoolAlloc)) {
			events++
		}
	}
	assert.Equal(t, 64, events)
}

// zerosMember writes a zip whose only member, name, is n zero bytes.
func zerosMember(name string, n int64) func(io.Writer) error {
	return func(w io.Writer) error {
		zw := zip.NewWriter(w)
		zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(out, flate.BestSpeed)
		})
		f, err := zw.Create(name)
		if err != nil {
			return err
		}
		zeros := make([]byte, 1<<20)
		for ; n > 0; n -= int64(len(zeros)) {
			if _, err := f.Write(zeros[:min(n, int64(len(zeros)))]); err != nil {
				return err
			}
		}
		return zw.Close()
	}
}

func TestHostileZipZeros(t *testing.T) {
	if testing.Short() {
		t.Skip("deflates 512 MiB")
	}
	dir := t.TempDir()
	// The member held 2 GiB; 512 MiB takes the same paths.
	name := writeFile(t, dir, "zeros.zip", zerosMember("zeros.etl", 512<<20))
	st, err := os.Stat(name)
	require.NoError(t, err)
	t.Logf("%s: %d bytes", name, st.Size())
	// By default the member is refused for its claimed size; with no
	// ceiling, its first 80 bytes show that it is not a trace.
	o := readHostile(t, name, etw.TimeOrder, etw.Limits{})
	checkHostile(t, o)
	require.ErrorIs(t, o.openErr, etw.ErrLimit)
	o = readHostile(t, name, etw.TimeOrder, etw.Limits{MaxZipMember: 1 << 40})
	checkHostile(t, o)
	require.ErrorIs(t, o.openErr, etw.ErrNotETL)
}

// denseTrace writes an uncompressed trace of n 1 MiB buffers full of
// pool records that differ from each other, so that it deflates about as
// well as a real trace.
func denseTrace(n int) func(io.Writer) error {
	return func(w io.Writer) error {
		wr, err := etltest.NewWriter(w, etltest.Options{BufferSize: 1 << 20, NumberOfProcessors: 4})
		if err != nil {
			return err
		}
		per := (1<<20 - etltest.BufferHeaderSize) / 56
		for i := range n * per {
			ts := etltest.DefaultStartTicks + int64(i)
			rec := etltest.Pool(8, etltest.PoolEvent{Meta: etltest.Meta{TID: etw.TID(i % 97), PID: 4, Timestamp: ts}, Opcode: etltest.PoolAlloc,
				Tag: etltest.Tag("Dens"), Size: uint64(i % 4093), Entry: 0xFFFF800000000000 + uint64(i)*0x9E3779B1})
			if err := wr.WriteRecord(i%4, ts, rec); err != nil {
				return err
			}
		}
		return wr.Close()
	}
}

// corruptZip writes a zip of the trace write produces with its deflated
// data damaged at the given fraction of its length.
func corruptZip(t *testing.T, dir string, write func(io.Writer) error, at float64) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, etltest.WriteZip(&buf, "trace.etl", write))
	b := buf.Bytes()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	off, err := zr.File[0].DataOffset()
	require.NoError(t, err)
	pos := off + int64(float64(zr.File[0].CompressedSize64)*at)
	for i := range int64(64) {
		b[pos+i] ^= 0xA5
	}
	return writeFile(t, dir, "corrupt.zip", func(w io.Writer) error { _, err := w.Write(b); return err })
}

func TestHostileZipCorruptMember(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 70 MB member")
	}
	dir := t.TempDir()
	// A 70 MB member is inflated into a temporary file, an 8 MB one in
	// memory. The events before the damage are delivered.
	for _, tc := range []struct {
		name    string
		buffers int
	}{
		{"large", 70},
		{"small", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := corruptZip(t, dir, denseTrace(tc.buffers), 0.5)
			o := readHostile(t, name+"!trace.etl", etw.FileOrder, etw.Limits{})
			checkHostile(t, o)
			require.NoError(t, o.openErr)
			assert.Greater(t, o.events, int64(1000), "events before the damage")
			require.NotEmpty(t, o.errs)
			last := o.errs[len(o.errs)-1]
			// Inflation fails (ErrTruncated) or yields garbage where the
			// next buffer header should be (ErrCorrupt).
			assert.True(t, errors.Is(last, etw.ErrTruncated) || errors.Is(last, etw.ErrCorrupt), "%v", last)
			assert.ErrorContains(t, last, "inflating stopped")
		})
	}
}

// TestHostileZipCeiling checks that a deflated member claiming more than
// its ceiling is refused before it is inflated.
func TestHostileZipCeiling(t *testing.T) {
	dir := t.TempDir()
	name := writeFile(t, dir, "bomb.zip", func(w io.Writer) error {
		return etltest.WriteZip(w, "bomb.etl", bomb(etltest.BombOptions{Processors: 4, BufferSize: 1 << 20}))
	})
	_, err := etw.OpenLimited(name, etw.Limits{MaxZipMember: 1024})
	var le *etw.LimitError
	require.ErrorAs(t, err, &le)
	assert.ErrorIs(t, err, etw.ErrLimit)
	assert.Contains(t, err.Error(), "Limits.MaxZipMember")
	r, err := etw.OpenLimited(name, etw.Limits{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

// TestHostileZipTraceThenZeros checks the running check of an inflating
// member: a trace's first buffers followed by 256 MiB of zeros stop being
// inflated 16 MiB after the last buffer, even with no size ceiling.
func TestHostileZipTraceThenZeros(t *testing.T) {
	if testing.Short() {
		t.Skip("deflates 256 MiB")
	}
	dir := t.TempDir()
	name := writeFile(t, dir, "tail.zip", func(w io.Writer) error {
		return etltest.WriteZip(w, "tail.etl", func(w io.Writer) error {
			if err := denseTrace(2)(w); err != nil {
				return err
			}
			zeros := make([]byte, 1<<20)
			for range 256 {
				if _, err := w.Write(zeros); err != nil {
					return err
				}
			}
			return nil
		})
	})
	o := readHostile(t, name, etw.FileOrder, etw.Limits{MaxZipMember: 1 << 40})
	checkHostile(t, o)
	require.NoError(t, o.openErr)
	assert.Greater(t, o.events, int64(1000))
	require.NotEmpty(t, o.errs)
	assert.ErrorContains(t, o.errs[len(o.errs)-1], "no plausible buffer header")
}
