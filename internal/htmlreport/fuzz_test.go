package htmlreport

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// FuzzRender renders reports built from arbitrary trace-derived strings
// and numbers: Render must not fail or panic, the page must stay well
// formed with exactly the report's own script, and no input may open an
// element of its own.
func FuzzRender(f *testing.F) {
	f.Add(uint32(0x20707249), uint8(0), "ReadLeak.exe", "ntdll.dll", "NtReadFile", `C:\src\leak.c`, []byte{0, 0, 0, 0, 0, 0, 0x10, 0}, int64(10_000_000), int64(10_000_000), 9.94)
	f.Add(uint32(0x656b6f54), uint8(3), "svchost.exe", "KernelBase.dll", "", "", []byte{}, int64(0), int64(0), 0.0)
	f.Add(uint32(0x3e613c27), uint8(200), `<script>alert(1)</script>`, `"><img src=x>`, `</td></tr>`, `&amp;<`, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x80}, int64(-1), int64(1), math.Inf(1))
	f.Fuzz(func(t *testing.T, tag uint32, kind uint8, proc, mod, sym, file string, series []byte, bin, freq int64, dur float64) {
		if len(series) > 8*5000 {
			series = series[:8*5000]
		}
		vals := make([]int64, len(series)/8)
		for i := range vals {
			vals[i] = int64(binary.LittleEndian.Uint64(series[8*i:]))
		}
		start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		ts := pool.TagStats{Tag: pool.Tag(tag), Pool: pool.Kind(kind), OutstandingBytes: uint64(seriesLast(vals)), Series: vals, LeakRank: 1}
		rep := &pool.Report{Frequency: freq, BinTicks: bin, Tags: []pool.TagStats{ts, {Tag: pool.MakeTag("Zzz"), Series: vals}},
			Trace: pool.TraceInfo{File: proc, Start: start, End: start.Add(time.Second), DurationS: dur, PoolEvents: uint64(len(vals))}}
		m := &stacks.Module{Name: mod, Base: 0x1000, Size: 0x1000}
		st := leak.Stack{Tag: ts.Tag.String(), Pool: ts.Pool.String(), OutstandingBytes: ts.OutstandingBytes, Process: proc, PID: 4,
			Resolved: []stacks.Frame{
				{Addr: 0x1010, Kind: stacks.User, Module: m, Symbol: &stacks.Symbol{Name: sym, File: file, Line: 1}},
				{Addr: 0x2000, Kind: stacks.FrameKind(kind)},
				{Kind: stacks.Marker, Text: sym},
			}}
		var buf bytes.Buffer
		if err := Render(&buf, &leak.Result{Report: rep, Stacks: []leak.Stack{st}}, Options{Title: file}); err != nil {
			t.Fatal(err)
		}
		html := buf.String()
		if n := strings.Count(html, "<script"); n != 1 {
			t.Fatalf("%d <script elements", n)
		}
		for _, bad := range []string{"<img", "<td></tr>"} {
			if strings.Contains(html, bad) {
				t.Fatalf("input opened an element: %q", bad)
			}
		}
		if _, err := parseDOM(html); err != nil {
			t.Fatalf("page not well formed: %v", err)
		}
	})
}
