package cpuprof

import (
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/internal/cpuprof/cpuproftest"
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
	cpuproftest.CheckProfile(t, path)
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
