package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadInputs(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "bad")
	for _, name := range []string{"Siemens-Healthineers__ETWAnalyzer__EmptyETL__EmptyETL.etl", "t-ptostado__LinuxTracepoints__output.etl"} {
		var out, errOut bytes.Buffer
		code := run([]string{"-json", filepath.Join(dir, name)}, &out, &errOut)
		assert.Equal(t, 1, code, name)
		assert.Empty(t, out.String())
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		require.Len(t, lines, 1, "one-line error for %s", name)
		assert.Contains(t, lines[0], "not an ETL file")
	}
}

func TestJSONInInputOrder(t *testing.T) {
	a := corpus.Find(t, "smallEtlFile")
	b := corpus.Find(t, "AMSITrace")
	var out, errOut bytes.Buffer
	code := run([]string{"-json", b.Path, a.Path}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	assert.Equal(t, b.Name, first["file"])
}

func TestDirectoryText(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{corpus.Dir(t)}, &out, &errOut)
	assert.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "airbus-cert__etl-parser__AMSITrace.etl")
}

// TestCPUProfile checks -cpuprofile: the census is the same, and the
// profile is written (gzipped, as pprof writes it); an unwritable path is a
// usage error.
func TestCPUProfile(t *testing.T) {
	trace := filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")
	var want, wantErr bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", trace}, &want, &wantErr))
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", "-cpuprofile", prof, trace}, &out, &errOut), errOut.String())
	assert.Equal(t, want.String(), out.String())
	assert.Equal(t, wantErr.String(), errOut.String())
	b, err := os.ReadFile(prof)
	require.NoError(t, err)
	require.Greater(t, len(b), 2)
	assert.Equal(t, []byte{0x1f, 0x8b}, b[:2])

	out.Reset()
	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-cpuprofile", filepath.Join(t.TempDir(), "no", "x.prof"), trace}, &out, &errOut))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "etlstat: cpu profile:")
}
