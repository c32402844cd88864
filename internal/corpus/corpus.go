// Package corpus locates the shared corpus of real ETL traces that tests
// read in place: ../shared/testdata/etl beside the module root, or the
// folder named by $ETWKIT_TESTDATA. Tests that need it skip, naming the
// folder, when it is absent.
package corpus

import (
	"archive/zip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// Env is the environment variable that overrides the corpus folder.
const Env = "ETWKIT_TESTDATA"

// ModuleRoot returns the root folder of the etwkit module (where go.mod is).
func ModuleRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Path returns the folder the corpus is expected in, whether or not it
// exists.
func Path() string {
	if d := os.Getenv(Env); d != "" {
		return d
	}
	return filepath.Join(ModuleRoot(), "..", "shared", "testdata", "etl")
}

// Dir returns the corpus folder, or skips the test with a message naming it
// when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	d := Path()
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		tb.Skipf("ETL corpus not found at %s (set %s to its folder): skipping", d, Env)
	}
	return d
}

// ExpectedDir returns the folder of expected results, or skips.
func ExpectedDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(Dir(tb), "expected")
}

// Trace is one trace of the corpus.
type Trace struct {
	// Name is the census name: the file's base name, or "zip!member" for a
	// member of a zip archive.
	Name string
	// Path is what etw.Open accepts: the file path, or "path.zip!member".
	Path string
	// Expected is the prefix of the trace's expected files (append
	// ".census.json", ".kernel.json" or ".stacks.json"); each '/' of a
	// member path is written '_'.
	Expected string
	// Size is the file size (of the zip for zip members).
	Size int64
}

// Traces lists every trace of the corpus (zip members included, bad/
// excluded) in name order, or skips when the corpus is absent.
func Traces(tb testing.TB) []Trace {
	tb.Helper()
	dir := Dir(tb)
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("reading corpus: %v", err)
	}
	var out []Trace
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		p := filepath.Join(dir, name)
		info, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		switch {
		case strings.HasSuffix(strings.ToLower(name), ".zip"):
			zr, err := zip.OpenReader(p)
			if err != nil {
				tb.Fatalf("opening %s: %v", p, err)
			}
			for _, f := range zr.File {
				if strings.HasSuffix(strings.ToLower(f.Name), ".etl") {
					out = append(out, Trace{
						Name:     name + "!" + f.Name,
						Path:     p + "!" + f.Name,
						Expected: filepath.Join(dir, "expected", name+"!"+strings.ReplaceAll(f.Name, "/", "_")),
						Size:     info.Size(),
					})
				}
			}
			zr.Close()
		case strings.HasSuffix(strings.ToLower(name), ".etl"):
			out = append(out, Trace{Name: name, Path: p, Expected: filepath.Join(dir, "expected", name), Size: info.Size()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Find returns the corpus trace whose name contains substr, or skips.
func Find(tb testing.TB, substr string) Trace {
	tb.Helper()
	for _, t := range Traces(tb) {
		if strings.Contains(t.Name, substr) {
			return t
		}
	}
	tb.Skipf("no corpus trace matching %q in %s", substr, Path())
	return Trace{}
}
