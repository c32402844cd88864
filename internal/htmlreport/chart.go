package htmlreport

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/etwkit/etwkit/pool"
)

// Chart geometry, in SVG user units (the SVG scales to the page width).
const (
	chartW     = 980
	chartH     = 380
	plotLeft   = 76
	plotRight  = chartW - 250 // the legend sits right of the plot
	plotTop    = 18
	plotBottom = chartH - 62
	legendX    = plotRight + 24
	// legendRowH is the height of a legend entry: the label on one line
	// and its value on the next, so that long labels ("Usti"
	// nonpaged-session) never run into the value.
	legendRowH = 32
	legendMaxN = (plotBottom - plotTop) / legendRowH
	// maxIntervals bounds the tick intervals of an axis.
	maxIntervals = 10
)

// maxPoints bounds the vertices of one series path; longer series are
// decimated to the minimum and maximum of each bucket, which keeps every
// peak visible.
const maxPoints = 1200

// markerPoints is the largest series that gets one hoverable dot per bin.
const markerPoints = 60

// palette colours the top series in order; the "other" series is grey.
var palette = []string{
	"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
	"#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79",
}

const otherColor = "#7f7f7f"

// chartView is the template data of the chart.
type chartView struct {
	W, H                  int
	PlotLeft, PlotRight   int
	PlotTop, PlotBottom   int
	XTicks, YTicks        []tick
	XTitle, YTitle        string
	Series                []seriesView
	Legend                []legendView
	LegendMore            string // "N more series" when the legend is full
	LegendMoreY           int
	Window                *bandView
	YMax                  int64
	XMax                  string
	BinSeconds            string
	Points                int
	Hidden                int // tags folded into "other"
	AriaLabel             string
	LegendX, LegendTitleY int
	LegendTx              int
}

type tick struct {
	Pos   float64 // x or y in user units
	Label string
	Wall  string // wall clock, x ticks only
}

type seriesView struct {
	Tag, Pool string // raw tag and pool kind (data attributes)
	Label     string // display label
	Color     string
	D         string // path data
	Last, Max int64
	Other     bool
	Rank      int
	Dash      bool
	Title     string
	Markers   []markerView
	Anchor    string
}

type markerView struct {
	X, Y  float64
	Title string
}

type legendView struct {
	Color    string
	Label    string
	Value    string
	Href     string
	Dash     bool
	TextY    int
	SwatchY  int
	ValueX   int
	ValueY   int
	Title    string
	DataTag  string
	DataPool string
}

type bandView struct {
	X, W  float64
	Label string
	LabX  float64
}

// seriesIn is one series to plot, before scaling.
type seriesIn struct {
	tag   pool.TagStats
	vals  []int64
	other bool
}

// seriesLast and seriesMax return the last and the largest value.
func seriesLast(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func seriesMax(v []int64) int64 {
	var m int64
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// pickSeries chooses the top n tags by outstanding bytes at the end of the
// trace (then by peak, then report order) and sums the rest into an "other"
// series.
func pickSeries(tags []pool.TagStats, n int) (top []seriesIn, hidden int) {
	idx := make([]int, 0, len(tags))
	last := make([]int64, len(tags))
	peak := make([]int64, len(tags))
	for i := range tags {
		idx = append(idx, i)
		last[i], peak[i] = seriesLast(tags[i].Series), seriesMax(tags[i].Series)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(last[b], last[a]); c != 0 {
			return c
		}
		return cmp.Compare(peak[b], peak[a])
	})
	for _, i := range idx[:min(n, len(idx))] {
		top = append(top, seriesIn{tag: tags[i], vals: tags[i].Series})
	}
	if len(idx) <= n {
		return top, 0
	}
	var sum []int64
	for _, i := range idx[n:] {
		s := tags[i].Series
		if len(s) > len(sum) {
			sum = append(sum, make([]int64, len(s)-len(sum))...)
		}
		for j, v := range s {
			sum[j] = satAdd(sum[j], v)
		}
	}
	top = append(top, seriesIn{vals: sum, other: true})
	return top, len(idx) - n
}

// satAdd adds without wrapping around.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// chartInput is what buildChart needs from the report.
type chartInput struct {
	series    []seriesIn
	hidden    int
	binS      float64 // bin width in seconds
	durS      float64 // trace duration in seconds
	wallStart time.Time
	window    *[2]float64 // seconds from the start, when a window was given
	anchors   map[string]string
}

func buildChart(in chartInput) *chartView {
	cv := &chartView{
		W: chartW, H: chartH, PlotLeft: plotLeft, PlotRight: plotRight, PlotTop: plotTop, PlotBottom: plotBottom,
		Hidden: in.hidden, LegendX: legendX, LegendTx: legendX + 30,
	}
	binS := in.binS
	if !(binS > 0) || math.IsInf(binS, 0) {
		binS = 1
	}
	npts := 0
	for _, s := range in.series {
		npts = max(npts, len(s.vals))
	}
	cv.Points = npts
	xmax := float64(npts) * binS
	if in.durS > 0 && in.durS < xmax && in.durS > float64(npts-1)*binS {
		xmax = in.durS // the last bin ends with the last event
	}
	if !(xmax > 0) || math.IsInf(xmax, 0) {
		xmax = 1
	}
	xAt := func(i int) float64 { // seconds at the end of bin i
		return min(float64(i+1)*binS, xmax)
	}
	var ymin, ymax int64
	for _, s := range in.series {
		for _, v := range s.vals {
			ymin, ymax = min(ymin, v), max(ymax, v)
		}
	}
	cv.YMax = ymax
	unit, uname := byteUnit(max(ymax, -ymin))
	ylo, yhi, ystep := niceRange(float64(ymin)/unit, float64(ymax)/unit)
	if unit == 1 && ystep < 1 { // no fractions of a byte
		ylo, yhi, ystep = math.Floor(ylo), max(math.Ceil(yhi), math.Floor(ylo)+1), 1
	}
	_, xhi, xstep := niceRange(0, xmax)
	sx := func(sec float64) float64 {
		return plotLeft + sec/xhi*(plotRight-plotLeft)
	}
	sy := func(v int64) float64 {
		return plotBottom - (float64(v)/unit-ylo)/(yhi-ylo)*(plotBottom-plotTop)
	}
	for i := 0; ; i++ {
		v := ylo + float64(i)*ystep
		if v > yhi+ystep/1e6 || i > 50 {
			break
		}
		cv.YTicks = append(cv.YTicks, tick{Pos: round1(plotBottom - (v-ylo)/(yhi-ylo)*(plotBottom-plotTop)), Label: fmtNum(v, ystep) + " " + uname})
	}
	hasWall := !in.wallStart.IsZero()
	for i := 0; ; i++ {
		v := float64(i) * xstep
		if v > xhi+xstep/1e6 || i > 50 {
			break
		}
		t := tick{Pos: round1(sx(v)), Label: fmtNum(v, xstep) + " s"}
		if hasWall {
			t.Wall = in.wallStart.Add(time.Duration(v * float64(time.Second))).UTC().Format("15:04:05.999")
		}
		cv.XTicks = append(cv.XTicks, t)
	}
	cv.XMax = strconv.FormatFloat(xmax, 'f', -1, 64)
	cv.BinSeconds = strconv.FormatFloat(binS, 'g', 6, 64)
	cv.XTitle = "seconds from trace start"
	if hasWall {
		cv.XTitle += " (" + in.wallStart.UTC().Format("2006-01-02 15:04:05.000") + " UTC); wall clock below"
	}
	cv.YTitle = "outstanding bytes (" + uname + ")"
	if in.window != nil {
		a, b := max(0, in.window[0]), min(xhi, in.window[1])
		if b > a {
			cv.Window = &bandView{X: round1(sx(a)), W: round1(sx(b) - sx(a)), Label: "window", LabX: round1(sx(a) + 4)}
		}
	}
	color := 0
	for rank, s := range in.series {
		v := seriesView{Last: seriesLast(s.vals), Max: seriesMax(s.vals), Other: s.other, Rank: rank + 1}
		if s.other {
			v.Tag, v.Pool, v.Label, v.Color, v.Dash = "other", "", "other ("+strconv.Itoa(in.hidden)+" tags)", otherColor, true
		} else {
			v.Tag, v.Pool = s.tag.Tag.String(), s.tag.Pool.String()
			v.Label = strconv.Quote(v.Tag) + " " + v.Pool
			v.Color = palette[color%len(palette)]
			if color >= len(palette) {
				v.Dash = true
			}
			color++
			v.Anchor = in.anchors[tagKey(s.tag.Tag, s.tag.Pool)]
		}
		v.Title = v.Label + ": " + humanBytes(v.Last) + " outstanding at the end, peak " + humanBytes(v.Max)
		v.D = pathData(s.vals, xAt, sx, sy)
		if len(s.vals) <= markerPoints {
			for i, y := range s.vals {
				sec := xAt(i)
				m := markerView{X: round1(sx(sec)), Y: round1(sy(y))}
				m.Title = v.Label + " at " + strconv.FormatFloat(sec, 'f', -1, 64) + " s"
				if hasWall {
					m.Title += " (" + in.wallStart.Add(time.Duration(sec*float64(time.Second))).UTC().Format("15:04:05.999") + ")"
				}
				m.Title += ": " + humanBytes(y)
				v.Markers = append(v.Markers, m)
			}
		}
		cv.Series = append(cv.Series, v)
	}
	// The legend lists the series top down; past the rows that fit, a note.
	cv.LegendTitleY = plotTop + 4
	for i, s := range cv.Series {
		if i >= legendMaxN-1 && len(cv.Series) > legendMaxN {
			cv.LegendMore = strconv.Itoa(len(cv.Series)-i) + " more series"
			cv.LegendMoreY = plotTop + 18 + i*legendRowH + 12
			break
		}
		y := plotTop + 18 + i*legendRowH
		lv := legendView{TextY: y + 12, SwatchY: y + 8, Color: s.Color, Label: s.Label, Value: humanBytes(s.Last),
			Dash: s.Dash, Href: s.Anchor, DataTag: s.Tag, DataPool: s.Pool, ValueX: legendX + 30, ValueY: y + 26,
			Title: s.Title}
		cv.Legend = append(cv.Legend, lv)
	}
	cv.AriaLabel = "Outstanding bytes over time for the top " + strconv.Itoa(len(cv.Series)) + " series"
	return cv
}

// pathData is the SVG path of one series: the origin (nothing is
// outstanding before the trace), then the value at the end of each bin,
// decimated to at most maxPoints vertices.
func pathData(vals []int64, xAt func(int) float64, sx func(float64) float64, sy func(int64) float64) string {
	var b strings.Builder
	pt := func(cmd byte, x, y float64) {
		b.WriteByte(cmd)
		b.WriteString(strconv.FormatFloat(round1(x), 'f', -1, 64))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(round1(y), 'f', -1, 64))
	}
	pt('M', sx(0), sy(0))
	if len(vals) <= maxPoints {
		for i, v := range vals {
			pt('L', sx(xAt(i)), sy(v))
		}
		return b.String()
	}
	buckets := maxPoints / 2
	per := (len(vals) + buckets - 1) / buckets
	for lo := 0; lo < len(vals); lo += per {
		hi := min(lo+per, len(vals))
		imin, imax := lo, lo
		for i := lo; i < hi; i++ {
			if vals[i] < vals[imin] {
				imin = i
			}
			if vals[i] > vals[imax] {
				imax = i
			}
		}
		a, c := min(imin, imax), max(imin, imax)
		pt('L', sx(xAt(a)), sy(vals[a]))
		if c != a {
			pt('L', sx(xAt(c)), sy(vals[c]))
		}
		if hi == len(vals) && c != hi-1 {
			pt('L', sx(xAt(hi-1)), sy(vals[hi-1])) // the path ends at the last value
		}
	}
	return b.String()
}

func round1(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*10) / 10
}

// byteUnit picks the binary unit in which m reads as at least 1.
func byteUnit(m int64) (float64, string) {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	u, i := 1.0, 0
	for i+1 < len(units) && float64(m) >= u*1024 {
		u *= 1024
		i++
	}
	return u, units[i]
}

// niceRange extends [lo, hi] to multiples of a 1-2-2.5-5 step. Of the
// steps giving 3 to maxIntervals intervals it takes the one that wastes
// the least of the axis, with a small preference for about 6 intervals.
func niceRange(lo, hi float64) (nlo, nhi, step float64) {
	if !(hi > lo) {
		hi = lo + 1
	}
	span := hi - lo
	if math.IsInf(span, 0) || math.IsNaN(span) {
		return 0, 1, 1
	}
	best := math.Inf(1)
	e := math.Pow(10, math.Floor(math.Log10(span/maxIntervals)))
	for _, m := range []float64{1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200} {
		st := m * e
		a, b := math.Floor(lo/st)*st, math.Ceil(hi/st)*st
		n := math.Round((b - a) / st)
		if n < 3 || n > maxIntervals {
			continue
		}
		score := (b-a-span)/(b-a) + 0.03*math.Abs(n-6)
		if score < best {
			best, nlo, nhi, step = score, a, b, st
		}
	}
	if step == 0 { // unreachable for finite spans; keep the axis usable
		return lo, hi, span
	}
	return nlo, nhi, step
}

// fmtNum formats a tick value with as many decimals as its step needs.
func fmtNum(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// humanBytes renders n bytes with a binary unit ("156.0 KiB", "880 B").
func humanBytes(n int64) string {
	a := n
	if a < 0 {
		a = -a
		if a < 0 {
			a = math.MaxInt64
		}
	}
	u, name := byteUnit(a)
	if u == 1 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(float64(n)/u, 'f', 1, 64) + " " + name
}
