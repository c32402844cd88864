package cpuprof

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err := Start(path)
	require.NoError(t, err)
	x := 0
	for i := range 1_000_000 {
		x += i * i
	}
	require.NoError(t, stop())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	// A pprof profile is a gzipped protocol buffer.
	require.Greater(t, len(b), 2)
	assert.Equal(t, []byte{0x1f, 0x8b}, b[:2])
	_ = x
}

func TestStartNone(t *testing.T) {
	stop, err := Start("")
	require.NoError(t, err)
	assert.NoError(t, stop())
}

func TestStartBadPath(t *testing.T) {
	_, err := Start(filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.prof"))
	assert.ErrorContains(t, err, "cpu profile")
}

func ExampleStart() {
	stop, err := Start("") // the -cpuprofile flag's value; empty: no profile
	if err != nil {
		panic(err)
	}
	defer stop()
	// ... the tool's work ...
}
