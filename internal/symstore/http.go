package symstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// defaultClient is the HTTP client used when Options.Client is nil.
func defaultClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("refusing redirect from https to %s", req.URL.Scheme)
			}
			return nil
		},
	}
}

// fetchResult classifies one GET.
type fetchResult int

const (
	fetchAbsent fetchResult = iota // 404 or 410: try the next variant
	fetchFailed                    // error: give up on this server
	fetchFound                     // success: the path is set
)

// fetch asks the server at base for the file, its compressed form and
// file.ptr, in that order, and stores what it finds into the local stores
// down (most downstream first; never empty).
func (l *lookup) fetch(base string, down []string) (string, error) {
	dir := strings.TrimRight(base, "/") + "/" + url.PathEscape(l.name) + "/" + url.PathEscape(l.key) + "/"
	variants := []struct {
		file string
		kind int // 0 plain, 1 compressed, 2 pointer
	}{{l.name, 0}, {compressedName(l.name), 1}, {"file.ptr", 2}}
	for _, v := range variants {
		if v.kind == 1 && v.file == l.name {
			continue
		}
		if v.kind == 2 && l.s.opts.IgnoreRemotePointers {
			continue
		}
		u := dir + url.PathEscape(v.file)
		if l.s.isAbsent(u) {
			continue
		}
		p, res, err := l.get(u, v.kind, down)
		if err != nil && isCtxErr(err) && l.ctx.Err() != nil {
			return "", l.ctx.Err()
		}
		switch res {
		case fetchFound:
			return p, nil
		case fetchFailed:
			l.warn(err)
			return "", nil
		}
	}
	return "", nil
}

func (s *Store) isAbsent(u string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.absent[u]
	return ok
}

func (s *Store) markAbsent(u string) {
	s.mu.Lock()
	s.absent[u] = struct{}{}
	s.mu.Unlock()
}

// get performs one GET of u and handles a success according to kind.
func (l *lookup) get(u string, kind int, down []string) (string, fetchResult, error) {
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	var idle atomic.Bool
	timer := time.AfterFunc(l.s.timeout, func() { idle.Store(true); cancel() })
	defer timer.Stop()
	stalled := func(err error) error {
		if idle.Load() && l.ctx.Err() == nil {
			return fmt.Errorf("%w: GET %s: nothing received for %v", ErrServer, u, l.s.timeout)
		}
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fetchFailed, fmt.Errorf("%w: %v", ErrServer, err)
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := l.s.client.Do(req)
	if err != nil {
		if l.ctx.Err() != nil {
			return "", fetchFailed, l.ctx.Err()
		}
		return "", fetchFailed, stalled(fmt.Errorf("%w: GET %s: %v", ErrServer, u, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		l.s.markAbsent(u)
		return "", fetchAbsent, nil
	case resp.StatusCode != http.StatusOK:
		return "", fetchFailed, fmt.Errorf("%w: GET %s: %s", ErrServer, u, resp.Status)
	}
	if kind != 2 && strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/html") {
		return "", fetchFailed, fmt.Errorf("%w: GET %s: answered with an HTML page", ErrServer, u)
	}
	limit := l.s.limit
	if kind == 2 {
		limit = maxPtrFile
	}
	if resp.ContentLength > limit {
		return "", fetchFailed, tooLarge("GET "+u, resp.ContentLength, limit)
	}
	body := io.LimitReader(&idleReader{r: resp.Body, t: timer, d: l.s.timeout}, limit+1)
	readErr := func(err error) error {
		if l.ctx.Err() != nil {
			return l.ctx.Err()
		}
		return stalled(err)
	}
	switch kind {
	case 0:
		dst := l.destPath(down[0])
		err := writeAtomic(dst, func(w io.Writer) error { return copyCapped(w, body, u, limit) })
		if err != nil {
			return "", fetchFailed, readErr(fmt.Errorf("downloading %s: %w", u, err))
		}
		return l.spread(dst, down), fetchFound, nil
	case 1:
		dst := l.destPath(down[0])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fetchFailed, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), "."+compressedName(l.name)+".*.tmp")
		if err != nil {
			return "", fetchFailed, err
		}
		defer os.Remove(tmp.Name())
		err = copyCapped(tmp, body, u, limit)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fetchFailed, readErr(fmt.Errorf("downloading %s: %w", u, err))
		}
		if err := extractCABFileAtomic(tmp.Name(), l.name, dst, l.s.limit); err != nil {
			return "", fetchFailed, fmt.Errorf("%s: %w", u, err)
		}
		return l.spread(dst, down), fetchFound, nil
	default:
		b, err := io.ReadAll(body)
		if err != nil {
			return "", fetchFailed, readErr(fmt.Errorf("reading %s: %w", u, err))
		}
		if int64(len(b)) > limit {
			return "", fetchFailed, tooLarge("GET "+u, int64(len(b)), limit)
		}
		target, err := parsePtr(b)
		if err != nil {
			if errors.Is(err, ErrStoreMessage) {
				l.s.markAbsent(u)
			}
			return "", fetchFailed, fmt.Errorf("%s: %w", u, err)
		}
		if !filepath.IsAbs(target) && !strings.HasPrefix(target, `\\`) {
			return "", fetchFailed, fmt.Errorf("%w: %s names the relative path %q", ErrBadPointer, u, target)
		}
		h, ok := l.pointee(u, target)
		if !ok {
			return "", fetchAbsent, nil
		}
		if p := l.place(h, "", down); p != "" {
			return p, fetchFound, nil
		}
		return "", fetchAbsent, nil
	}
}

// idleReader pushes back the idle timer t by d on every read.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}

// copyCapped copies r to w, failing with ErrTooLarge past limit bytes
// (r must be limited to limit+1 bytes).
func copyCapped(w io.Writer, r io.Reader, what string, limit int64) error {
	n, err := io.Copy(w, r)
	if err != nil {
		return err
	}
	if n > limit {
		return tooLarge("GET "+what, n, limit)
	}
	return nil
}

// spread copies the file at dst (in down[0]) into the other downstream
// stores and returns dst.
func (l *lookup) spread(dst string, down []string) string {
	for _, d := range down[1:] {
		p := l.destPath(d)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			continue
		}
		if err := copyFileAtomic(dst, p, l.s.limit); err != nil {
			l.warn(fmt.Errorf("storing into %s: %w", d, err))
		}
	}
	return dst
}
