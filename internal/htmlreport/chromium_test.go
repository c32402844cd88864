package htmlreport

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateScreenshot = flag.Bool("update-screenshot", false,
	"write docs/poolleak-report.png from TestChromium's screenshot")

// ScreenshotPath is where -update-screenshot writes the README's picture.
var screenshotPath = filepath.Join(corpus.ModuleRoot(), "docs", "poolleak-report.png")

// chromiumFlags are the flags of every headless run: no sandbox (CI runs
// as root in a container), no GPU, and nothing that talks to the network.
func chromiumFlags(userDataDir string) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + userDataDir, "--hide-scrollbars",
	}
}

// TestChromium renders the report of testdata/irp-leak.etl, opens it in
// headless Chromium, and checks from the DOM after load that the page's
// self-check ran (so the script was allowed by the page's CSP and raised
// no error), that every series was laid out and that the "Irp " series
// ends highest; the browser's console must stay silent (no script errors,
// no blocked fetches). The same run takes the screenshot that
// -update-screenshot writes to docs/poolleak-report.png.
func TestChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found in PATH (Debian: apt-get install -y chromium); skipping the browser test")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "irp-leak.html")
	require.NoError(t, os.WriteFile(page, []byte(render(t, irpLeak(t), Options{})), 0o644))
	shot := filepath.Join(dir, "shot.png")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append(chromiumFlags(filepath.Join(dir, "profile")),
		"--enable-logging=stderr", "--v=0",
		"--dump-dom", "--screenshot="+shot, "--window-size=1280,2400",
		(&url.URL{Scheme: "file", Path: page}).String())
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("chromium took %v", time.Since(start).Round(time.Millisecond))
	require.NoError(t, err, "chromium failed: %s", lastLines(stderr.String(), 20))
	dom := stdout.String()

	// The console: any message from the page is an error (the report logs
	// nothing), as are uncaught exceptions and CSP violations.
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") || strings.Contains(l, "Content Security Policy") {
			t.Errorf("browser console: %s", l)
		}
	}
	htmlTag := regexp.MustCompile(`<html[^>]*>`).FindString(dom)
	_, afterHead, ok := strings.Cut(dom, "</head>")
	require.True(t, ok, "no </head> in the DOM dump")
	require.NotEmpty(t, htmlTag, "no <html> in the DOM dump:\n%s", lastLines(dom, 5))
	assert.NotContains(t, htmlTag, "data-js-error")
	body := regexp.MustCompile(`<body[^>]*>`).FindString(afterHead)
	require.NotEmpty(t, body, "no <body> in the DOM dump")
	attr := func(name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	assert.Equal(t, "1", attr("data-ok"), "the page's self-check did not pass: %s", body)
	assert.Equal(t, "Irp ", attr("data-tallest"), "the series that ends highest on screen")
	assert.NotEqual(t, "0", attr("data-series"))
	assert.Equal(t, attr("data-series"), attr("data-drawn"), "every series path was laid out")

	// The data behind the plot says the same: Irp has the largest last value.
	var best string
	var bestLast int64 = -1
	for _, m := range regexp.MustCompile(`<path class="series[^"]*"[^>]*>`).FindAllString(dom, -1) {
		tag := regexp.MustCompile(`data-tag="([^"]*)"`).FindStringSubmatch(m)
		last := regexp.MustCompile(`data-last="(-?\d+)"`).FindStringSubmatch(m)
		require.NotNil(t, tag, m)
		require.NotNil(t, last, m)
		v, err := strconv.ParseInt(last[1], 10, 64)
		require.NoError(t, err)
		if v > bestLast {
			best, bestLast = tag[1], v
		}
	}
	assert.Equal(t, "Irp ", best)
	assert.Equal(t, int64(159744), bestLast)

	// The screenshot: right size, and the Irp line's red is on it.
	f, err := os.Open(shot)
	require.NoError(t, err, "no screenshot")
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 1280, 2400), img.Bounds())
	assert.Greater(t, countColor(img, color.RGBA{0xd6, 0x27, 0x28, 0xff}), 200, "the Irp series (#d62728) is visible")

	if *updateScreenshot {
		data, err := compactPNG(img)
		require.NoError(t, err)
		require.Less(t, len(data), 300<<10, "screenshot too large for the README")
		require.NoError(t, os.MkdirAll(filepath.Dir(screenshotPath), 0o755))
		require.NoError(t, os.WriteFile(screenshotPath, data, 0o644))
		t.Logf("wrote %s (%d bytes)", screenshotPath, len(data))
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

func countColor(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bl>>8) == c.B {
				n++
			}
		}
	}
	return n
}

// compactPNG re-encodes a screenshot with a 256-colour palette of its most
// frequent colours (every other colour maps to the nearest one): the page
// is mostly flat colour, so the picture looks the same at a third of the
// size.
func compactPNG(img image.Image) ([]byte, error) {
	b := img.Bounds()
	freq := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			freq[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	cs := make([]color.RGBA, 0, len(freq))
	for c := range freq {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b color.RGBA) int {
		if c := cmp.Compare(freq[b], freq[a]); c != 0 {
			return c
		}
		return cmp.Compare(uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B), uint32(b.R)<<16|uint32(b.G)<<8|uint32(b.B))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range cs[:min(256, len(cs))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	idx := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := idx[c]
			if !ok {
				i = uint8(pal.Index(c))
				idx[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out)
	return buf.Bytes(), err
}
