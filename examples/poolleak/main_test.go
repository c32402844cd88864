package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var irpLeak = filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")

// TestIrpLeakJSON checks the README's main job: the first row is "Irp "
// nonpaged with 156 blocks and 159,744 bytes outstanding, and the top stack
// is the WOW64 ReadFile stack. It also pins the -json schema's keys.
func TestIrpLeakJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", irpLeak}, &out, &errOut), errOut.String())
	var rep map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	keys := func(m map[string]any) []string {
		var k []string
		for s := range m {
			k = append(k, s)
		}
		return k
	}
	assert.ElementsMatch(t, []string{"trace", "totals", "anomalies", "tags", "stacks"}, keys(rep))
	trace := rep["trace"].(map[string]any)
	for _, k := range []string{"file", "start", "end", "duration_s", "events", "pool_events", "events_lost", "buffers_lost"} {
		assert.Contains(t, trace, k)
	}
	assert.Equal(t, "irp-leak.etl", trace["file"])
	totals := rep["totals"].(map[string]any)
	for _, k := range []string{"allocs", "frees", "aifi", "aifo", "aofi", "aofo", "outstanding_count", "outstanding_bytes"} {
		assert.Contains(t, totals, k)
	}
	anomalies := rep["anomalies"].(map[string]any)
	assert.Contains(t, anomalies, "free_without_alloc")
	assert.Contains(t, anomalies, "alloc_over_open_block")

	tags := rep["tags"].([]any)
	first := tags[0].(map[string]any)
	for _, k := range []string{"tag", "pool", "allocs", "frees", "aifi", "aifo", "aofi", "aofo", "outstanding_count", "outstanding_bytes", "growth_bytes_per_s", "growth_r2", "leak_rank"} {
		assert.Contains(t, first, k)
	}
	assert.Equal(t, "Irp ", first["tag"])
	assert.Equal(t, "nonpaged", first["pool"])
	assert.Equal(t, 156.0, first["outstanding_count"])
	assert.Equal(t, 159744.0, first["outstanding_bytes"])
	assert.Equal(t, 1.0, first["leak_rank"])

	stacks := rep["stacks"].([]any)
	top := stacks[0].(map[string]any)
	assert.Equal(t, "Irp ", top["tag"])
	assert.Equal(t, 156.0, top["outstanding_count"])
	seg := top["segments"].(map[string]any)
	assert.Equal(t, 6.0, seg["kernel"])
	assert.Equal(t, 9.0, seg["user"])
	assert.Equal(t, 8.0, seg["wow64"])
	var frames []string
	for _, f := range top["frames"].([]any) {
		frames = append(frames, f.(string))
	}
	assert.Len(t, top["lines"], len(frames))
	joined := strings.Join(frames, " ")
	assert.True(t, strings.HasPrefix(frames[0], "ntoskrnl.exe+0x"))
	assert.Contains(t, joined, "wow64cpu.dll+0x")
	assert.Contains(t, joined, "KernelBase.dll+0x")
	assert.Contains(t, joined, "ReadLeak.exe+0x")
}

func TestTextShowsWOW64Transition(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{irpLeak}, &out, &errOut), errOut.String())
	s := out.String()
	assert.Contains(t, s, `"Irp "`)
	assert.Contains(t, s, "---- WOW64: 64-bit layer above, 32-bit code below ----")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.Contains(l, "tag") && strings.Contains(l, "out bytes") {
			assert.Contains(t, lines[i+1], `"Irp "`, "first row")
			assert.Contains(t, lines[i+1], "159744")
			break
		}
	}
}

func TestFilters(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-json", "-tag", "Toke", "-top", "1", irpLeak}, &out, &errOut), errOut.String())
	var rep struct {
		Tags []struct {
			Tag string `json:"tag"`
		} `json:"tags"`
		Stacks []any `json:"stacks"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Len(t, rep.Tags, 1)
	assert.Equal(t, "Toke", rep.Tags[0].Tag)
	assert.LessOrEqual(t, len(rep.Stacks), 1)

	out.Reset()
	require.Equal(t, 0, run([]string{"-json", "-pid", "6420", "-window", "0:5", irpLeak}, &out, &errOut), errOut.String())
	var win struct {
		Tags []struct {
			Tag   string `json:"tag"`
			Count uint64 `json:"outstanding_count"`
		} `json:"tags"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &win))
	require.NotEmpty(t, win.Tags)
	assert.Equal(t, "Irp ", win.Tags[0].Tag)
	assert.Less(t, win.Tags[0].Count, uint64(156), "fewer blocks are outstanding half-way")
	assert.Greater(t, win.Tags[0].Count, uint64(50))

	assert.Equal(t, 2, run([]string{"-window", "5:1", irpLeak}, &out, &errOut), "a usage error")
	assert.Equal(t, 2, run([]string{}, &out, &errOut))
}

func TestNotATrace(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{filepath.Join(corpus.Dir(t), "bad", "t-ptostado__LinuxTracepoints__output.etl")}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "not an ETL file")
}

// TestHTML: -html writes the self-contained report beside the normal
// output, which stays as it is.
func TestHTML(t *testing.T) {
	var plain, out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{irpLeak}, &plain, &errOut), errOut.String())
	page := filepath.Join(t.TempDir(), "report.html")
	require.Equal(t, 0, run([]string{"-html", page, irpLeak}, &out, &errOut), errOut.String())
	assert.Equal(t, plain.String(), out.String(), "the text output does not change")
	data, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(data)
	assert.True(t, strings.HasPrefix(html, "<!DOCTYPE html>"))
	assert.Contains(t, html, "<svg")
	assert.Contains(t, html, `data-tag="Irp "`)
	assert.Contains(t, html, "irp-leak.etl")
	assert.Contains(t, html, "go tool pprof -http=:")
	for _, m := range regexp.MustCompile(`(?i)\b(src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1) {
		assert.True(t, strings.HasPrefix(m[2], "#"), "%s=%q is not a fragment link", m[1], m[2])
	}
	assert.NotContains(t, html, "http://")
	assert.NotContains(t, html, "https://")

	// With -json too, and a window.
	out.Reset()
	require.Equal(t, 0, run([]string{"-json", "-window", "0:5", "-html", page, irpLeak}, &out, &errOut), errOut.String())
	assert.True(t, json.Valid(out.Bytes()))
	data, err = os.ReadFile(page)
	require.NoError(t, err)
	assert.Contains(t, string(data), "0:5 s from the trace start")

	// An unwritable path is an error.
	assert.Equal(t, 1, run([]string{"-html", filepath.Join(t.TempDir(), "no", "such", "dir.html"), irpLeak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "-html:")
}

// TestEveryCorpusTrace runs poolleak with every output on each real trace:
// none has pool events, and all must still produce a report, an HTML file
// and a (sample-free) profile.
func TestEveryCorpusTrace(t *testing.T) {
	dir := t.TempDir()
	for _, tr := range corpus.Traces(t) {
		var out, errOut bytes.Buffer
		code := run([]string{"-json", "-o", filepath.Join(dir, "p.pb.gz"), "-html", filepath.Join(dir, "r.html"), tr.Path}, &out, &errOut)
		if !assert.Equal(t, 0, code, "%s: %s", tr.Name, errOut.String()) {
			continue
		}
		var rep struct {
			Trace struct {
				DurationS float64 `json:"duration_s"`
			} `json:"trace"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &rep), tr.Name)
		assert.GreaterOrEqual(t, rep.Trace.DurationS, 0.0, tr.Name)
	}
}
