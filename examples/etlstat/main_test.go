package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/cpuprof/cpuproftest"
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
	cpuproftest.CheckFlag(t, "etlstat", run, filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl"))
}
