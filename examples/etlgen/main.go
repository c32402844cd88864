// Command etlgen writes synthetic ETL traces of pool traffic with
// etw/etltest: a Windows 10 x64 kernel trace with process, thread and image
// rundown, DbgID_RSDS records, pool allocations and frees with stack walks
// (kernel, 64-bit user and WOW64 32-bit frames, stack keys), session and
// big-pool variants and address reuse.
//
// Usage:
//
//	etlgen -scenario irp-leak|scale [-stackwalk keys|full] [-events N] [-seed S] [-pool-header system|perfinfo] -o FILE
//
// Scenarios:
//
//   - irp-leak: the 32-bit (WOW64) ReadLeak.exe issues an overlapped
//     ReadFile about every 60 ms for 10 seconds; each leaves a 1,024-byte
//     non-paged "Irp " block behind (156 blocks, 159,744 bytes), among
//     background pool traffic of other tags that is all freed, except one
//     "Toke" block whose free event was lost (EventsLost 2) and one "Ntfx"
//     free whose allocation predates the trace. -events is the number of
//     background pool events (allocations plus frees, default 4000).
//   - scale: background traffic (plus the leak) streamed until about
//     -events records (default 10,000,000, about 1 GB) have been written,
//     in constant memory.
//
// -stackwalk chooses the stack shape: keys (the default) refers to cached
// stacks with StackKeyKernel/StackKeyUser records defined at the end of the
// trace, as with stack caching on; full writes every stack as StackWalk
// Stack records, as xperf -stackwalk does by default.
//
// -pool-header perfinfo writes the PoolTrace records with PERFINFO headers,
// which carry no process or thread (readers take them from the stack
// records); the default is SYSTEM headers.
//
// Other flags choose the layout: -cpus, -ptr 4|8, -buffer-size, -compress,
// -flush completion|inorder|interleaved|reversed|random, -window.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/etwkit/etwkit/etw/etltest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etlgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "irp-leak", "scenario: irp-leak or scale")
	events := fs.Int("events", 0, "irp-leak: background pool events (default 4000); scale: records (default 10000000)")
	seed := fs.Uint64("seed", 1, "random seed")
	stackwalk := fs.String("stackwalk", "keys", "stack shape: keys (stack-key references) or full (full StackWalk records)")
	out := fs.String("o", "", "output file (required)")
	cpus := fs.Int("cpus", 4, "number of processors")
	ptr := fs.Int("ptr", 8, "pointer size: 8 (x64 with a WOW64 app) or 4 (32-bit Windows)")
	bufSize := fs.Int("buffer-size", 64<<10, "data buffer size in bytes")
	compress := fs.Bool("compress", false, "XPRESS-compress the data buffers")
	flush := fs.String("flush", "completion", "buffer flush order: completion, inorder, interleaved, reversed or random")
	window := fs.Int("window", 8, "buffers held back by the interleaved, reversed and random flush orders")
	quiet := fs.Bool("q", false, "do not print the summary")
	poolHeader := fs.String("pool-header", "system", "header of the PoolTrace records: system or perfinfo (no process or thread)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etlgen -scenario irp-leak|scale [-stackwalk keys|full] [-events N] [-seed S] [-pool-header system|perfinfo] -o FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	var keys bool
	switch *stackwalk {
	case "keys":
		keys = true
	case "full":
	default:
		fmt.Fprintf(stderr, "etlgen: unknown stack shape %q (want keys or full)\n", *stackwalk)
		return 2
	}
	var ph etltest.HeaderKind
	switch *poolHeader {
	case "system":
	case "perfinfo":
		ph = etltest.HeaderPerfInfo
	default:
		fmt.Fprintf(stderr, "etlgen: unknown -pool-header %q (want system or perfinfo)\n", *poolHeader)
		return 2
	}
	var sc *etltest.Scenario
	switch *scenario {
	case "irp-leak":
		n := *events
		if n == 0 {
			n = 4000
		}
		sc = etltest.NewScenario(etltest.ScenarioOptions{Seed: *seed, Events: n, Leak: true, StackKeys: keys, Damage: true,
			Processors: *cpus, PointerSize: *ptr, PoolHeader: ph})
	case "scale":
		n := *events
		if n == 0 {
			n = 10_000_000
		}
		sc = etltest.NewScenario(etltest.ScenarioOptions{Seed: *seed, Events: n, Leak: true, LeakCount: 1 << 30, StackKeys: keys,
			Unbounded: true, Processors: *cpus, PointerSize: *ptr, PoolHeader: ph})
	default:
		fmt.Fprintf(stderr, "etlgen: unknown scenario %q (want irp-leak or scale)\n", *scenario)
		return 2
	}
	opts := sc.WriterOptions()
	opts.BufferSize = *bufSize
	opts.Compress = *compress
	opts.FlushWindow = *window
	switch *flush {
	case "completion":
		opts.FlushOrder = etltest.Completion
	case "inorder":
		opts.FlushOrder = etltest.InOrder
	case "interleaved":
		opts.FlushOrder = etltest.Interleaved
	case "reversed":
		opts.FlushOrder = etltest.Reversed
	case "random":
		opts.FlushOrder = etltest.Random(*seed)
	default:
		fmt.Fprintf(stderr, "etlgen: unknown flush order %q\n", *flush)
		return 2
	}
	start := time.Now()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintf(stderr, "etlgen: %v\n", err)
		return 1
	}
	err = write(f, sc, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "etlgen: %s: %v\n", *out, err)
		return 1
	}
	if !*quiet {
		st, _ := os.Stat(*out)
		s := sc.Summary()
		el := time.Since(start)
		fmt.Fprintf(stdout, "%s: %d bytes, %d records in %v (%.0f MB/s)\n", *out, st.Size(), s.Records, el.Round(time.Millisecond), float64(st.Size())/1e6/el.Seconds())
		fmt.Fprintf(stdout, "pool: %d allocations, %d frees (%d without allocation), %d stacks, %d key references, %d key definitions, %d events lost\n",
			s.PoolAllocs, s.PoolFrees, s.UnmatchedFrees, s.Stacks, s.StackKeyRefs, s.KeyDefinitions, s.LostEvents)
		for _, tag := range sortedTags(s.Outstanding) {
			v := s.Outstanding[tag]
			fmt.Fprintf(stdout, "outstanding %q: %d blocks, %d bytes\n", tagString(tag), v.Blocks, v.Bytes)
		}
	}
	return 0
}

// write streams the scenario to f through a buffered writer; the header
// buffer is patched through f's WriteAt at Close.
func write(f *os.File, sc *etltest.Scenario, opts etltest.Options) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := etltest.NewWriter(fileWriter{bw, f}, opts)
	if err != nil {
		return err
	}
	if err := sc.WriteTo(w); err != nil {
		return err
	}
	return bw.Flush()
}

// fileWriter writes sequentially through a bufio.Writer and patches through
// the file; WriteAt flushes first so that the two never overlap.
type fileWriter struct {
	bw *bufio.Writer
	f  *os.File
}

func (w fileWriter) Write(p []byte) (int, error) { return w.bw.Write(p) }

func (w fileWriter) WriteAt(p []byte, off int64) (int, error) {
	if err := w.bw.Flush(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	return w.f.WriteAt(p, off)
}

func sortedTags(m map[uint32]etltest.TagTotal) []uint32 {
	var tags []uint32
	for k := range m {
		tags = append(tags, k)
	}
	for i := 1; i < len(tags); i++ {
		for j := i; j > 0 && tagString(tags[j]) < tagString(tags[j-1]); j-- {
			tags[j], tags[j-1] = tags[j-1], tags[j]
		}
	}
	return tags
}

func tagString(t uint32) string {
	return string([]byte{byte(t), byte(t >> 8), byte(t >> 16), byte(t >> 24)})
}
