package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
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

// TestProfile checks the -o profile: valid, inuse_space by default, the
// IRP leak's stack on top with its WOW64 frames, labels for tag and pool.
func TestProfile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "out.pb.gz")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-replay", irpLeak, "-interval", "1h", "-o", name}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "wrote "+name)
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	p, err := profile.Parse(f)
	require.NoError(t, err)
	require.NoError(t, p.CheckValid())
	assert.Equal(t, "inuse_space", p.DefaultSampleType)
	var irp int64
	var wow bool
	for _, s := range p.Sample {
		if len(s.Label["tag"]) == 1 && s.Label["tag"][0] == "Irp " {
			irp += s.Value[3]
			for _, l := range s.Location {
				if l.Mapping != nil && strings.HasSuffix(strings.ToLower(l.Mapping.File), `\wow64cpu.dll`) {
					wow = true
				}
			}
			assert.Equal(t, []string{"nonpaged"}, s.Label["pool"])
		}
	}
	assert.Equal(t, int64(159744), irp)
	assert.True(t, wow, "WOW64 layer frames in the Irp stacks")
	assert.Contains(t, p.Comments, "trace: irp-leak.etl")
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
