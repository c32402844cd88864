// Package cpuproftest checks the -cpuprofile flag of the command-line
// tools (see package cpuprof) the same way in each tool's tests.
package cpuproftest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run is a tool's entry point as its tests call it: the arguments, then
// standard output and standard error; it returns the exit status.
type Run func(args []string, stdout, stderr io.Writer) int

// CheckProfile checks that the file at path holds a profile as
// runtime/pprof writes it: a gzipped protocol buffer.
func CheckProfile(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(b), 2)
	assert.Equal(t, []byte{0x1f, 0x8b}, b[:2])
}

// CheckFlag checks -cpuprofile of the tool named tool on trace: with it,
// `-json` prints the same and exits 0 as without it, and the profile is
// written; with a path in a directory that does not exist, the tool exits
// 2 (a usage error) with "tool: cpu profile:" on standard error and
// nothing on standard output.
func CheckFlag(t *testing.T, tool string, run Run, trace string) {
	t.Helper()
	var want, wantErr bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", trace}, &want, &wantErr))
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", "-cpuprofile", prof, trace}, &out, &errOut), errOut.String())
	assert.Equal(t, want.String(), out.String())
	assert.Equal(t, wantErr.String(), errOut.String())
	CheckProfile(t, prof)

	out.Reset()
	errOut.Reset()
	assert.Equal(t, 2, run([]string{"-cpuprofile", filepath.Join(t.TempDir(), "no", "x.prof"), trace}, &out, &errOut))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), tool+": cpu profile:")
}
