package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoPoolEventsVerdict: a report without pool events says why instead
// of "No tag leaks", and the text and HTML reports say it alike: a filter
// that lets none pass is not a recording without pool tracing, and neither
// is a trace cut inside its first buffer.
func TestNoPoolEventsVerdict(t *testing.T) {
	tr := damagetest.Write(t, true)
	t.Run("filtered", func(t *testing.T) {
		checkNoPool(t, 0, "No verdict: no pool event of the trace passes the filters.",
			"passes the filters", "-pid", "99999", tr.Complete)
	})
	t.Run("cut in the first buffer", func(t *testing.T) {
		head, err := os.ReadFile(tr.Complete)
		require.NoError(t, err)
		early := filepath.Join(t.TempDir(), "early.etl")
		require.NoError(t, os.WriteFile(early, head[:1000], 0o644))
		checkNoPool(t, 3, "No verdict: no pool events in the part of the trace that could be read.",
			"The part of this trace that could be read", early)
	})
	t.Run("no pool tracing", func(t *testing.T) {
		c := corpus.Find(t, "AMSITrace")
		checkNoPool(t, 0, "No verdict: the trace has no pool events.", "Record one with pool tracing", c.Path)
	})
}

// checkNoPool runs poolleak -html on args and checks the verdict line of
// the text report and that the HTML report has the same verdict and the
// chart's explanation.
func checkNoPool(t *testing.T, code int, verdict, chart string, args ...string) {
	t.Helper()
	page := filepath.Join(t.TempDir(), "r.html")
	var out, errOut bytes.Buffer
	require.Equal(t, code, run(append([]string{"-html", page}, args...), &out, &errOut), errOut.String())
	first, _, _ := strings.Cut(out.String(), "\n")
	assert.Equal(t, "verdict   "+verdict, first)
	data, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.Contains(t, string(data), verdict)
	assert.Contains(t, string(data), chart)
	assert.NotContains(t, out.String()+string(data), "No tag leaks")
}

// TestOutputErrorsNameTheFlag: an output that cannot be written is exit 1
// with a message that names its flag, -o as -html and -pooltag do.
func TestOutputErrorsNameTheFlag(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such")
	for _, flag := range []string{"-o", "-html", "-pooltag"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 1, run([]string{flag, missing, irpLeak}, &out, &errOut), flag)
		assert.True(t, strings.HasPrefix(errOut.String(), "poolleak: "+flag+": "), errOut.String())
	}
}

// TestProfileSaysPartial: the -o profile of a trace read in part says so
// in its comments (go tool pprof prints them), as the warnings, the JSON
// and the HTML report do; a complete trace's profile does not.
func TestProfileSaysPartial(t *testing.T) {
	tr := damagetest.Write(t, true)
	for path, code := range map[string]int{tr.Complete: 0, tr.Cut: 3} {
		prof := filepath.Join(t.TempDir(), "p.pb.gz")
		var out, errOut bytes.Buffer
		require.Equal(t, code, run([]string{"-o", prof, path}, &out, &errOut), errOut.String())
		f, err := os.Open(prof)
		require.NoError(t, err)
		p, err := profile.Parse(f)
		f.Close()
		require.NoError(t, err)
		comments := strings.Join(p.Comments, "\n")
		if code == 0 {
			assert.NotContains(t, comments, "partial")
			continue
		}
		assert.Contains(t, comments, fmt.Sprintf("partial result: read %d of the %d buffers", tr.Buffers/2, tr.Buffers))
	}
}

// TestPIDOutOfRange: -pid takes a 32-bit process ID; a negative one other
// than the default -1 was silently "every process", and 4294967297 was
// silently process 1. Both are usage errors now.
func TestPIDOutOfRange(t *testing.T) {
	for _, pid := range []string{"-5", "4294967297"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run([]string{"-pid", pid, irpLeak}, &out, &errOut), pid)
		assert.Equal(t, "poolleak: -pid "+pid+": want a process ID (0 to 4294967295)\n", errOut.String())
		assert.Empty(t, out.String())
	}
}
