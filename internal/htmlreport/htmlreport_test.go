package htmlreport

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var irpLeakPath = filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")

var (
	irpOnce sync.Once
	irpRes  *leak.Result
	irpErr  error
)

// irpLeak returns the analysis of testdata/irp-leak.etl as poolleak makes
// it (the file name filled in), computed once.
func irpLeak(t testing.TB) *leak.Result {
	t.Helper()
	irpOnce.Do(func() {
		irpRes, irpErr = leak.Run(irpLeakPath, leak.Options{})
		if irpErr == nil {
			irpRes.Report.Trace.File = "irp-leak.etl"
		}
	})
	require.NoError(t, irpErr)
	return irpRes
}

func render(t testing.TB, res *leak.Result, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, res, opts))
	return buf.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./internal/htmlreport -run %s -update", t.Name())
	assert.Equal(t, string(want), got, "structure changed; if intended, run go test ./internal/htmlreport -run %s -update", t.Name())
}

// checkSelfContained fails on anything that would make the browser fetch:
// a src/href/action that is not a fragment, url() or @import in CSS, or any
// http(s) URL at all.
func checkSelfContained(t *testing.T, html string) {
	t.Helper()
	for _, m := range regexp.MustCompile(`(?i)\b(src|href|xlink:href|action|formaction|poster|srcset)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1) {
		assert.True(t, strings.HasPrefix(m[2], "#"), "%s=%q is not a fragment link", m[1], m[2])
	}
	for _, bad := range []string{"http://", "https://", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed"} {
		assert.NotContains(t, strings.ToLower(html), bad)
	}
	assert.Equal(t, 1, strings.Count(html, "<script"), "exactly one (inline) script")
	assert.NotContains(t, html, "<script src")
	assert.Contains(t, html, `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;`)
}

// checkAnchors fails on a fragment link without its target.
func checkAnchors(t *testing.T, root *node) {
	t.Helper()
	ids := map[string]bool{}
	for _, n := range root.all(func(n *node) bool { return n.attr["id"] != "" }) {
		assert.False(t, ids[n.attr["id"]], "duplicate id %q", n.attr["id"])
		ids[n.attr["id"]] = true
	}
	for _, a := range root.all(tagIs("a")) {
		h := a.attr["href"]
		require.True(t, strings.HasPrefix(h, "#"), h)
		assert.True(t, ids[h[1:]], "link %s has no target", h)
	}
}

func structure(t *testing.T, html string) (*node, string) {
	t.Helper()
	root, err := parseDOM(html)
	require.NoError(t, err)
	checkSelfContained(t, html)
	checkAnchors(t, root)
	return root, summarize(root)
}

func TestGoldenIrpLeak(t *testing.T) {
	res := irpLeak(t)
	html := render(t, res, Options{})
	root, sum := structure(t, html)
	golden(t, "irp-leak.golden", sum)

	// The facts the issue asks for.
	assert.Contains(t, sum, "fact: Span = 2025-03-14 09:26:53.000 .. 09:27:02.941 UTC (9.941 s)")
	assert.Contains(t, sum, "fact: Lost = 2 events, 0 buffers")
	assert.Contains(t, sum, "fact: Processes = ")

	// The Irp series is the first and tallest at the end.
	series := root.all(hasClass("path", "series"))
	require.NotEmpty(t, series)
	assert.Equal(t, "Irp ", series[0].attr["data-tag"])
	assert.Equal(t, "159744", series[0].attr["data-last"])
	for _, s := range series[1:] {
		assert.Less(t, len(s.attr["data-last"]), 6, "%s ends below Irp", s.attr["data-tag"])
	}
	// One click from the legend and from the table row to the stacks.
	leg := root.first(func(n *node) bool { return n.name == "a" && n.attr["data-tag"] == "Irp " })
	require.NotNil(t, leg)
	assert.Equal(t, "#stack-Irp_20-nonpaged", leg.attr["href"])
	sec := root.first(func(n *node) bool { return n.attr["id"] == "stack-Irp_20-nonpaged" })
	require.NotNil(t, sec)
	// The WOW64 stack: 6 kernel, 9 user, 8 wow64 frames and the transition rule.
	st := sec.first(hasClass("div", "stack"))
	require.NotNil(t, st)
	assert.Len(t, st.all(hasClass("tr", "k-kernel")), 6)
	assert.Len(t, st.all(hasClass("tr", "k-user")), 9)
	assert.Len(t, st.all(hasClass("tr", "k-wow64")), 8)
	assert.Len(t, st.all(hasClass("tr", "sep-wow64")), 1)
	assert.NotNil(t, st.first(hasClass("span", "badge")))
	// The pprof hint.
	assert.Contains(t, html, "go tool pprof -http=: leak.pb.gz")
	html = render(t, res, Options{ProfilePath: "irp.pb.gz"})
	assert.Contains(t, html, "go tool pprof -http=: irp.pb.gz")
}

func TestGoldenNoPoolEvents(t *testing.T) {
	tr := corpus.Find(t, "AMSITrace")
	res, err := leak.Run(tr.Path, leak.Options{})
	require.NoError(t, err)
	res.Report.Trace.File = tr.Name
	html := render(t, res, Options{})
	root, sum := structure(t, html)
	golden(t, "no-pool.golden", sum)
	assert.Contains(t, sum, "h2: No pool events")
	assert.Nil(t, root.first(tagIs("svg")), "no chart")
	assert.Nil(t, root.first(hasClass("table", "tags")), "no tag table")
}

func TestGoldenManyTags(t *testing.T) {
	res := synthetic(300, 120)
	html := render(t, res, Options{})
	root, sum := structure(t, html)
	golden(t, "many-tags.golden", sum)
	series := root.all(hasClass("path", "series"))
	require.Len(t, series, DefaultTopTags+1)
	other := series[len(series)-1]
	assert.Equal(t, "other", other.attr["data-tag"])
	assert.Contains(t, sum, "other (292 tags)")
	assert.Len(t, root.first(hasClass("table", "tags")).all(tagIs("tr")), 301, "every tag has a row")
	assert.Len(t, root.all(hasClass("section", "tag-stacks")), DefaultTopTags)

	// More series than the legend has rows: the legend says so.
	html = render(t, res, Options{TopTags: MaxTopTags})
	root, err := parseDOM(html)
	require.NoError(t, err)
	assert.Len(t, root.all(hasClass("path", "series")), MaxTopTags+1)
	assert.NotNil(t, root.first(hasClass("text", "legend-more")))
	checkAnchors(t, root)
}

func TestWindow(t *testing.T) {
	res, err := leak.Run(irpLeakPath, leak.Options{Window: [2]float64{2, 5}, HasWindow: true})
	require.NoError(t, err)
	html := render(t, res, Options{WindowLabel: "2:5 s"})
	root, sum := structure(t, html)
	assert.Contains(t, sum, "fact: Window = 2:5 s from the trace start")
	band := root.first(hasClass("rect", "window"))
	require.NotNil(t, band)
	assert.Contains(t, sum, "Counts are those of the window")
	// The first row is the window's, not the whole trace's.
	row := root.first(hasClass("table", "tags")).all(tagIs("tr"))[1]
	assert.Equal(t, "Irp ", row.attr["data-tag"])
	assert.NotContains(t, row.Text(), "159744")
}

func TestRenderErrors(t *testing.T) {
	var buf bytes.Buffer
	assert.ErrorIs(t, Render(&buf, nil, Options{}), ErrNoReport)
	assert.ErrorIs(t, Render(&buf, &leak.Result{}, Options{}), ErrNoReport)
	werr := errors.New("disk full")
	err := Render(failWriter{werr}, synthetic(3, 5), Options{})
	assert.ErrorIs(t, err, werr)
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestEscaping feeds trace-derived strings that try to break out of their
// context; they must come back as text.
func TestEscaping(t *testing.T) {
	res := synthetic(3, 5)
	proc := `<script>alert(1)</script>`
	mod := `evil"><svg onload=alert(2)>.dll`
	sym := `operator<<</td></tr></table><img src=x onerror=alert(3)>`
	file := `C:\src\a&b<c>.cpp`
	res.Report.Trace.File = `x"><script>alert(4)</script>.etl`
	res.Report.Tags[0].Tag = pool.MakeTag("<a>'")
	res.Report.Tags[0].Pool = pool.Kind(200)
	m := &stacks.Module{Name: mod, Base: 0x10000, Size: 0x1000}
	res.Stacks = []leak.Stack{{
		Tag: res.Report.Tags[0].Tag.String(), Pool: res.Report.Tags[0].Pool.String(), OutstandingCount: 1, OutstandingBytes: 64,
		Process: proc, PID: 7,
		Resolved: []stacks.Frame{{Addr: 0x10010, Kind: stacks.User, Module: m, Symbol: &stacks.Symbol{Name: sym, RVA: 0x10, File: file, Line: 3}}},
	}}
	html := render(t, res, Options{})
	root, err := parseDOM(html)
	require.NoError(t, err)
	checkSelfContained(t, html)
	checkAnchors(t, root)
	for _, bad := range []string{"<svg onload", "<img", "alert(4)</script>", "<a>'"} {
		assert.NotContains(t, html, bad)
	}
	assert.Equal(t, `x"><script>alert(4)</script>.etl`, root.first(hasClass("span", "file")).Text())
	fn := root.first(hasClass("td", "fn"))
	require.NotNil(t, fn)
	assert.Equal(t, mod+"!"+sym+"+0x0", fn.Text())
	assert.Equal(t, file+":3", root.first(hasClass("td", "line")).Text())
	h4 := root.first(tagIs("h4"))
	assert.Contains(t, h4.Text(), proc)

	// Bytes that are not UTF-8 and control characters become U+FFFD.
	res.Stacks[0].Process = "bad\xff\x01name\u0085"
	html = render(t, res, Options{})
	assert.True(t, utf8.ValidString(html))
	assert.Contains(t, html, "bad\ufffd\ufffdname\ufffd (pid 7)")
	assert.Equal(t, []byte("ok\t\n"), sanitize([]byte("ok\t\n")))
	sec := root.first(hasClass("section", "tag-stacks"))
	assert.Equal(t, "stack-_3ca_3e_27-kind_28200_29", sec.attr["id"])
}

func TestChartHelpers(t *testing.T) {
	lo, hi, step := niceRange(0, 156)
	assert.Equal(t, [3]float64{0, 160, 20}, [3]float64{lo, hi, step})
	lo, hi, step = niceRange(0, 119.5)
	assert.Equal(t, [3]float64{0, 120, 20}, [3]float64{lo, hi, step})
	lo, hi, step = niceRange(0, 9.94)
	assert.Equal(t, [3]float64{0, 10, 2}, [3]float64{lo, hi, step})
	lo, hi, step = niceRange(0, 0)
	assert.Equal(t, [3]float64{0, 1, 0.2}, [3]float64{lo, hi, step})
	lo, hi, step = niceRange(-3, 7)
	assert.Equal(t, [3]float64{-3, 7, 1}, [3]float64{lo, hi, step})
	lo, hi, step = niceRange(0, 4095.5)
	assert.Equal(t, [3]float64{0, 4500, 500}, [3]float64{lo, hi, step})
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 159744: "156.0 KiB", 3 << 20: "3.0 MiB", -2048: "-2.0 KiB", 1 << 62: "4.0 EiB"} {
		assert.Equal(t, want, humanBytes(n), "%d", n)
	}
	assert.Equal(t, "0.25", fmtNum(0.25, 0.05))
	assert.Equal(t, "2", fmtNum(2, 1))
	assert.Equal(t, "0", fmtNum(-0.0000001, 0.5))
	assert.Equal(t, "stack-Irp_20-nonpaged", anchorID("Irp ", "nonpaged"))
}

// TestDecimation: a long series keeps its peaks, ends at its last value
// and stays within maxPoints vertices.
func TestDecimation(t *testing.T) {
	res := synthetic(2, 10000)
	s := res.Report.Tags[0].Series
	s[4321] = 1 << 30 // one spike
	html := render(t, res, Options{})
	root, err := parseDOM(html)
	require.NoError(t, err)
	p := root.first(hasClass("path", "series"))
	require.NotNil(t, p)
	d := p.attr["d"]
	assert.LessOrEqual(t, strings.Count(d, "L"), maxPoints+1)
	assert.Equal(t, fmt.Sprint(1<<30), p.attr["data-max"])
	assert.Contains(t, d, fmt.Sprintf(" %v", float64(plotTop)), "the spike reaches the top of the plot")
	assert.Empty(t, root.all(hasClass("circle", "pt")), "no per-point markers on long series")
	// The last vertex is the last value.
	i := strings.LastIndex(d, "L")
	var x, y float64
	_, err = fmt.Sscanf(d[i:], "L%g %g", &x, &y)
	require.NoError(t, err)
	assert.InDelta(t, float64(plotRight), x, 0.5)
}

func TestConcurrentRender(t *testing.T) {
	res := synthetic(20, 50)
	want := render(t, res, Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var buf bytes.Buffer
			assert.NoError(t, Render(&buf, res, Options{}))
			assert.Equal(t, want, buf.String())
		})
	}
	wg.Wait()
}

// synthetic makes a report of n tags over bins one-second bins: every
// third tag leaks (grows linearly), the others rise and fall. The first
// leaking tags get stacks: a WOW64 stack with a symbol, a folded one and
// one without frames.
func synthetic(n, bins int) *leak.Result {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const freq = 10_000_000
	rep := &pool.Report{Frequency: freq, Start: 1000, End: 1000 + int64(bins)*freq - freq/2, BinTicks: freq}
	rep.Trace = pool.TraceInfo{File: fmt.Sprintf("synthetic-%d.etl", n), Start: start,
		End: start.Add(time.Duration(bins)*time.Second - time.Second/2), DurationS: float64(bins) - 0.5,
		Events: uint64(n * bins * 3), PoolEvents: uint64(n * bins * 2)}
	for i := range n {
		ts := pool.TagStats{Tag: pool.MakeTag(fmt.Sprintf("T%03d", i)), Pool: pool.Kind(i % 2), Allocs: uint64(bins * 2), Frees: uint64(bins),
			LeakRank: i + 1, Series: make([]int64, bins)}
		for j := range bins {
			if i%3 == 0 {
				ts.Series[j] = int64((n - i) * 64 * (j + 1))
			} else {
				ts.Series[j] = int64((n - i) * 32 * (j % 7))
			}
		}
		last := ts.Series[bins-1]
		ts.OutstandingBytes, ts.OutstandingCount = uint64(last), uint64(last/64)
		ts.AIFO = ts.OutstandingCount
		if i%3 == 0 {
			ts.GrowthBytesPerS, ts.GrowthR2 = float64((n-i)*64), 1
		}
		rep.Tags = append(rep.Tags, ts)
		rep.Totals.OutstandingBytes += ts.OutstandingBytes
		rep.Totals.OutstandingCount += ts.OutstandingCount
	}
	// Sorted like the ledger's report: outstanding bytes, descending.
	for i := 1; i < len(rep.Tags); i++ {
		for j := i; j > 0 && rep.Tags[j].OutstandingBytes > rep.Tags[j-1].OutstandingBytes; j-- {
			rep.Tags[j], rep.Tags[j-1] = rep.Tags[j-1], rep.Tags[j]
		}
	}
	nt := &stacks.Module{Name: "ntoskrnl.exe", Base: 0xfffff80000000000, Size: 0x1000000}
	ntdll := &stacks.Module{Name: "ntdll.dll", Base: 0x7ffe0000, Size: 0x100000}
	cpu := &stacks.Module{Name: "wow64cpu.dll", Base: 0x7ff00000, Size: 0x10000}
	app := &stacks.Module{Name: "App.exe", Base: 0x400000, Size: 0x10000}
	wow := []stacks.Frame{
		{Addr: nt.Base + 0x1234, Kind: stacks.Kernel, Module: nt, Symbol: &stacks.Symbol{Name: "ExAllocatePool2", RVA: 0x1200}},
		{Addr: nt.Base + 0x5678, Kind: stacks.Kernel, Module: nt},
		{Addr: ntdll.Base + 0x10, Kind: stacks.User, Module: ntdll},
		{Addr: cpu.Base + 0x20, Kind: stacks.User, Module: cpu},
		{Addr: app.Base + 0x1100, Kind: stacks.WOW64, Module: app, Symbol: &stacks.Symbol{Name: "LeakLoop", RVA: 0x1000, File: `C:\src\app\leak.c`, Line: 42}},
		{Addr: 0x12345678, Kind: stacks.WOW64},
	}
	folded := []stacks.Frame{wow[0], wow[1], {Kind: stacks.Marker, Text: "[wow64 transition]"}, wow[4]}
	var sts []leak.Stack
	for i, ts := range rep.Tags {
		if ts.OutstandingBytes == 0 || i >= 4 {
			break
		}
		b := ts.OutstandingBytes
		// Half on the WOW64 stack, a quarter each on the folded one and on
		// allocations without a stack.
		for k, frames := range [][]stacks.Frame{wow, folded, nil} {
			share := b / 2
			if k > 0 {
				share = b / 4
			}
			st := leak.Stack{Tag: ts.Tag.String(), Pool: ts.Pool.String(), OutstandingBytes: share, OutstandingCount: share / 64,
				Resolved: frames, Segments: stacks.SegmentsOf(frames), Transition: stacks.HasWOW64Transition(frames),
				Frames: []string{}, Lines: []string{}}
			if frames != nil {
				st.Process, st.PID = "App.exe", 4242
			}
			for _, f := range frames {
				st.Frames = append(st.Frames, f.String())
				st.Lines = append(st.Lines, f.Line())
			}
			sts = append(sts, st)
		}
	}
	return &leak.Result{Report: rep, Stacks: sts}
}

// Legend entries of long pool kinds ("paged-session") once ran into
// their values: each value now has its own line under its label, and
// entries do not overlap each other or leave the chart.
func TestLegendDoesNotOverlap(t *testing.T) {
	html := render(t, irpLeak(t), Options{})
	root, err := parseDOM(html)
	require.NoError(t, err)
	atoi := func(s string) int {
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return int(v)
	}
	const charW = 7.3 // a 12px monospace character, generously
	prevBottom, long := 0, 0
	for _, e := range root.all(hasClass("", "legend-entry")) {
		label, value := e.first(hasClass("text", "legend-label")), e.first(hasClass("text", "legend-value"))
		require.NotNil(t, label)
		require.NotNil(t, value)
		ly, vy := atoi(label.attr["y"]), atoi(value.attr["y"])
		assert.GreaterOrEqual(t, vy-ly, 12, "%s: the value is on the next line", label.Text())
		assert.Empty(t, value.attr["text-anchor"], "the value starts under the label")
		assert.Equal(t, label.attr["x"], value.attr["x"])
		assert.LessOrEqual(t, float64(atoi(label.attr["x"]))+charW*float64(len(label.Text())), float64(chartW), "%s fits", label.Text())
		assert.Greater(t, ly-11, prevBottom, "%s: entries do not overlap", label.Text())
		prevBottom = vy
		if strings.Contains(label.Text(), "-session") {
			long++
		}
	}
	assert.NotZero(t, long, "the fixture's legend has a session pool kind")
}

// Stack sections follow the leak rank, not the outstanding bytes: a tag
// that holds more but grows in one jump comes after the steady grower.
func TestSectionsByLeakRank(t *testing.T) {
	res, err := leak.Run(irpLeakPath, leak.Options{}) // a copy of its own: it is changed below
	require.NoError(t, err)
	tags := res.Report.Tags
	require.GreaterOrEqual(t, len(tags), 2)
	// Swap the ranks of the first two tags: sections must follow.
	tags[0].LeakRank, tags[1].LeakRank = tags[1].LeakRank, tags[0].LeakRank
	root, err := parseDOM(render(t, res, Options{}))
	require.NoError(t, err)
	secs := root.all(hasClass("section", "tag-stacks"))
	require.Len(t, secs, 2)
	assert.Equal(t, tags[1].Tag.String(), secs[0].attr["data-tag"])
	assert.Equal(t, tags[0].Tag.String(), secs[1].attr["data-tag"])
	// The tag table stays sorted by outstanding bytes.
	rows := root.first(hasClass("table", "tags")).all(tagIs("tr"))
	assert.Equal(t, tags[0].Tag.String(), rows[1].attr["data-tag"])

	// Window tags carry no rank: the whole report's ranks order them, and
	// unranked tags come last.
	mk := func(tag string, rank int) pool.TagStats {
		return pool.TagStats{Tag: pool.MakeTag(tag), LeakRank: rank}
	}
	win := []pool.TagStats{mk("AAAA", 0), mk("BBBB", 0), mk("CCCC", 0)}
	ranked := []pool.TagStats{mk("CCCC", 1), mk("AAAA", 2)}
	var got []string
	for _, t := range byLeakRank(win, ranked) {
		got = append(got, t.Tag.String())
	}
	assert.Equal(t, []string{"CCCC", "AAAA", "BBBB"}, got)
}

// The verdict is the first section, and links to its tag's stacks.
func TestVerdictSection(t *testing.T) {
	root, err := parseDOM(render(t, irpLeak(t), Options{}))
	require.NoError(t, err)
	first := root.first(tagIs("section"))
	require.NotNil(t, first)
	assert.Equal(t, "verdict", first.attr["id"])
	assert.Contains(t, first.Text(), `"Irp " leaks nonpaged pool: 156 blocks, 159744 bytes outstanding`)
	a := first.first(tagIs("a"))
	require.NotNil(t, a)
	assert.Equal(t, "#stack-Irp_20-nonpaged", a.attr["href"])
}
