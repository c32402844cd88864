package symstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxDownload is the default cap on one downloaded, copied or
// unpacked file: 1 GiB.
const DefaultMaxDownload int64 = 1 << 30

// DefaultIdleTimeout is how long an HTTP request may wait for the response
// headers or for the next bytes of the body, unless [Options.IdleTimeout]
// says otherwise.
const DefaultIdleTimeout = time.Minute

// UserAgent is sent with every HTTP request.
const UserAgent = "etwkit-symstore"

// maxPtrFile is the largest file.ptr read, in bytes.
const maxPtrFile = 4 << 10

// ErrNotFound is matched (with errors.Is) by the error a lookup returns
// when no entry of the path has the file.
var ErrNotFound = errors.New("symstore: file not found")

// ErrTooLarge is wrapped by errors about files over [Options.MaxDownload].
var ErrTooLarge = errors.New("symstore: file too large")

// ErrServer is wrapped by errors about HTTP answers other than success or
// "not found".
var ErrServer = errors.New("symstore: symbol server error")

// ErrBadPointer is wrapped by errors about a file.ptr that names no usable
// path.
var ErrBadPointer = errors.New("symstore: malformed file.ptr")

// ErrStoreMessage is wrapped by errors carrying a store's MSG: file.ptr
// text, which explains why a file is not available.
var ErrStoreMessage = errors.New("symstore: symbol store message")

// LookupError is returned when no entry of the path had the file. It
// matches [ErrNotFound] and unwraps to the problems met on the way (server
// errors, unreadable files, refused downloads), which did not stop the
// search.
type LookupError struct {
	Name, Key string
	Errs      []error
}

// Error describes the failed lookup and the problems met.
func (e *LookupError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "symstore: %s/%s/%s not found", e.Name, e.Key, e.Name)
	for i, err := range e.Errs {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
		if i == len(e.Errs)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// Is reports whether target is [ErrNotFound].
func (e *LookupError) Is(target error) bool { return target == ErrNotFound }

// Unwrap returns the problems met during the search.
func (e *LookupError) Unwrap() []error { return e.Errs }

// Options configure a [Store]. The zero value is usable.
type Options struct {
	// Client performs HTTP requests. Nil means a client of the package's
	// own, with connection and response-header timeouts, that refuses
	// redirects from https to http.
	Client *http.Client
	// MaxDownload caps every file downloaded, copied into a downstream
	// store, or unpacked from a CAB file, in bytes. Zero means
	// [DefaultMaxDownload].
	MaxDownload int64
	// IdleTimeout is how long an HTTP request may wait for the response
	// headers, or for more body bytes, before it fails; a slow but
	// progressing download is not cut off. Zero means
	// [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// Logf, if set, receives warnings: server errors, unreadable stores,
	// refused downloads, failed copies. Lookups go on after a warning.
	Logf func(format string, args ...any)
	// DefaultStore is the folder used for the default downstream store
	// (srv**URL, a bare cache*), for srv*URL chains without a local store,
	// and for unpacking compressed files found in stores that are not
	// downstream stores. Empty means $XDG_CACHE_HOME/etwkit/sym or its
	// platform equivalent (os.UserCacheDir).
	DefaultStore string
	// Verify, if set, is called for a file found flat in a plain folder
	// (not in store layout, so not identified by its key); a non-nil
	// error rejects the candidate and the search goes on. The symbolizer
	// uses it to check a PDB's GUID and age.
	Verify func(path, name, key string) error
	// IgnoreRemotePointers makes a file.ptr served by an HTTP server count
	// as absent instead of being followed to the local or UNC path it
	// names.
	IgnoreRemotePointers bool
}

// Store finds files along a symbol [Path]. It keeps per-session state: the
// URLs a server answered "not found" (never asked again), in-flight
// lookups (one per file at a time), and which stores use the two-tier
// layout. A Store is safe for concurrent use.
type Store struct {
	path    Path
	opts    Options
	client  *http.Client
	limit   int64
	timeout time.Duration

	mu      sync.Mutex
	absent  map[string]struct{}
	flights map[string]*flight
	twoTier sync.Map // store root -> bool
}

// New returns a Store searching p. opts may be nil.
func New(p Path, opts *Options) *Store {
	s := &Store{path: p, absent: map[string]struct{}{}, flights: map[string]*flight{}}
	if opts != nil {
		s.opts = *opts
	}
	s.client = s.opts.Client
	if s.client == nil {
		s.client = defaultClient()
	}
	s.limit = s.opts.MaxDownload
	if s.limit <= 0 {
		s.limit = DefaultMaxDownload
	}
	s.timeout = s.opts.IdleTimeout
	if s.timeout <= 0 {
		s.timeout = DefaultIdleTimeout
	}
	return s
}

// Path returns the symbol path s searches.
func (s *Store) Path() Path { return s.path }

// FindPDB returns a local path to the PDB identified by k. See [Store.Find].
func (s *Store) FindPDB(ctx context.Context, k PDBKey) (string, error) {
	return s.Find(ctx, k.Name, k.Dir())
}

// FindPE returns a local path to the image identified by k. See
// [Store.Find].
func (s *Store) FindPE(ctx context.Context, k PEKey) (string, error) {
	return s.Find(ctx, k.Name, k.Dir())
}

// Find returns a local path to the file name stored under key (the KEY
// folder of name/KEY/name, see [PDBKey.Dir] and [PEKey.Dir]), searching
// the entries of the path in order. A full path in name is reduced to its
// last element.
//
// In each store it looks for name, then the CAB-compressed name with its
// last character replaced by '_' (unpacked when it is stored or MSZIP;
// LZX is reported as [ErrUnsupported]), then a file.ptr. A file found in an
// upstream store or on an HTTP server is copied (or downloaded) into every
// downstream store of its chain, and the most downstream copy is returned.
//
// When the file is nowhere, the error is a [*LookupError] matching
// [ErrNotFound] and carrying any problems met. A malformed name or key
// gives [ErrBadName]; a done ctx stops the search with ctx.Err().
func (s *Store) Find(ctx context.Context, name, key string) (string, error) {
	name = baseName(name)
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	var errs []error
	for i := range s.path.Entries {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		fkey := strconv.Itoa(i) + "\x00" + name + "\x00" + key
		p, werrs, err := s.do(ctx, fkey, func() (string, []error, error) {
			l := &lookup{s: s, ctx: ctx, name: name, key: key}
			p, err := l.entry(&s.path.Entries[i])
			return p, l.errs, err
		})
		errs = append(errs, werrs...)
		if err != nil {
			return "", err
		}
		if p != "" {
			return p, nil
		}
	}
	return "", &LookupError{Name: name, Key: key, Errs: errs}
}

// flight is one in-progress lookup of a file in one path entry.
type flight struct {
	done chan struct{}
	path string
	errs []error
	err  error
}

// do runs fn unless a lookup with the same key is in flight, in which case
// it waits for that one's result. A waiter whose own ctx is still live
// retries when the leader was cancelled.
func (s *Store) do(ctx context.Context, key string, fn func() (string, []error, error)) (string, []error, error) {
	for {
		s.mu.Lock()
		if f, ok := s.flights[key]; ok {
			s.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", nil, ctx.Err()
			}
			if f.err != nil && isCtxErr(f.err) && ctx.Err() == nil {
				continue
			}
			return f.path, nil, f.err
		}
		f := &flight{done: make(chan struct{})}
		s.flights[key] = f
		s.mu.Unlock()
		func() {
			defer func() {
				s.mu.Lock()
				delete(s.flights, key)
				s.mu.Unlock()
				close(f.done)
			}()
			f.path, f.errs, f.err = fn()
		}()
		return f.path, f.errs, f.err
	}
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (s *Store) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// defaultStore resolves the default downstream store.
func (s *Store) defaultStore() (string, error) {
	if s.opts.DefaultStore != "" {
		return s.opts.DefaultStore, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("symstore: no default downstream store: %w", err)
	}
	return filepath.Join(dir, "etwkit", "sym"), nil
}

// storeRoot resolves a store name from a Path ("" is the default store).
func (s *Store) storeRoot(dir string) (string, error) {
	if dir == "" {
		return s.defaultStore()
	}
	return dir, nil
}

// isTwoTier reports whether the store at root has index2.txt, caching the
// answer for the session.
func (s *Store) isTwoTier(root string) bool {
	if v, ok := s.twoTier.Load(root); ok {
		return v.(bool)
	}
	_, _, err := resolveChild(root, "index2.txt", false)
	two := err == nil
	s.twoTier.Store(root, two)
	return two
}

// storeParts returns the folders under a store root holding name/key.
func (s *Store) storeParts(root, name, key string) []string {
	if s.isTwoTier(root) {
		return []string{tierPrefix(name), name, key}
	}
	return []string{name, key}
}

// lookup is the state of one file lookup in one path entry.
type lookup struct {
	s         *Store
	ctx       context.Context
	name, key string
	errs      []error
}

func (l *lookup) warn(err error) {
	l.errs = append(l.errs, err)
	l.s.logf("symstore: %s/%s: %v", l.name, l.key, err)
}

// hit is a file found in a store.
type hit struct {
	path       string
	compressed bool // a CAB file to unpack
}

// entry searches one path entry. It returns "" for a miss; its error is
// only ever a context error.
func (l *lookup) entry(e *Entry) (string, error) {
	switch e.Kind {
	case KindFolder:
		return l.folder(e)
	case KindServer:
		return l.chain(e)
	}
	return "", nil
}

func (l *lookup) folder(e *Entry) (string, error) {
	var caches []string
	for _, c := range e.Cache {
		root, err := l.s.storeRoot(c)
		if err != nil {
			l.warn(err)
			continue
		}
		if h, ok := l.inStore(root); ok {
			if p := l.place(h, root, nil); p != "" {
				return p, nil
			}
		}
		caches = append(caches, root)
	}
	if err := l.ctx.Err(); err != nil {
		return "", err
	}
	if h, ok := l.inStore(e.Dir); ok {
		if p := l.place(h, e.Dir, caches); p != "" {
			return p, nil
		}
	}
	// Flat: the file directly in the folder.
	p, _, err := resolveChild(e.Dir, l.name, false)
	switch {
	case err == nil:
		if v := l.s.opts.Verify; v != nil {
			if err := v(p, l.name, l.key); err != nil {
				l.warn(fmt.Errorf("%s rejected: %w", p, err))
				return "", nil
			}
		}
		return p, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		l.warn(err)
	}
	return "", nil
}

func (l *lookup) chain(e *Entry) (string, error) {
	var roots []string
	for _, st := range e.Stores {
		root, err := l.s.storeRoot(st)
		if err != nil {
			l.warn(err)
			continue
		}
		roots = append(roots, root)
	}
	for i, root := range roots {
		if err := l.ctx.Err(); err != nil {
			return "", err
		}
		if h, ok := l.inStore(root); ok {
			if p := l.place(h, root, roots[:i]); p != "" {
				return p, nil
			}
		}
	}
	if e.URL == "" {
		return "", nil
	}
	if len(roots) == 0 {
		root, err := l.s.defaultStore()
		if err != nil {
			l.warn(err)
			return "", nil
		}
		roots = []string{root}
	}
	return l.fetch(e.URL, roots)
}

// inStore looks for the file in the store at root: name, then the
// compressed name, then file.ptr, in the KEY folder.
func (l *lookup) inStore(root string) (hit, bool) {
	parts := l.s.storeParts(root, l.name, l.key)
	// Fast path: every component spelled as given.
	exact := filepath.Join(append(append([]string{root}, parts...), l.name)...)
	if fi, err := os.Stat(exact); err == nil && fi.Mode().IsRegular() {
		return hit{path: exact}, true
	}
	dir := root
	for _, part := range parts {
		p, _, err := resolveChild(dir, part, true)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				l.warn(err)
			}
			return hit{}, false
		}
		dir = p
	}
	if p, _, err := resolveChild(dir, l.name, false); err == nil {
		return hit{path: p}, true
	}
	if cn := compressedName(l.name); cn != l.name {
		if p, _, err := resolveChild(dir, cn, false); err == nil {
			return hit{path: p, compressed: true}, true
		}
	}
	p, _, err := resolveChild(dir, "file.ptr", false)
	if err != nil {
		return hit{}, false
	}
	b, err := readSmall(p, maxPtrFile)
	if err != nil {
		l.warn(err)
		return hit{}, false
	}
	target, err := parsePtr(b)
	if err != nil {
		l.warn(fmt.Errorf("%s: %w", p, err))
		return hit{}, false
	}
	if !filepath.IsAbs(target) && !strings.HasPrefix(target, `\\`) {
		target = filepath.Join(dir, target)
	}
	return l.pointee(p, target)
}

// pointee checks the target of a file.ptr found at ptr.
func (l *lookup) pointee(ptr, target string) (hit, bool) {
	fi, err := os.Stat(target)
	if err != nil || !fi.Mode().IsRegular() {
		if err == nil {
			err = errors.New("not a regular file")
		}
		l.warn(fmt.Errorf("%s points to %s: %w", ptr, target, err))
		return hit{}, false
	}
	return hit{path: target, compressed: strings.HasSuffix(target, "_")}, true
}

// parsePtr decodes a file.ptr: "PATH:<path>", "MSG:<text>" (an
// [ErrStoreMessage] error), or a bare path.
func parsePtr(b []byte) (string, error) {
	s := strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff"))
	if line, _, ok := strings.Cut(s, "\n"); ok {
		s = strings.TrimSpace(line)
	}
	switch {
	case strings.HasPrefix(s, "MSG:"):
		return "", fmt.Errorf("%w: %s", ErrStoreMessage, strings.TrimSpace(s[4:]))
	case strings.HasPrefix(s, "PATH:"):
		s = strings.TrimSpace(s[5:])
	}
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("%w: it names no usable path", ErrBadPointer)
	}
	return s, nil
}

// readSmall reads a whole file of at most limit bytes.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(path, int64(len(b)), limit)
	}
	return b, nil
}

func tooLarge(what string, n, limit int64) error {
	return fmt.Errorf("%w: %s: %d bytes or more, limit %d", ErrTooLarge, what, n, limit)
}

// place makes the hit h (found in the store at root) usable: it copies or
// unpacks it into every store of down (most downstream first) and returns
// the most downstream copy. With no downstream store, an uncompressed hit
// is returned in place, and a compressed one is unpacked beside itself in
// its store or, failing that, into the default store. It returns "" when
// nothing usable could be made.
func (l *lookup) place(h hit, root string, down []string) string {
	src, compressed := h.path, h.compressed
	first := ""
	for _, d := range down {
		dst := l.destPath(d)
		if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() {
			// Already there (written concurrently, or by another tool).
		} else if err := l.materialize(src, compressed, dst); err != nil {
			l.warn(fmt.Errorf("storing into %s: %w", d, err))
			if contentErr(err) {
				return ""
			}
			continue
		}
		if first == "" {
			first = dst
			src, compressed = dst, false
		}
	}
	if first != "" {
		return first
	}
	if !compressed {
		return src
	}
	// A compressed file and nowhere downstream to unpack it.
	targets := []string{root}
	if def, err := l.s.defaultStore(); err == nil && def != root {
		targets = append(targets, def)
	}
	for _, d := range targets {
		dst := l.destPath(d)
		if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() {
			return dst
		}
		if err := l.materialize(src, true, dst); err != nil {
			l.warn(fmt.Errorf("unpacking into %s: %w", d, err))
			if contentErr(err) {
				return ""
			}
			continue
		}
		return dst
	}
	return ""
}

func (l *lookup) materialize(src string, compressed bool, dst string) error {
	if compressed {
		return extractCABFileAtomic(src, l.name, dst, l.s.limit)
	}
	return copyFileAtomic(src, dst, l.s.limit)
}

// destPath is where the file goes in the store at root, reusing existing
// folders spelled in another letter case.
func (l *lookup) destPath(root string) string {
	dir := resolveDirPath(root, l.s.storeParts(root, l.name, l.key)...)
	return filepath.Join(dir, l.name)
}

// contentErr reports whether err is about the file itself (so another
// destination would fail the same way).
func contentErr(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCAB) || errors.Is(err, ErrTooLarge)
}
