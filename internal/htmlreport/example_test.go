package htmlreport_test

import (
	"bytes"
	"fmt"
	"log"
	"regexp"
	"time"

	"github.com/etwkit/etwkit/internal/htmlreport"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
)

// Render a small pool report: two tags over four one-second bins. The
// page plots one series per tag; each series path carries the tag and the
// outstanding bytes at the end in data- attributes.
func ExampleRender() {
	start := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	rep := &pool.Report{
		Trace:     pool.TraceInfo{File: "leak.etl", Start: start, End: start.Add(4 * time.Second), DurationS: 4, Events: 100, PoolEvents: 40},
		Frequency: 10_000_000, BinTicks: 10_000_000,
		Tags: []pool.TagStats{
			{Tag: pool.MakeTag("Irp"), Pool: pool.NonPaged, Allocs: 20, Frees: 8, OutstandingCount: 12, OutstandingBytes: 12288,
				GrowthBytesPerS: 3072, GrowthR2: 1, LeakRank: 1, Series: []int64{3072, 6144, 9216, 12288}},
			{Tag: pool.MakeTag("Toke"), Pool: pool.Paged, Allocs: 10, Frees: 10, LeakRank: 2, Series: []int64{1520, 0, 1520, 0}},
		},
	}
	var buf bytes.Buffer
	if err := htmlreport.Render(&buf, &leak.Result{Report: rep}, htmlreport.Options{}); err != nil {
		log.Fatal(err)
	}
	re := regexp.MustCompile(`<path class="series[^"]*"[^>]*data-tag="([^"]*)"[^>]*data-last="(\d+)"`)
	for _, m := range re.FindAllStringSubmatch(buf.String(), -1) {
		fmt.Printf("series %q ends at %s bytes\n", m[1], m[2])
	}
	fmt.Println(bytes.Contains(buf.Bytes(), []byte(`href="#stack-Irp_20-nonpaged"`)))
	// Output:
	// series "Irp " ends at 12288 bytes
	// series "Toke" ends at 0 bytes
	// true
}
