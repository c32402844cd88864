package symstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// clientFunc returns a client that reports each request to fn and fails it.
func clientFunc(fn func(*http.Request)) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		fn(r)
		return nil, errors.New("no network in tests")
	})}
}

// storeServer serves the symbol store folder root over HTTP on loopback
// and records the paths requested.
type storeServer struct {
	*httptest.Server
	root string

	mu    sync.Mutex
	paths []string
	hook  func(w http.ResponseWriter, r *http.Request) bool // true: handled
}

func newStoreServer(t *testing.T) *storeServer {
	s := &storeServer{root: t.TempDir()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		hook := s.hook
		s.mu.Unlock()
		if r.Header.Get("User-Agent") != UserAgent {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
		if hook != nil && hook(w, r) {
			return
		}
		rel := strings.TrimPrefix(r.URL.Path, "/symbols/")
		if rel == r.URL.Path || strings.Contains(rel, "..") {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(rel)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *storeServer) url() string { return s.URL + "/symbols" }

func (s *storeServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func (s *storeServer) reset() {
	s.mu.Lock()
	s.paths = nil
	s.mu.Unlock()
}

func (s *storeServer) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

func TestHTTPDownloadAndCache(t *testing.T) {
	ctx := context.Background()
	srv := newStoreServer(t)
	key := testPDB.Dir()
	writeFile(t, filepath.Join(srv.root, "foo.pdb", key, "foo.pdb"), "remote pdb")
	cache, mid := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(mid, "index2.txt"), "")
	var logs []string
	s := New(mustParse(t, fmt.Sprintf("srv*%s*%s*%s", cache, mid, srv.url())), &Options{
		Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) },
	})

	got, err := s.FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "foo.pdb", key, "foo.pdb"), got)
	assert.Equal(t, "remote pdb", readString(t, got))
	assert.Equal(t, "remote pdb", readString(t, filepath.Join(mid, "fo", "foo.pdb", key, "foo.pdb")))
	assert.Equal(t, []string{"/symbols/foo.pdb/" + key + "/foo.pdb"}, srv.requests())

	// Second lookup, even from a new Store: served by the cache, no request.
	srv.reset()
	got2, err := New(s.Path(), nil).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, got, got2)
	assert.Empty(t, srv.requests())

	// A missing file: three requests (file, compressed, file.ptr), then
	// none: 404 is remembered for the Store's lifetime.
	miss := PDBKey{Name: "bar.pdb", GUID: testGUID, Age: 7}
	mk := miss.Dir()
	for range 2 {
		_, err = s.FindPDB(ctx, miss)
		assert.ErrorIs(t, err, ErrNotFound)
	}
	assert.Equal(t, []string{
		"/symbols/bar.pdb/" + mk + "/bar.pdb",
		"/symbols/bar.pdb/" + mk + "/bar.pd_",
		"/symbols/bar.pdb/" + mk + "/file.ptr",
	}, srv.requests())
	assert.Empty(t, logs)

	// No temporary files left anywhere.
	for _, root := range []string{cache, mid} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			assert.False(t, strings.HasSuffix(p, ".tmp"), p)
			return nil
		})
	}
}

func TestHTTPDefaultStore(t *testing.T) {
	ctx := context.Background()
	srv := newStoreServer(t)
	writeFile(t, filepath.Join(srv.root, "foo.dll", testPE.Dir(), "foo.dll"), "image")
	def := t.TempDir()
	for _, sp := range []string{"srv*" + srv.url(), "srv**" + srv.url(), "cache*;srv*" + srv.url()} {
		got, err := New(mustParse(t, sp), &Options{DefaultStore: def}).FindPE(ctx, testPE)
		require.NoError(t, err, sp)
		assert.Equal(t, filepath.Join(def, "foo.dll", testPE.Dir(), "foo.dll"), got)
	}
	assert.Len(t, srv.requests(), 1)
}

func TestHTTPCompressed(t *testing.T) {
	ctx := context.Background()
	srv := newStoreServer(t)
	cab, err := os.ReadFile(filepath.Join("testdata", "sample.pd_"))
	require.NoError(t, err)
	k := PDBKey{Name: "sample.pdb", GUID: testGUID, Age: 2}
	writeFile(t, filepath.Join(srv.root, "sample.pdb", k.Dir(), "sample.pd_"), string(cab))
	cache := t.TempDir()
	got, err := New(mustParse(t, "srv*"+cache+"*"+srv.url()), nil).FindPDB(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "sample.pdb", k.Dir(), "sample.pdb"), got)
	assert.Equal(t, string(sampleContent()), readString(t, got))
	assert.Len(t, srv.requests(), 2)
	ents, err := os.ReadDir(filepath.Dir(got))
	require.NoError(t, err)
	assert.Len(t, ents, 1, "only the unpacked file stays")
}

func TestHTTPFilePtr(t *testing.T) {
	ctx := context.Background()
	srv := newStoreServer(t)
	target := writeFile(t, filepath.Join(t.TempDir(), "share", "foo.pdb"), "via pointer")
	ptr := filepath.Join(srv.root, "foo.pdb", testPDB.Dir(), "file.ptr")
	writeFile(t, ptr, "PATH:"+target)
	cache := t.TempDir()
	sp := mustParse(t, "srv*"+cache+"*"+srv.url())

	got, err := New(sp, nil).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "foo.pdb", testPDB.Dir(), "foo.pdb"), got)
	assert.Equal(t, "via pointer", readString(t, got))
	assert.Len(t, srv.requests(), 3)
	require.NoError(t, os.Remove(got))

	// Pointers from servers can be turned off: file.ptr is not even asked.
	srv.reset()
	_, err = New(sp, &Options{IgnoreRemotePointers: true}).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Len(t, srv.requests(), 2)

	// MSG: is surfaced; a relative PATH is refused.
	writeFile(t, ptr, "MSG:not public")
	_, err = New(sp, nil).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrStoreMessage)
	assert.Contains(t, err.Error(), "not public")
	writeFile(t, ptr, "PATH:foo.pdb")
	_, err = New(sp, nil).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrBadPointer)
}

func TestHTTPServerErrorContinues(t *testing.T) {
	ctx := context.Background()
	bad := newStoreServer(t)
	bad.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "boom", http.StatusInternalServerError)
		return true
	})
	good := newStoreServer(t)
	writeFile(t, filepath.Join(good.root, "foo.pdb", testPDB.Dir(), "foo.pdb"), "good")
	c1, c2 := t.TempDir(), t.TempDir()
	var logs []string
	var mu sync.Mutex
	opts := &Options{Logf: func(f string, a ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		mu.Unlock()
	}}
	got, err := New(mustParse(t, fmt.Sprintf("srv*%s*%s;srv*%s*%s", c1, bad.url(), c2, good.url())), opts).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(c2, "foo.pdb", testPDB.Dir(), "foo.pdb"), got)
	assert.Len(t, bad.requests(), 1, "a server error ends that server's turn")
	require.Len(t, logs, 1)
	assert.Contains(t, logs[0], "500")

	// Only the failing server: not found, with the error, and not cached.
	s := New(mustParse(t, fmt.Sprintf("srv*%s*%s", c1, bad.url())), nil)
	for range 2 {
		_, err = s.FindPDB(ctx, testPDB)
		assert.ErrorIs(t, err, ErrNotFound)
		assert.ErrorIs(t, err, ErrServer)
		assert.Contains(t, err.Error(), "500 Internal Server Error")
	}
	assert.Len(t, bad.requests(), 3)
}

func TestHTTPTooLarge(t *testing.T) {
	ctx := context.Background()
	srv := newStoreServer(t)
	big := strings.Repeat("x", 5000)
	writeFile(t, filepath.Join(srv.root, "foo.pdb", testPDB.Dir(), "foo.pdb"), big)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			if chunked {
				srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
					for range 5 {
						w.Write([]byte(big[:1000]))
						w.(http.Flusher).Flush()
					}
					return true
				})
				defer srv.setHook(nil)
			}
			cache := t.TempDir()
			_, err := New(mustParse(t, "srv*"+cache+"*"+srv.url()), &Options{MaxDownload: 1000}).FindPDB(ctx, testPDB)
			assert.ErrorIs(t, err, ErrNotFound)
			assert.ErrorIs(t, err, ErrTooLarge)
			ents, _ := os.ReadDir(filepath.Join(cache, "foo.pdb", testPDB.Dir()))
			assert.Empty(t, ents, "nothing stored")
		})
	}
	// Under the cap it works.
	got, err := New(mustParse(t, "srv*"+t.TempDir()+"*"+srv.url()), &Options{MaxDownload: 5000}).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, big, readString(t, got))
}

func TestHTTPContextCancel(t *testing.T) {
	srv := newStoreServer(t)
	arrived := make(chan struct{}, 1)
	srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return true
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	cache := t.TempDir()
	_, err := New(mustParse(t, "srv*"+cache+"*"+srv.url()), nil).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrNotFound)

	// An idle server is a server error: the search goes on.
	_, err = New(mustParse(t, "srv*"+cache+"*"+srv.url()), &Options{IdleTimeout: 20 * time.Millisecond}).FindPDB(context.Background(), testPDB)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, ErrServer)
	assert.Contains(t, err.Error(), "nothing received")
}

// TestNoURLNoNetwork checks that lookups along a path without URLs never
// touch the HTTP client, even when they miss.
func TestNoURLNoNetwork(t *testing.T) {
	var calls atomic.Int32
	opts := &Options{Client: clientFunc(func(*http.Request) { calls.Add(1) })}
	p := mustParse(t, fmt.Sprintf("%s;cache*%s;srv*%s*%s;%s", t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()))
	require.False(t, p.HasURL())
	_, err := New(p, opts).FindPDB(context.Background(), testPDB)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Zero(t, calls.Load())
}

// TestHTTPOneDownloadPerKey checks that concurrent lookups of one file
// cause one download.
func TestHTTPOneDownloadPerKey(t *testing.T) {
	srv := newStoreServer(t)
	writeFile(t, filepath.Join(srv.root, "foo.pdb", testPDB.Dir(), "foo.pdb"), "shared")
	release := make(chan struct{})
	srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		<-release
		return false
	})
	cache := t.TempDir()
	s := New(mustParse(t, "srv*"+cache+"*"+srv.url()), nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := s.FindPDB(context.Background(), testPDB)
			assert.NoError(t, err)
			assert.Equal(t, "shared", readString(t, got))
		})
	}
	for len(srv.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	assert.Len(t, srv.requests(), 1)
}

// TestHTTPWaiterRetriesAfterLeaderCancel checks that a lookup waiting on
// another goroutine's download does not inherit its cancellation.
func TestHTTPWaiterRetriesAfterLeaderCancel(t *testing.T) {
	srv := newStoreServer(t)
	writeFile(t, filepath.Join(srv.root, "foo.pdb", testPDB.Dir(), "foo.pdb"), "eventually")
	first := make(chan struct{})
	var n atomic.Int32
	srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1) == 1 {
			close(first)
			<-r.Context().Done()
			return true
		}
		return false
	})
	s := New(mustParse(t, "srv*"+t.TempDir()+"*"+srv.url()), nil)
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := s.FindPDB(leaderCtx, testPDB)
		leaderDone <- err
	}()
	<-first
	waiterDone := make(chan error, 1)
	go func() {
		got, err := s.FindPDB(context.Background(), testPDB)
		if err == nil && readString(t, got) != "eventually" {
			err = errors.New("wrong content")
		}
		waiterDone <- err
	}()
	cancel()
	assert.ErrorIs(t, <-leaderDone, context.Canceled)
	assert.NoError(t, <-waiterDone)
}

// TestHTTPHTMLAndRedirect checks that an HTML page is not stored as a
// symbol file, and that redirects are followed.
func TestHTTPHTMLAndRedirect(t *testing.T) {
	ctx := context.Background()
	srv := newStoreServer(t)
	writeFile(t, filepath.Join(srv.root, "foo.pdb", testPDB.Dir(), "foo.pdb"), "real")
	srv.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/html/") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<html>sign in</html>"))
			return true
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/moved/"); ok {
			http.Redirect(w, r, "/symbols/"+rest, http.StatusFound)
			return true
		}
		return false
	})
	cache := t.TempDir()
	_, err := New(mustParse(t, "srv*"+cache+"*"+srv.URL+"/html"), nil).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrServer)
	assert.Contains(t, err.Error(), "HTML")
	assert.NoFileExists(t, filepath.Join(cache, "foo.pdb", testPDB.Dir(), "foo.pdb"))

	got, err := New(mustParse(t, "srv*"+cache+"*"+srv.URL+"/moved/"), nil).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, "real", readString(t, got))
}
