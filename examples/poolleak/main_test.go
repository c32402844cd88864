package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/cpuprof/cpuproftest"
	"github.com/etwkit/etwkit/internal/symtrace"
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
	assert.ElementsMatch(t, []string{"verdict", "trace", "totals", "anomalies", "tags", "stacks"}, keys(rep))
	verdict := rep["verdict"].(map[string]any)
	for _, k := range []string{"tag", "pool", "leak_rank", "outstanding_count", "outstanding_bytes", "growth_bytes_per_s",
		"processes", "owner", "caller", "stack_share"} {
		assert.Contains(t, verdict, k)
	}
	assert.Equal(t, "Irp ", verdict["tag"])
	assert.Equal(t, 1.0, verdict["leak_rank"])
	assert.Equal(t, []any{map[string]any{"pid": 6420.0, "name": "ReadLeak.exe", "outstanding_bytes": 159744.0}}, verdict["processes"])
	assert.Equal(t, "ReadLeak.exe+0x11a3", verdict["caller"])
	assert.NotContains(t, verdict, "description", "no pooltag.txt given")
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

// The verdict comes first: in the text report's first lines and as the
// JSON's first key; null when nothing leaks.
func TestVerdictFirst(t *testing.T) {
	t.Setenv("ETWKIT_POOLTAG", "")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{irpLeak}, &out, &errOut), errOut.String())
	lines := strings.Split(out.String(), "\n")
	assert.True(t, strings.HasPrefix(lines[0], `verdict   "Irp " leaks nonpaged pool: 156 blocks, 159744 bytes outstanding`), lines[0])
	assert.Contains(t, out.String(), "asked for by ReadLeak.exe+0x11a3.")

	out.Reset()
	require.Equal(t, 0, run([]string{"-json", irpLeak}, &out, &errOut), errOut.String())
	assert.True(t, strings.HasPrefix(out.String(), "{\n  \"verdict\": {"), "verdict is the first key")

	out.Reset()
	require.Equal(t, 0, run([]string{"-json", "-tag", "Even", irpLeak}, &out, &errOut), errOut.String())
	var rep map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Contains(t, rep, "verdict")
	assert.Nil(t, rep["verdict"], "nothing leaks")
	out.Reset()
	require.Equal(t, 0, run([]string{"-tag", "Even", irpLeak}, &out, &errOut), errOut.String())
	assert.True(t, strings.HasPrefix(out.String(), "verdict   No tag leaks"), out.String())
}

// Tag descriptions come from -pooltag, else $ETWKIT_POOLTAG; a named file
// that cannot be read is an error. (The tests write their own small file in
// pooltag.txt's format.)
func TestPooltag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pooltag.txt")
	require.NoError(t, os.WriteFile(file, []byte("// test tags\nIrp  - <unknown> - Io, IRP packets\n"), 0o644))
	t.Setenv("ETWKIT_POOLTAG", "")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-pooltag", file, irpLeak}, &out, &errOut), errOut.String())
	assert.True(t, strings.HasPrefix(out.String(), `verdict   "Irp " (Io, IRP packets) leaks`), out.String())

	t.Setenv("ETWKIT_POOLTAG", file)
	out.Reset()
	require.Equal(t, 0, run([]string{"-json", irpLeak}, &out, &errOut), errOut.String())
	var rep struct {
		Verdict struct {
			Description string `json:"description"`
		} `json:"verdict"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, "Io, IRP packets", rep.Verdict.Description)

	errOut.Reset()
	assert.Equal(t, 1, run([]string{"-pooltag", filepath.Join(dir, "missing.txt"), irpLeak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "-pooltag:")
	t.Setenv("ETWKIT_POOLTAG", filepath.Join(dir, "missing.txt"))
	errOut.Reset()
	assert.Equal(t, 1, run([]string{irpLeak}, &out, &errOut))
	assert.Contains(t, errOut.String(), "ETWKIT_POOLTAG")
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

// With symbols, on a generated trace where a noisier tag holds more bytes:
// the verdict names the steady grower, its driver function and the app
// function, on the lines of their calls, in the text, the JSON, the HTML
// and the pprof profile.
func TestVerdictWithSymbols(t *testing.T) {
	t.Setenv("ETWKIT_POOLTAG", "")
	dir := t.TempDir()
	trace := filepath.Join(dir, "symbols.etl")
	require.NoError(t, symtrace.Write(trace, symtrace.Options{}))
	page, prof := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.pb.gz")
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-symbols", symtrace.Dir, "-html", page, "-o", prof, trace}, &out, &errOut), errOut.String())
	lines := strings.Split(out.String(), "\n")
	assert.True(t, strings.HasPrefix(lines[0], `verdict   "Etwk" leaks nonpaged pool`), lines[0])
	assert.Contains(t, out.String(), "Allocated by driver.sys!DriverEntry+0x1c at /etwkit/testdata/symbols/driver.c:37, "+
		"asked for by x86dll.dll!Accumulate+0x4b at /etwkit/testdata/symbols/x86dll.c:38.")
	assert.Contains(t, out.String(), "The tag's four bytes appear in driver.sys.")

	out.Reset()
	require.Equal(t, 0, run([]string{"-json", "-symbols", symtrace.Dir, trace}, &out, &errOut), errOut.String())
	var rep struct {
		Verdict map[string]any `json:"verdict"`
		Tags    []struct {
			Tag string `json:"tag"`
		} `json:"tags"`
		Stacks []struct {
			Tag    string   `json:"tag"`
			Frames []string `json:"frames"`
			Lines  []string `json:"lines"`
		} `json:"stacks"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, "Nois", rep.Tags[0].Tag, "the noisy tag holds most bytes")
	v := rep.Verdict
	assert.Equal(t, "Etwk", v["tag"])
	assert.Equal(t, "driver.sys!DriverEntry+0x1c", v["owner"])
	assert.Equal(t, "/etwkit/testdata/symbols/driver.c:37", v["owner_line"])
	assert.Equal(t, "x86dll.dll!Accumulate+0x4b", v["caller"])
	assert.Equal(t, "/etwkit/testdata/symbols/x86dll.c:38", v["caller_line"])
	assert.Equal(t, []any{"driver.sys"}, v["tag_in_images"])
	assert.InDelta(t, 0.8, v["stack_share"], 1e-9)
	for _, s := range rep.Stacks {
		if s.Tag != "Etwk" {
			continue
		}
		for i, f := range s.Frames {
			if f == "driver.sys!DriverEntry+0x1c" {
				assert.Equal(t, "/etwkit/testdata/symbols/driver.c:37", s.Lines[i], "JSON lines are call sites")
			}
		}
	}

	data, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(data)
	verdict := html[strings.Index(html, `<section id="verdict"`):strings.Index(html, `<section id="trace"`)]
	assert.Contains(t, verdict, "driver.sys!DriverEntry&#43;0x1c at /etwkit/testdata/symbols/driver.c:37")
	// Sections by leak rank: Etwk before Nois, though Nois holds more.
	assert.Less(t, strings.Index(html, `id="stack-Etwk-nonpaged"`), strings.Index(html, `id="stack-Nois-paged"`))
	assert.Contains(t, html, "role-owner")
	assert.Contains(t, html, "role-caller")

	f, err := os.Open(prof)
	require.NoError(t, err)
	defer f.Close()
	p, err := profile.Parse(f)
	require.NoError(t, err)
	found := false
	for _, loc := range p.Location {
		for _, l := range loc.Line {
			if l.Function.Name == "DriverEntry" {
				assert.Equal(t, int64(37), l.Line, "pprof lines are call sites")
				found = true
			}
		}
	}
	assert.True(t, found)
}

// TestCPUProfile checks -cpuprofile: the report is the same, and the
// profile is written (gzipped, as pprof writes it); an unwritable path is a
// usage error.
func TestCPUProfile(t *testing.T) {
	cpuproftest.CheckFlag(t, "poolleak", run, irpLeak)
}
