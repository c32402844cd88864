package symstore

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// caseInsensitiveFS is true where the usual file systems already compare
// names case-insensitively, so a directory scan can find nothing more.
var caseInsensitiveFS = runtime.GOOS == "windows"

// resolveChild finds the folder (dirWanted) or regular file called name
// in dir: the exact name, then its lower-case form, then (except on
// Windows) a case-insensitive scan of dir. It returns the path found and
// its info, or an error satisfying errors.Is(err, fs.ErrNotExist) when
// there is none.
func resolveChild(dir, name string, dirWanted bool) (string, fs.FileInfo, error) {
	kindOK := func(fi fs.FileInfo) bool {
		if dirWanted {
			return fi.IsDir()
		}
		return fi.Mode().IsRegular()
	}
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err == nil && kindOK(fi) {
		return p, fi, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
		return "", nil, err
	}
	notFound := &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	if caseInsensitiveFS {
		return "", nil, notFound
	}
	if lower := strings.ToLower(name); lower != name {
		lp := filepath.Join(dir, lower)
		if fi, err := os.Stat(lp); err == nil && kindOK(fi) {
			return lp, fi, nil
		}
	}
	for _, actual := range scanDir(dir, name) {
		p := filepath.Join(dir, actual)
		if fi, err := os.Stat(p); err == nil && kindOK(fi) {
			return p, fi, nil
		}
	}
	return "", nil, notFound
}

// isNotDir reports whether err says a path component is not a folder.
func isNotDir(err error) bool {
	return errors.Is(err, syscall.ENOTDIR)
}

// scanDir returns the entries of dir whose names equal name under Unicode
// case folding (at most 8).
func scanDir(dir, name string) []string {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	var found []string
	for {
		ents, err := f.ReadDir(512)
		for _, e := range ents {
			if strings.EqualFold(e.Name(), name) {
				found = append(found, e.Name())
				if len(found) == 8 {
					return found
				}
			}
		}
		if err != nil || len(ents) == 0 {
			return found
		}
	}
}

// resolveDirPath returns dir joined with parts, using the existing
// spelling of each part where one exists under another letter case.
func resolveDirPath(dir string, parts ...string) string {
	for _, part := range parts {
		if p, _, err := resolveChild(dir, part, true); err == nil {
			dir = p
			continue
		}
		dir = filepath.Join(dir, part)
	}
	return dir
}

// writeAtomic creates dst with the bytes fill writes: it writes a
// temporary file in dst's folder and renames it over dst, so readers never
// see a partial file. If dst appears meanwhile (another writer won), that
// file is kept.
func writeAtomic(dst string, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if fi, serr := os.Stat(dst); serr == nil && fi.Mode().IsRegular() {
			os.Remove(tmp)
			return nil
		}
		return err
	}
	return nil
}

// copyFileAtomic copies the regular file src to dst atomically, refusing
// files over limit bytes.
func copyFileAtomic(src, dst string, limit int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("symstore: " + src + " is not a regular file")
	}
	if fi.Size() > limit {
		return tooLarge(src, fi.Size(), limit)
	}
	return writeAtomic(dst, func(w io.Writer) error {
		n, err := io.Copy(w, io.LimitReader(in, limit+1))
		if err == nil && n > limit {
			return tooLarge(src, n, limit)
		}
		return err
	})
}

// extractCABFileAtomic unpacks the file called name from the cabinet at
// src into dst atomically.
func extractCABFileAtomic(src, name, dst string, limit int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("symstore: " + src + " is not a regular file")
	}
	return writeAtomic(dst, func(w io.Writer) error {
		_, err := extractCAB(in, fi.Size(), name, w, limit)
		if err != nil {
			return &os.PathError{Op: "unpack", Path: src, Err: err}
		}
		return nil
	})
}
