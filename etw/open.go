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
)

// maxZipSpillInMemory is the largest deflated zip member inflated into
// memory; larger members are inflated into a temporary file so that memory
// stays bounded.
const maxZipSpillInMemory = 64 << 20

// input is an opened input: its bytes, their size, the bytes it holds on
// disk (for the memory budget), what to close, and damage found while
// preparing it (a zip member whose inflation stopped early).
type input struct {
	ra     io.ReaderAt
	size   int64
	disk   int64
	closer io.Closer
	damage error
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
	in, err := inflateMember(f, where, lim)
	if err != nil {
		return input{}, err
	}
	return in, nil
}

// inflateMember inflates a deflated zip member into memory or, over
// maxZipSpillInMemory, into a temporary file. It stops at once when the
// member does not start like an ETL file or claims more than its ceiling
// (archive/zip fails a member that inflates past its claimed size). When
// inflation fails after the start, the bytes before the damage are kept and
// the failure is returned as in.damage.
func inflateMember(f *zip.File, where string, lim Limits) (in input, err error) {
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
	defer rc.Close()
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
	fail := func(got int64, err error) {
		sentinel := ErrTruncated
		if errors.Is(err, errNoChain) {
			sentinel = ErrCorrupt
		}
		damage = &FormatError{Buffer: -1, Offset: got, RecordOffset: -1, Err: sentinel,
			Msg: fmt.Sprintf("zip member %s: inflating stopped after %d of %d bytes: %v", where, got, claimed, err)}
	}
	if claimed <= maxZipSpillInMemory {
		var data bytes.Buffer
		data.Grow(int(claimed))
		got, err := io.Copy(&chainWriter{dst: &data, bad: -1}, src)
		if err != nil {
			fail(got, err)
		}
		return input{ra: bytes.NewReader(data.Bytes()), size: int64(data.Len()), disk: int64(f.CompressedSize64), closer: nopCloser{}, damage: damage}, nil
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
