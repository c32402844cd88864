package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIrpLeak(t *testing.T) {
	out := filepath.Join(t.TempDir(), "leak.etl")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-scenario", "irp-leak", "-events", "1000", "-flush", "random", "-compress", "-o", out}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), `outstanding "Irp ": 156 blocks, 159744 bytes`)
	r, err := etw.Open(out)
	require.NoError(t, err)
	defer r.Close()
	assert.True(t, r.Header().Compressed())
	n := 0
	for _, err := range r.All() {
		require.NoError(t, err)
		n++
	}
	assert.Greater(t, n, 1000)
}

func TestScaleStreams(t *testing.T) {
	out := filepath.Join(t.TempDir(), "scale.etl")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-scenario", "scale", "-events", "50000", "-cpus", "8", "-ptr", "4", "-q", "-o", out}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	st, err := os.Stat(out)
	require.NoError(t, err)
	r, err := etw.Open(out)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, uint32(4), r.Header().PointerSize)
	assert.Equal(t, int(r.Header().BuffersWritten), len(r.Buffers()))
	assert.Equal(t, st.Size(), int64(len(r.Buffers())-1)*64<<10+64<<10)
	n := 0
	for _, err := range r.All() {
		require.NoError(t, err)
		n++
	}
	assert.GreaterOrEqual(t, n, 50000)
}

func TestStackWalkFull(t *testing.T) {
	out := filepath.Join(t.TempDir(), "full.etl")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-scenario", "scale", "-stackwalk", "full", "-events", "20000", "-o", out}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), " 0 key references, 0 key definitions")
	r, err := etw.Open(out)
	require.NoError(t, err)
	defer r.Close()
	var stacks, keys int
	for ev, err := range r.All() {
		require.NoError(t, err)
		if ev.Provider == etw.StackWalkGUID {
			switch ev.Opcode {
			case 32:
				stacks++
			default:
				keys++
			}
		}
	}
	assert.Greater(t, stacks, 5000)
	assert.Zero(t, keys)
	assert.Equal(t, 2, run([]string{"-stackwalk", "some", "-o", out}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "unknown stack shape")
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run(nil, &stdout, &stderr))
	assert.Equal(t, 2, run([]string{"-scenario", "nope", "-o", "x"}, &stdout, &stderr))
	assert.True(t, strings.Contains(stderr.String(), "unknown scenario"))
}

// TestPoolHeaderPerfInfo checks -pool-header perfinfo: the same scenario
// (same summary), with every PoolTrace record in a PERFINFO header that
// carries no process or thread.
func TestPoolHeaderPerfInfo(t *testing.T) {
	dir := t.TempDir()
	var sum [2]string
	for i, h := range []string{"system", "perfinfo"} {
		out := filepath.Join(dir, h+".etl")
		var stdout, stderr bytes.Buffer
		code := run([]string{"-scenario", "irp-leak", "-events", "1000", "-pool-header", h, "-o", out}, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		_, sum[i], _ = strings.Cut(stdout.String(), "\n") // the first line names the file and the time taken
		r, err := etw.Open(out)
		require.NoError(t, err)
		pools, perfinfo := 0, 0
		for ev, err := range r.All() {
			require.NoError(t, err)
			if ev.Provider != etw.PoolGUID {
				continue
			}
			pools++
			if ev.Header == etw.HeaderPerfInfo64 && ev.PID == etw.NoPID && ev.TID == etw.NoTID {
				perfinfo++
			}
		}
		r.Close()
		require.Positive(t, pools)
		if h == "perfinfo" {
			assert.Equal(t, pools, perfinfo, "every pool record has a PERFINFO header")
		} else {
			assert.Zero(t, perfinfo)
		}
	}
	assert.Equal(t, sum[0], sum[1])
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"-pool-header", "compact", "-o", filepath.Join(dir, "x.etl")}, &stdout, &stderr))
}
