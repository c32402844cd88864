package htmlreport

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// Defaults and limits of [Options].
const (
	// DefaultTopTags is the number of tag series plotted (and tags whose
	// stacks are listed) when Options.TopTags is 0.
	DefaultTopTags = 8
	// MaxTopTags caps Options.TopTags.
	MaxTopTags = 40
	// DefaultTopStacks is the number of stacks listed per tag when
	// Options.TopStacks is 0.
	DefaultTopStacks = 3
	// MaxTopStacks caps Options.TopStacks.
	MaxTopStacks = 100
	// MaxProcessRows caps the rows of the process table.
	MaxProcessRows = 10
	// MaxFrames caps the frames shown per stack (the ledger already caps
	// them at pool.MaxStackFrames).
	MaxFrames = 512
)

// ErrNoReport is returned by [Render] for a nil result or a result without
// a pool report.
var ErrNoReport = errors.New("htmlreport: no pool report to render")

// Options configure [Render]. The zero value works.
type Options struct {
	// Title names the trace in the heading; empty: Report.Trace.File, else
	// "trace".
	Title string
	// TopTags is how many tags get their own series (the rest are summed
	// into an "other" series) and how many leaking tags get a stacks
	// section: 0 means DefaultTopTags; at most MaxTopTags.
	TopTags int
	// TopStacks is how many stacks are listed per leaking tag: 0 means
	// DefaultTopStacks; at most MaxTopStacks.
	TopStacks int
	// ProfilePath is the pprof profile written beside the report, for the
	// "go tool pprof -http=: FILE" hint; empty: the hint says how to make
	// one.
	ProfilePath string
	// WindowLabel describes the analysis window in the trace section
	// ("2:5 s"); empty: it is computed from the result's window.
	WindowLabel string
	// Generated stamps the report's footer; the zero time omits the stamp
	// (and keeps the output reproducible).
	Generated time.Time
	// Filtered says that the result is of the pool events that pass a
	// filter (poolleak's -tag, -pid or -window): a report without pool
	// events then blames the filter, not the recording.
	Filtered bool
}

// NoPoolVerdict is the verdict of a result without pool events, in the
// text and HTML reports alike: it says why there are none (a filter that
// let none pass, a trace not read whole, or a recording without pool
// tracing) instead of saying that no tag leaks.
func NoPoolVerdict(res *leak.Result, filtered bool) string {
	switch {
	case !res.Damage.Complete:
		return "No verdict: no pool events in the part of the trace that could be read."
	case filtered:
		return "No verdict: no pool event of the trace passes the filters."
	}
	return "No verdict: the trace has no pool events."
}

//go:embed report.html.tmpl
var templateText string

//go:embed report.css
var cssText string

//go:embed report.js
var jsText string

// reportTemplate is parsed on first use, not at init: every run of the
// tools that link this package would pay for it (about 1 ms and 2,700
// allocations), and most never write HTML.
var reportTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"add":  func(a, b int) int { return a + b },
		"sub":  func(a, b int) int { return a - b },
		"half": func(a int) float64 { return float64(a) / 2 },
	}).Parse(templateText))
})

var csp = "default-src 'none'; script-src '" + hash(jsText) + "'; style-src '" + hash(cssText) +
	"'; img-src data:; base-uri 'none'; form-action 'none'"

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(h[:])
}

// Render writes the HTML report of res to w. It reads res and does not
// change it.
func Render(w io.Writer, res *leak.Result, opts Options) error {
	if res == nil || res.Report == nil {
		return ErrNoReport
	}
	v := build(res, opts)
	var buf bytes.Buffer
	if err := reportTemplate().Execute(&buf, v); err != nil {
		return fmt.Errorf("htmlreport: %w", err)
	}
	if _, err := w.Write(sanitize(buf.Bytes())); err != nil {
		return fmt.Errorf("htmlreport: writing the report: %w", err)
	}
	return nil
}

// sanitize replaces what a trace string may smuggle into the page besides
// markup, which the template escapes: bytes that are not UTF-8 and control
// characters other than tab and newlines. Each becomes U+FFFD, so the page
// is valid UTF-8 text as its charset declares.
func sanitize(b []byte) []byte {
	ok := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r < 0x7f || r >= 0xa0 && r != 0xfffe && r != 0xffff
	}
	clean := true
	for i := 0; i < len(b) && clean; {
		r, n := utf8.DecodeRune(b[i:])
		clean = ok(r) && !(r == utf8.RuneError && n == 1)
		i += n
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+64)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if ok(r) && !(r == utf8.RuneError && n == 1) {
			out = append(out, b[:n]...)
		} else {
			out = utf8.AppendRune(out, utf8.RuneError)
		}
		b = b[n:]
	}
	return out
}

// view is the template data.
type view struct {
	Title      string
	Verdict    verdictView
	CSP        string
	CSS        template.CSS
	JS         template.JS
	Facts      []fact
	NoPool     bool
	NoPoolText string
	Chart      *chartView
	Tags       []tagRow
	TagsNote   string
	Sections   []tagSection
	Processes  []procRow
	Profile    string
	MakeProf   string
	Generated  string
	Window     bool
}

// verdictView is the first section: the verdict in words, with a link to
// the tag's stacks.
type verdictView struct {
	Leak  bool
	Lines []string
	Href  string
	Tag   string
	Pool  string
}

type fact struct {
	Name, Value string
	Warn        bool
	Sub         string
}

type tagRow struct {
	Tag, Pool, TagRaw               string
	Allocs, Frees, AIFI, AIFO, AOFI uint64
	OutCount, OutBytes              uint64
	OutHuman, Growth, R2, GrowthHum string
	Rank                            int
	Href, Color                     string
	Leaking                         bool
	Series                          bool
}

type tagSection struct {
	ID, Tag, Pool, TagRaw string
	Summary               string
	Stacks                []stackView
	More                  string
	Color                 string
}

type stackView struct {
	N          int
	Count      uint64
	Bytes      string
	Share      string
	Process    string
	Segments   stacks.Segments
	Transition bool
	Frames     []frameRow
	NoStack    bool
	Truncated  string
	HasLines   bool
}

type frameRow struct {
	Role      string // "owner" or "caller" for the verdict's frames
	Sep       string // separator text before the frame, if any
	SepClass  string
	Kind      string
	Text      string
	Module    string
	Symbol    string
	Line      string
	Resolved  bool
	Symbolize bool
}

type procRow struct {
	PID                uint32
	PIDText            string // "?" for etw.NoPID
	Name               string
	Allocs, Frees      uint64
	OutCount           uint64
	OutBytes, OutHuman string
}

// tagKey identifies a (tag, pool kind).
func tagKey(t pool.Tag, k pool.Kind) string { return t.String() + "\x00" + k.String() }

// anchorID makes a fragment identifier for a (tag, pool): letters and
// digits are kept, every other byte is written _xx.
func anchorID(tag, kind string) string {
	var b strings.Builder
	b.WriteString("stack-")
	for _, part := range []string{tag, kind} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "_%02x", c)
			}
		}
		if part == tag {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func build(res *leak.Result, opts Options) *view {
	rep := res.Report
	topTags := opts.TopTags
	if topTags <= 0 {
		topTags = DefaultTopTags
	}
	topTags = min(topTags, MaxTopTags)
	topStacks := opts.TopStacks
	if topStacks <= 0 {
		topStacks = DefaultTopStacks
	}
	topStacks = min(topStacks, MaxTopStacks)
	title := opts.Title
	if title == "" {
		title = rep.Trace.File
	}
	if title == "" {
		title = "trace"
	}
	v := &view{Title: title, CSP: csp, CSS: template.CSS(cssText), JS: template.JS(jsText)}
	if !opts.Generated.IsZero() {
		v.Generated = opts.Generated.UTC().Format(time.RFC3339)
	}

	tags, totals := rep.Tags, rep.Totals
	if res.Window != nil {
		tags, totals = res.Window.Tags, res.Window.Totals
		v.Window = true
	}
	freq := float64(rep.Frequency)
	if !(freq > 0) {
		freq = 1e7
	}
	v.Facts = traceFacts(res, totals, freq, opts)

	v.NoPool = rep.Trace.PoolEvents == 0 && len(rep.Tags) == 0
	switch {
	case !v.NoPool:
	case !res.Damage.Complete:
		v.NoPoolText = "The part of this trace that could be read has no kernel pool allocation events, so there is nothing to chart."
	case opts.Filtered:
		v.NoPoolText = "No kernel pool allocation event of this trace passes the filters, so there is nothing to chart."
	default:
		v.NoPoolText = "This trace has no kernel pool allocation events, so there is nothing to chart. " +
			"Record one with pool tracing and stack walks, for example: " +
			"xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc+PoolFree."
	}

	// Stack sections: the leaking tags (outstanding bytes at the end), by
	// leak rank (the whole report's: window tags are not ranked), up to
	// topTags of them.
	anchors := map[string]string{}
	for _, t := range byLeakRank(tags, rep.Tags) {
		if len(v.Sections) >= topTags {
			break
		}
		if t.OutstandingBytes == 0 {
			continue
		}
		sec := tagSection{ID: anchorID(t.Tag.String(), t.Pool.String()), TagRaw: t.Tag.String(), Tag: strconv.Quote(t.Tag.String()), Pool: t.Pool.String()}
		sec.Summary = fmt.Sprintf("%d blocks, %s outstanding; growth %.1f B/s (R² %.2f), leak rank %d",
			t.OutstandingCount, humanBytes(clampI64(t.OutstandingBytes)), t.GrowthBytesPerS, t.GrowthR2, t.LeakRank)
		sec.Stacks, sec.More = tagStacks(res.Stacks, t, topStacks)
		anchors[tagKey(t.Tag, t.Pool)] = "#" + sec.ID
		v.Sections = append(v.Sections, sec)
	}

	series, hidden := pickSeries(rep.Tags, topTags)
	colors := map[string]string{}
	if !v.NoPool {
		var win *[2]float64
		if res.Window != nil {
			w := [2]float64{float64(res.Window.Window.Start-rep.Start) / freq, float64(res.Window.Window.End-rep.Start) / freq}
			win = &w
		}
		v.Chart = buildChart(chartInput{series: series, hidden: hidden, binS: float64(rep.BinTicks) / freq,
			durS: rep.Trace.DurationS, wallStart: rep.Trace.Start, window: win, anchors: anchors})
		for _, s := range v.Chart.Series {
			if !s.Other {
				colors[s.Tag+"\x00"+s.Pool] = s.Color
			}
		}
	}
	for i := range v.Sections {
		v.Sections[i].Color = colors[v.Sections[i].TagRaw+"\x00"+v.Sections[i].Pool]
	}
	v.Verdict = verdictOf(res.Verdict, anchors)
	if v.NoPool {
		v.Verdict.Lines = []string{NoPoolVerdict(res, opts.Filtered)}
	}
	markVerdict(v.Sections, res.Verdict)
	for _, t := range tags {
		r := tagRow{TagRaw: t.Tag.String(), Tag: strconv.Quote(t.Tag.String()), Pool: t.Pool.String(), Allocs: t.Allocs, Frees: t.Frees,
			AIFI: t.AIFI, AIFO: t.AIFO, AOFI: t.AOFI, OutCount: t.OutstandingCount, OutBytes: t.OutstandingBytes,
			OutHuman: humanBytes(clampI64(t.OutstandingBytes)), Growth: fmtFloat(t.GrowthBytesPerS, 1), R2: fmtFloat(t.GrowthR2, 2),
			Rank: t.LeakRank, Href: anchors[tagKey(t.Tag, t.Pool)], Leaking: t.OutstandingBytes > 0}
		r.Color = colors[r.TagRaw+"\x00"+r.Pool]
		r.Series = r.Color != ""
		if g := t.GrowthBytesPerS; g != 0 && !math.IsNaN(g) && !math.IsInf(g, 0) {
			r.GrowthHum = humanBytes(int64(g)) + "/s"
		}
		v.Tags = append(v.Tags, r)
	}
	if res.Window != nil {
		v.TagsNote = "Counts are those of the window; outstanding means outstanding at the window's end."
	}

	for _, p := range rep.Processes {
		if len(v.Processes) >= MaxProcessRows || p.OutstandingBytes == 0 {
			break
		}
		r := procRow{PID: p.PID, Allocs: p.Allocs, Frees: p.Frees, OutCount: p.OutstandingCount,
			OutBytes: strconv.FormatUint(p.OutstandingBytes, 10), OutHuman: humanBytes(clampI64(p.OutstandingBytes))}
		switch {
		case etw.PID(p.PID) == etw.NoPID:
			r.Name = "unknown process (no process named by the events)"
		case res.Modules != nil:
			if pr := res.Modules.Process(etw.PID(p.PID)); pr != nil {
				r.Name = pr.Name
			}
		}
		r.PIDText = strconv.FormatUint(uint64(p.PID), 10)
		if etw.PID(p.PID) == etw.NoPID {
			r.PIDText = "?"
		}
		v.Processes = append(v.Processes, r)
	}

	if opts.ProfilePath != "" {
		v.Profile = "go tool pprof -http=: " + opts.ProfilePath
	} else {
		v.MakeProf = "poolleak -o leak.pb.gz " + title
		v.Profile = "go tool pprof -http=: leak.pb.gz"
	}
	return v
}

func traceFacts(res *leak.Result, totals pool.Totals, freq float64, opts Options) []fact {
	rep := res.Report
	t := rep.Trace
	var fs []fact
	if t.File != "" {
		fs = append(fs, fact{Name: "File", Value: t.File})
	}
	fs = append(fs, fact{Name: "Span", Value: spanText(res)})
	fs = append(fs, fact{Name: "Events", Value: fmt.Sprintf("%d (%d pool events)", t.Events, t.PoolEvents)})
	fs = append(fs, fact{Name: "Lost", Value: fmt.Sprintf("%d events, %d buffers", t.EventsLost, t.BuffersLost),
		Warn: t.EventsLost > 0 || t.BuffersLost > 0,
		Sub:  lostNote(t.EventsLost, t.BuffersLost)})
	if res.Modules != nil {
		procs := res.Modules.Processes()
		wow := 0
		for _, p := range procs {
			if p.WOW64 {
				wow++
			}
		}
		fs = append(fs, fact{Name: "Processes", Value: fmt.Sprintf("%d seen (%d WOW64); %d with outstanding allocations",
			len(procs), wow, outstandingProcs(rep.Processes))})
	}
	if res.Window != nil {
		label := opts.WindowLabel
		if label == "" {
			label = fmt.Sprintf("%.3f .. %.3f s", float64(res.Window.Window.Start-rep.Start)/freq, float64(res.Window.Window.End-rep.Start)/freq)
		}
		fs = append(fs, fact{Name: "Window", Value: label + " from the trace start (outstanding = at the window's end)"})
	}
	fs = append(fs, fact{Name: "Outstanding", Value: fmt.Sprintf("%d blocks, %s (%d bytes); %d allocs, %d frees",
		totals.OutstandingCount, humanBytes(clampI64(totals.OutstandingBytes)), totals.OutstandingBytes, totals.Allocs, totals.Frees)})
	if a := rep.Anomalies; a.FreeWithoutAlloc > 0 || a.AllocOverOpenBlock > 0 || a.OutOfOrder > 0 {
		fs = append(fs, fact{Name: "Anomalies", Value: fmt.Sprintf("%d frees without alloc, %d allocs over an open block, %d out of order",
			a.FreeWithoutAlloc, a.AllocOverOpenBlock, a.OutOfOrder)})
	}
	if n := len(res.ReadErrors); n > 0 {
		fs = append(fs, fact{Name: "Read errors", Value: fmt.Sprintf("%d damaged records skipped", n), Warn: true})
	}
	if d := &res.Damage; d.Missing() {
		fs = append(fs, fact{Name: "Partial trace", Value: fmt.Sprintf("read %d of the %d buffers the trace header says were written",
			d.BuffersRead, d.BuffersWritten), Warn: true, Sub: "every figure is that of the part read"})
	}
	if st := res.StackStats; st.Emitted > 0 {
		fs = append(fs, fact{Name: "Stacks", Value: fmt.Sprintf("%d of %d pool events have a stack (%d kernel only)",
			st.Emitted-st.WithoutStack, st.Emitted, st.KernelOnly)})
	}
	return fs
}

// spanText describes the trace's span: from the ledger when the trace has
// pool events (first tick to last pool event), else from the logfile
// header's start and end times.
func spanText(res *leak.Result) string {
	t := res.Report.Trace
	if t.PoolEvents > 0 && t.DurationS >= 0 && !math.IsInf(t.DurationS, 0) {
		span := strconv.FormatFloat(t.DurationS, 'f', 3, 64) + " s"
		if !t.Start.IsZero() {
			span = t.Start.UTC().Format("2006-01-02 15:04:05.000") + " .. " + t.End.UTC().Format("15:04:05.000") + " UTC (" + span + ")"
		}
		return span
	}
	if h := res.Header; h != nil && h.StartTime > 0 {
		a := filetime(h.StartTime)
		if h.EndTime > h.StartTime {
			b := filetime(h.EndTime)
			return a.Format("2006-01-02 15:04:05.000") + " .. " + b.Format("15:04:05.000") + " UTC (" +
				strconv.FormatFloat(b.Sub(a).Seconds(), 'f', 3, 64) + " s, from the trace header)"
		}
		return "from " + a.Format("2006-01-02 15:04:05.000") + " UTC (trace header; no end time)"
	}
	return "unknown (no pool events)"
}

// filetime converts a Windows FILETIME (100 ns since 1601) to UTC.
func filetime(ft int64) time.Time {
	const unixEpoch = 116444736000000000 // 1970-01-01 as a FILETIME
	return time.Unix(0, 0).UTC().Add(time.Duration(ft-unixEpoch) * 100)
}

func lostNote(ev, buf uint64) string {
	if ev == 0 && buf == 0 {
		return ""
	}
	return "lost events can make blocks look outstanding, or frees unmatched"
}

func outstandingProcs(ps []pool.ProcessStats) int {
	n := 0
	for _, p := range ps {
		if p.OutstandingBytes > 0 {
			n++
		}
	}
	return n
}

func clampI64(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

func fmtFloat(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

// tagStacks lists the first n stacks of tag t.
func tagStacks(all []leak.Stack, t pool.TagStats, n int) ([]stackView, string) {
	tag, kind := t.Tag.String(), t.Pool.String()
	var out []stackView
	more, moreBytes := 0, uint64(0)
	for i := range all {
		s := &all[i]
		if s.Tag != tag || s.Pool != kind {
			continue
		}
		if len(out) >= n {
			more++
			moreBytes += s.OutstandingBytes
			continue
		}
		sv := stackView{N: len(out) + 1, Count: s.OutstandingCount, Bytes: humanBytes(clampI64(s.OutstandingBytes)),
			Segments: s.Segments, Transition: s.Transition}
		if t.OutstandingBytes > 0 {
			sv.Share = strconv.FormatFloat(100*float64(s.OutstandingBytes)/float64(t.OutstandingBytes), 'f', 1, 64) + "%"
		}
		if s.Process != "" {
			sv.Process = fmt.Sprintf("%s (pid %d)", s.Process, s.PID)
		} else if s.PID != 0 {
			sv.Process = fmt.Sprintf("pid %d", s.PID)
		}
		sv.Frames, sv.Truncated = frameRows(s)
		for _, f := range sv.Frames {
			sv.HasLines = sv.HasLines || f.Line != ""
		}
		sv.NoStack = len(sv.Frames) == 0
		out = append(out, sv)
	}
	note := ""
	if more > 0 {
		note = fmt.Sprintf("%d more stacks with %s outstanding (see the pprof profile)", more, humanBytes(clampI64(moreBytes)))
	}
	return out, note
}

// frameRows lays out a stack innermost first, with a separator row where
// the stack crosses into user mode, into the 32-bit code of a WOW64
// process, or back into the kernel (the same rules as poolleak's text).
func frameRows(s *leak.Stack) ([]frameRow, string) {
	var rows []frameRow
	trunc := ""
	if len(s.Resolved) == 0 {
		for i, f := range s.Frames {
			if i >= MaxFrames {
				trunc = fmt.Sprintf("%d more frames", len(s.Frames)-MaxFrames)
				break
			}
			rows = append(rows, frameRow{Kind: "", Text: f})
		}
		return rows, trunc
	}
	prev := stacks.FrameKind(0)
	for j := range s.Resolved {
		if j >= MaxFrames {
			trunc = fmt.Sprintf("%d more frames", len(s.Resolved)-MaxFrames)
			break
		}
		f := &s.Resolved[j]
		r := frameRow{Kind: f.Kind.String(), Text: f.String(), Line: f.Line(), Resolved: f.Module != nil || f.Method != nil || f.Kind == stacks.Marker}
		if f.Kind != prev && j > 0 && f.Kind != stacks.Marker && prev != stacks.Marker {
			switch {
			case f.Kind == stacks.WOW64 && prev == stacks.User:
				r.Sep, r.SepClass = "WOW64: 64-bit layer above, 32-bit code below", "sep-wow64"
			case f.Kind == stacks.User && prev == stacks.Kernel || f.Kind == stacks.WOW64 && prev == stacks.Kernel:
				r.Sep, r.SepClass = "user mode", "sep-user"
			case f.Kind == stacks.Kernel:
				r.Sep, r.SepClass = "kernel", "sep-kernel"
			}
		}
		prev = f.Kind
		if f.Symbol != nil && f.Module != nil {
			// module!symbol+0xoff: the symbol is the interesting part.
			if mod, rest, ok := strings.Cut(r.Text, "!"); ok {
				r.Module, r.Symbol, r.Symbolize = mod+"!", rest, true
			}
		}
		rows = append(rows, r)
	}
	return rows, trunc
}

// byLeakRank returns the tags in leak-rank order, taking the ranks from
// ranked (tags may be a window's, which carry none), ties and unranked
// tags in their given order.
func byLeakRank(tags, ranked []pool.TagStats) []pool.TagStats {
	rank := make(map[string]int, len(ranked))
	for _, t := range ranked {
		rank[tagKey(t.Tag, t.Pool)] = t.LeakRank
	}
	out := slices.Clone(tags)
	slices.SortStableFunc(out, func(a, b pool.TagStats) int {
		ra, rb := rank[tagKey(a.Tag, a.Pool)], rank[tagKey(b.Tag, b.Pool)]
		if ra == 0 || rb == 0 {
			return cmp.Compare(rb, ra) // unranked last
		}
		return cmp.Compare(ra, rb)
	})
	return out
}

func verdictOf(v *leak.Verdict, anchors map[string]string) verdictView {
	out := verdictView{Lines: v.Lines()}
	if v != nil {
		out.Leak, out.Tag, out.Pool = true, strconv.Quote(v.Tag), v.Pool
		out.Href = anchors[v.Tag+"\x00"+v.Pool]
	}
	return out
}

// markVerdict marks the owner and caller frames in the verdict tag's top
// stack.
func markVerdict(secs []tagSection, v *leak.Verdict) {
	if v == nil || v.Stack == nil {
		return
	}
	for i := range secs {
		if secs[i].TagRaw != v.Tag || secs[i].Pool != v.Pool || len(secs[i].Stacks) == 0 {
			continue
		}
		rows := secs[i].Stacks[0].Frames
		if len(rows) != len(v.Stack.Resolved) && len(rows) != min(len(v.Stack.Resolved), MaxFrames) {
			return
		}
		if j := v.OwnerFrame; j >= 0 && j < len(rows) {
			rows[j].Role = "owner"
		}
		if j := v.CallerFrame; j >= 0 && j < len(rows) {
			rows[j].Role = "caller"
		}
		return
	}
}
