package etw

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxZipSpillInMemory is the largest deflated zip member inflated into
// memory; larger members are inflated into a temporary file so that memory
// stays bounded.
const maxZipSpillInMemory = 64 << 20

// openInput opens a plain file, "archive.zip!member" or "archive.zip".
func openInput(name string) (io.ReaderAt, int64, io.Closer, error) {
	zipName, member := splitZipName(name)
	if zipName == "" {
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, nil, err
		}
		if st.IsDir() {
			f.Close()
			return nil, 0, nil, fmt.Errorf("%s: is a directory", name)
		}
		return f, st.Size(), f, nil
	}
	return openZipMember(zipName, member)
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

// tempFile removes its file when closed.
type tempFile struct{ f *os.File }

func (t tempFile) Close() error {
	err := t.f.Close()
	if rerr := os.Remove(t.f.Name()); err == nil {
		err = rerr
	}
	return err
}

func openZipMember(zipName, member string) (io.ReaderAt, int64, io.Closer, error) {
	zf, err := os.Open(zipName)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := zf.Stat()
	if err != nil {
		zf.Close()
		return nil, 0, nil, err
	}
	zr, err := zip.NewReader(zf, st.Size())
	if err != nil {
		zf.Close()
		return nil, 0, nil, fmt.Errorf("%s: %w", zipName, err)
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
			zf.Close()
			return nil, 0, nil, fmt.Errorf("%s: holds %d .etl members %q; name one as %s!MEMBER", zipName, len(etls), names, zipName)
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
			zf.Close()
			return nil, 0, nil, fmt.Errorf("%s: no member %q: %w", zipName, member, os.ErrNotExist)
		}
	}
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			zf.Close()
			return nil, 0, nil, fmt.Errorf("%s!%s: %w", zipName, f.Name, err)
		}
		size := int64(f.UncompressedSize64)
		return io.NewSectionReader(zf, off, size), size, zf, nil
	}
	rc, err := f.Open()
	if err != nil {
		zf.Close()
		return nil, 0, nil, fmt.Errorf("%s!%s: %w", zipName, f.Name, err)
	}
	defer rc.Close()
	if f.UncompressedSize64 <= maxZipSpillInMemory {
		data, err := io.ReadAll(io.LimitReader(rc, maxZipSpillInMemory+1))
		zf.Close()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s!%s: %w", zipName, f.Name, err)
		}
		return bytes.NewReader(data), int64(len(data)), nopCloser{}, nil
	}
	tmp, err := os.CreateTemp("", "etwkit-*.etl")
	if err != nil {
		zf.Close()
		return nil, 0, nil, err
	}
	n, err := io.Copy(tmp, rc)
	zf.Close()
	if err != nil {
		tmp.Close()
		return nil, 0, nil, fmt.Errorf("%s!%s: %w", zipName, f.Name, err)
	}
	return tmp, n, tempFile{tmp}, nil
}
