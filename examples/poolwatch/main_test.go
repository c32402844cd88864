package main

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
)

var irpLeak = filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")

// TestReplayIrpLeak runs the watcher over the generated IRP leak trace: the
// periodic tables appear, the final table leads with "Irp " nonpaged (156
// blocks, 159,744 bytes) and its WOW64 ReadFile stack, and the -etl
// recording reads back with every event.
func TestReplayIrpLeak(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "out.etl")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-replay", irpLeak, "-interval", "2s", "-top", "3", "-etl", rec}, &out, &errOut), errOut.String())
	s := out.String()
	assert.GreaterOrEqual(t, strings.Count(s, "tag      pool  out count"), 3, "periodic tables")
	final := s[strings.Index(s, "final\n"):]
	assert.Regexp(t, `"Irp "\s+nonpaged\s+156\s+159744`, final)
	assert.Contains(t, final, "#1 \"Irp \" nonpaged: 156 blocks, 159744 bytes, ReadLeak.exe")
	assert.Contains(t, final, "wow64cpu.dll")
	assert.Contains(t, s, "recorded "+rec)

	count := func(name string) int {
		r, err := etw.Open(name)
		require.NoError(t, err)
		defer r.Close()
		n := 0
		for _, err := range r.All() {
			require.NoError(t, err)
			n++
		}
		return n
	}
	assert.Equal(t, count(irpLeak), count(rec))
}

func TestTagFilter(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-replay", irpLeak, "-tag", "Toke", "-interval", "1h"}, &out, &errOut), errOut.String())
	s := out.String()
	assert.Contains(t, s, `"Toke"`)
	assert.NotContains(t, s, `"Irp "`)
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run([]string{"extra"}, &out, &errOut))
	assert.Equal(t, 2, run([]string{"-interval", "0s"}, &out, &errOut))
	assert.Equal(t, 2, run([]string{"-bogus"}, &out, &errOut))
	errOut.Reset()
	assert.Equal(t, 1, run([]string{"-replay", irpLeak, "-o", "x.pb.gz"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "export package")
	errOut.Reset()
	assert.Equal(t, 1, run([]string{"-replay", filepath.Join(t.TempDir(), "missing.etl")}, &out, &errOut))
}

func TestLiveNeedsWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("starts a real kernel session on Windows")
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run([]string{"-duration", "1s"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "only supported on Windows")
}
