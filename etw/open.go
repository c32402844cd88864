package etw

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
)

// maxZipSpillInMemory is the largest deflated zip member inflated into
// memory; larger members are inflated into a temporary file so that memory
// stays bounded.
const maxZipSpillInMemory = 64 << 20

// input is an opened input: its bytes, their size, the bytes it holds on
// disk (for the memory budget), what to close, and damage found while
// preparing it (a zip member whose inflation stopped early). A zip member
// inflated in memory is still being inflated: src is set, and size and
// damage are known once src is done.
type input struct {
	ra     io.ReaderAt
	size   int64
	disk   int64
	closer io.Closer
	damage error
	src    *inflating
}

// inflateDamage is the damage reported for a zip member whose inflation
// stopped with err after got of its claimed bytes.
func inflateDamage(where string, got int64, claimed uint64, err error) error {
	sentinel := ErrTruncated
	if errors.Is(err, errNoChain) {
		sentinel = ErrCorrupt
	}
	return &FormatError{Buffer: -1, Offset: got, RecordOffset: -1, Err: sentinel,
		Msg: fmt.Sprintf("zip member %s: inflating stopped after %d of %d bytes: %v", where, got, claimed, err)}
}

// inflating is a zip member being inflated into memory on a goroutine of
// its own. It is an io.ReaderAt over the bytes inflated so far: a read
// waits until the bytes it asks for are there or inflation has ended, so
// that a reader can follow inflation instead of waiting for its end.
type inflating struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled as bytes arrive and at the end; L is &mu
	buf     []byte    // the claimed size; the bytes below n are final
	w       int       // bytes written, the writer's own count
	n       int64     // bytes inflated so far, published
	ended   bool      // inflation has ended; damage is set
	damage  error     // why it stopped early, or nil
	stop    bool      // Close asked inflation to stop
	done    chan struct{}
	rc, zf  io.Closer
	where   string
	claimed uint64
}

// errInflateStopped ends the inflation of a member whose reader was closed.
var errInflateStopped = errors.New("reader closed")

func (g *inflating) run(src io.Reader) {
	defer close(g.done)
	got, err := io.Copy(&chainWriter{dst: g, bad: -1}, src)
	g.rc.Close()
	g.zf.Close()
	g.mu.Lock()
	if err != nil && !errors.Is(err, errInflateStopped) {
		g.damage = inflateDamage(g.where, got, g.claimed, err)
	}
	g.ended = true
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Write appends inflated bytes; archive/zip never passes more than the
// claimed size.
func (g *inflating) Write(p []byte) (int, error) {
	g.mu.Lock()
	stop := g.stop
	g.mu.Unlock()
	if stop {
		return 0, errInflateStopped
	}
	if len(p) > len(g.buf)-g.w {
		return 0, fmt.Errorf("inflated past the claimed %d bytes", len(g.buf))
	}
	// Readers only read below n, so the bytes above it are written
	// without the lock.
	g.w += copy(g.buf[g.w:], p)
	g.mu.Lock()
	g.n = int64(g.w)
	g.cond.Broadcast()
	g.mu.Unlock()
	return len(p), nil
}

// upTo waits until the first n bytes are inflated or inflation has ended,
// and returns how many of them there are.
func (g *inflating) upTo(n int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.n < n && !g.ended {
		g.cond.Wait()
	}
	return min(n, g.n)
}

// wait waits for the end of inflation and returns the size and damage.
func (g *inflating) wait() (int64, error) {
	<-g.done
	return g.n, g.damage
}

// ReadAt reads as a bytes.Reader over the whole member would, once the
// bytes it asks for are inflated.
func (g *inflating) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("etw: negative offset")
	}
	have := g.upTo(off + int64(len(p)))
	if off >= have {
		return 0, io.EOF
	}
	n := copy(p, g.buf[off:have])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close stops inflation and waits for the goroutine to end.
func (g *inflating) Close() error {
	g.mu.Lock()
	g.stop = true
	g.mu.Unlock()
	<-g.done
	return nil
}

// openInput opens a plain file, "archive.zip!member" or "archive.zip".
func openInput(name string, lim Limits) (input, error) {
	zipName, member := splitZipName(name)
	if zipName == "" {
		f, err := os.Open(name)
		if err != nil {
			return input{}, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return input{}, err
		}
		if st.IsDir() {
			f.Close()
			return input{}, fmt.Errorf("%s: is a directory", name)
		}
		return input{ra: f, size: st.Size(), disk: st.Size(), closer: f}, nil
	}
	return openZipMember(zipName, member, lim)
}

// splitZipName splits "a.zip!m" into ("a.zip", "m") and "a.zip" into
// ("a.zip", ""). Other names return ("", "").
func splitZipName(name string) (string, string) {
	lower := strings.ToLower(name)
	if i := strings.Index(lower, ".zip!"); i >= 0 {
		return name[:i+4], name[i+5:]
	}
	if strings.HasSuffix(lower, ".zip") {
		if st, err := os.Stat(name); err == nil && !st.IsDir() {
			return name, ""
		}
	}
	return "", ""
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// tempFile closes its file and, where it was not unlinked at creation,
// removes it.
type tempFile struct {
	f      *os.File
	remove bool
}

func (t tempFile) Close() error {
	err := t.f.Close()
	if t.remove {
		if rerr := os.Remove(t.f.Name()); err == nil {
			err = rerr
		}
	}
	return err
}

// createTemp creates the file a large zip member is inflated into. Outside
// Windows it is unlinked at once, so that nothing is left behind whatever
// happens to the process; on Windows, Close removes it.
func createTemp(dir string) (tempFile, error) {
	f, err := os.CreateTemp(dir, "etwkit-*.etl")
	if err != nil {
		return tempFile{}, err
	}
	t := tempFile{f: f, remove: true}
	if runtime.GOOS != "windows" && os.Remove(f.Name()) == nil {
		t.remove = false
	}
	return t, nil
}

// zipMemberCeiling returns the largest inflated size accepted for a member
// of compressed size comp, and what sets it.
func zipMemberCeiling(comp uint64, lim Limits) (int64, string) {
	if lim.MaxZipMember > 0 {
		return lim.MaxZipMember, "Limits.MaxZipMember"
	}
	if comp > 1<<40 {
		return 1 << 62, "no ceiling"
	}
	return ZipExpansion*int64(comp) + zipMemberSlack, fmt.Sprintf("%d times the %d compressed bytes plus 4 MiB", ZipExpansion, comp)
}

func openZipMember(zipName, member string, lim Limits) (input, error) {
	zf, err := os.Open(zipName)
	if err != nil {
		return input{}, err
	}
	ok := false
	defer func() {
		if !ok {
			zf.Close()
		}
	}()
	st, err := zf.Stat()
	if err != nil {
		return input{}, err
	}
	zr, err := zip.NewReader(zf, st.Size())
	if err != nil {
		return input{}, fmt.Errorf("%s: %w", zipName, err)
	}
	var f *zip.File
	if member == "" {
		var etls []*zip.File
		for _, e := range zr.File {
			if strings.HasSuffix(strings.ToLower(e.Name), ".etl") {
				etls = append(etls, e)
			}
		}
		if len(etls) != 1 {
			names := make([]string, len(etls))
			for i, e := range etls {
				names[i] = e.Name
			}
			return input{}, fmt.Errorf("%s: holds %d .etl members %q; name one as %s!MEMBER", zipName, len(etls), names, zipName)
		}
		f = etls[0]
	} else {
		for _, e := range zr.File {
			if e.Name == member {
				f = e
				break
			}
		}
		if f == nil {
			return input{}, fmt.Errorf("%s: no member %q: %w", zipName, member, os.ErrNotExist)
		}
	}
	where := zipName + "!" + f.Name
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return input{}, fmt.Errorf("%s: %w", where, err)
		}
		size := int64(f.UncompressedSize64)
		if f.CompressedSize64 != f.UncompressedSize64 || size < 0 || off+size > st.Size() || off+size < off {
			return input{}, fmt.Errorf("%s: stored member of %d bytes (%d compressed) at offset %d does not fit a %d-byte archive: %w",
				where, f.UncompressedSize64, f.CompressedSize64, off, st.Size(), zip.ErrFormat)
		}
		ok = true
		return input{ra: io.NewSectionReader(zf, off, size), size: size, disk: size, closer: zf}, nil
	}
	in, err := inflateMember(f, zf, where, lim)
	if err != nil {
		return input{}, err
	}
	if in.src != nil {
		ok = true // the inflating goroutine closes zf
	}
	return in, nil
}

// inflateMember inflates a deflated zip member into memory or, over
// maxZipSpillInMemory, into a temporary file. It stops at once when the
// member does not start like an ETL file or claims more than its ceiling
// (archive/zip fails a member that inflates past its claimed size). When
// inflation fails after the start, the bytes before the damage are kept and
// the failure is returned as in.damage.
func inflateMember(f *zip.File, zf io.Closer, where string, lim Limits) (in input, err error) {
	ceiling, why := zipMemberCeiling(f.CompressedSize64, lim)
	claimed := f.UncompressedSize64
	if claimed > uint64(ceiling) {
		return input{}, fmt.Errorf("%s: %w", where, &LimitError{Resource: "inflating the zip member", Buffer: -1,
			Need: int64(min(claimed, 1<<62)), Limit: ceiling, Why: why})
	}
	rc, err := f.Open()
	if err != nil {
		return input{}, fmt.Errorf("%s: %w", where, err)
	}
	keep := false // rc and zf passed to the inflating goroutine
	defer func() {
		if !keep {
			rc.Close()
		}
	}()
	var head [bufferHeaderSize + 8]byte
	n, err := io.ReadFull(rc, head[:])
	if err := checkStart(head[:n]); err != nil {
		return input{}, fmt.Errorf("%s: %w", where, err)
	}
	if err != nil {
		return input{}, fmt.Errorf("%s: %w", where, err)
	}
	// archive/zip fails a member that inflates past its claimed size, and
	// checks its CRC at the end.
	src := io.MultiReader(bytes.NewReader(head[:]), rc)
	var damage error
	fail := func(got int64, err error) { damage = inflateDamage(where, got, claimed, err) }
	if claimed <= maxZipSpillInMemory {
		// Inflated on a goroutine of its own into a buffer of the claimed
		// size, which the reader may follow as it grows (see
		// OpenLimited) or wait for.
		g := &inflating{buf: make([]byte, int(claimed)), done: make(chan struct{}), rc: rc, zf: zf, where: where, claimed: claimed}
		g.cond.L = &g.mu
		go g.run(src)
		keep = true
		return input{ra: g, size: -1, disk: int64(f.CompressedSize64), closer: g, src: g}, nil
	}
	tmp, err := createTemp(lim.TempDir)
	if err != nil {
		return input{}, fmt.Errorf("%s: %w", where, err)
	}
	defer func() {
		if in.closer == nil {
			tmp.Close()
		}
	}()
	got, err := io.Copy(&chainWriter{dst: tmp.f, bad: -1}, src)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			// Writing the temporary file failed: the disk, not the member.
			return input{}, fmt.Errorf("%s: %w", where, err)
		}
		fail(got, err)
	}
	return input{ra: tmp.f, size: got, disk: int64(f.CompressedSize64), closer: tmp, damage: damage}, nil
}

// maxChainGap is how much inflated data may follow a damaged buffer header
// before a plausible one: past it, inflation stops.
const maxChainGap = MaxBufferSize

// errNoChain stops the inflation of a zip member whose buffer chain has
// broken off.
var errNoChain = errors.New("no plausible buffer header")

// chainWriter passes an ETL file's bytes to dst while following its chain
// of buffer headers, as the reader's buffer walk does, and stops with
// errNoChain once maxChainGap bytes have followed the last plausible
// header without another one at the next buffer position or at a multiple
// of the first buffer's size. So a member whose contents stop being a trace
// is not inflated to the end.
type chainWriter struct {
	dst  io.Writer
	pos  int64 // bytes accepted
	next int64 // offset of the next buffer header
	hb   [bufferHeaderSize]byte
	hn   int   // bytes of hb collected
	step int64 // the first buffer's size, the step of resynchronisation
	bad  int64 // offset of the first implausible header since the last good one, or -1
}

func (c *chainWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		if c.bad >= 0 && c.pos-c.bad >= maxChainGap {
			return done, fmt.Errorf("%w in the %d bytes after offset %d", errNoChain, c.pos-c.bad, c.bad)
		}
		var k int
		if c.pos < c.next {
			k = int(min(int64(len(p)), c.next-c.pos))
			if c.bad >= 0 {
				k = int(min(int64(k), c.bad+maxChainGap-c.pos))
			}
		} else {
			k = copy(c.hb[c.hn:], p)
			c.hn += k
		}
		n, err := c.dst.Write(p[:k])
		done += n
		c.pos += int64(n)
		if err != nil {
			return done, err
		}
		p = p[k:]
		if c.hn == bufferHeaderSize {
			c.hn = 0
			c.header()
		}
	}
	return done, nil
}

// header judges the buffer header collected at c.next.
func (c *chainWriter) header() {
	var bi BufferInfo
	parseBufferHeader(c.hb[:], &bi)
	at := c.next
	if c.step == 0 {
		c.step = int64(bi.Size)
	}
	if plausible(&bi) && (c.bad < 0 || int64(bi.Size) == c.step) {
		c.bad = -1
		c.next = at + int64(bi.Size)
		return
	}
	if c.bad < 0 {
		c.bad = at
	}
	c.next = (at/c.step + 1) * c.step
}
