// Command poolleak reads an ETL trace recorded with pool tracing and stack
// walks (xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc) and
// reports the kernel pool allocations still outstanding: by tag and pool
// kind with their growth rate and leak rank, and by allocation stack, with
// WOW64 transitions shown.
//
// Usage:
//
//	poolleak [flags] TRACE
//
// Flags:
//
//	-json           print the report as JSON (schema in the README)
//	-o FILE.pb.gz   also write the outstanding allocations as a pprof profile
//	-html FILE      also write a self-contained HTML report (chart, tags, stacks)
//	-tag TAG        only this pool tag, as typed: Irp matches "Irp " (a tag
//	                that matches nothing is a usage error naming close ones)
//	-pid PID        only the blocks this process allocated, with their frees
//	                by any process (as WPA attributes them)
//	-window A:B     only the window [A, B) in seconds from the trace start
//	-top N          how many stacks to show (default 10; never limits tags)
//	-symbols PATH   symbol path in _NT_SYMBOL_PATH syntax (default: the
//	                _NT_SYMBOL_PATH environment variable; none: no symbols)
//	-fold           fold the 64-bit WOW64 layer into one marker frame
//	-pooltag FILE   tag descriptions from this pooltag.txt (default:
//	                $ETWKIT_POOLTAG, else the Debugging Tools' copy on Windows)
//	-raw            leave the pool allocator's frames unmarked in the -o
//	                profile (pprof then shows them as the innermost frames)
//	-max-memory N   memory ceiling for the reader's buffers, in bytes or
//	                with a K, M or G suffix (default $ETWKIT_MAX_MEMORY,
//	                else 256M)
//
// TRACE may be a .etl file, a .etl.zip, or archive.zip!member.
//
// Exit status: 0 for a report of a trace read whole, 1 when the trace
// could not be read at all (or an output not written), 2 for bad flags
// (including a -tag that matches nothing), 3 for a report printed from a
// partial trace (damaged, truncated, buffers missing, or stopped by the
// memory ceiling after some events: see the warnings on stderr and
// "complete" in the JSON).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/internal/cpuprof"
	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/internal/htmlreport"
	"github.com/etwkit/etwkit/internal/pooltag"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	json    bool
	out     string
	html    string
	tag     string
	pid     int
	window  string
	top     int
	symbols string
	fold    bool
	pooltag string
	raw     bool
	maxMem  string
	cpuProf string
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("poolleak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.out, "o", "", "write the outstanding allocations as a pprof profile (FILE.pb.gz)")
	fs.StringVar(&cfg.html, "html", "", "also write a self-contained HTML report to this file")
	fs.StringVar(&cfg.tag, "tag", "", "only this pool tag, as typed (Irp matches \"Irp \")")
	fs.IntVar(&cfg.pid, "pid", -1, "only the blocks this process allocated, with their frees by any process")
	fs.StringVar(&cfg.window, "window", "", "only the window A:B, in seconds from the trace start")
	fs.IntVar(&cfg.top, "top", 10, "number of stacks to show")
	fs.StringVar(&cfg.symbols, "symbols", "", "symbol path (_NT_SYMBOL_PATH syntax); default $_NT_SYMBOL_PATH")
	fs.BoolVar(&cfg.fold, "fold", false, "fold the 64-bit WOW64 layer of stacks into one marker frame")
	fs.StringVar(&cfg.pooltag, "pooltag", "", "pooltag.txt with tag descriptions; default $"+pooltag.Env+", else the Debugging Tools' copy (Windows)")
	fs.BoolVar(&cfg.raw, "raw", false, "keep the pool allocator's frames in the pprof profile (not marked to drop)")
	fs.StringVar(&cfg.maxMem, "max-memory", "", damage.MaxMemoryUsage)
	fs.StringVar(&cfg.cpuProf, "cpuprofile", "", cpuprof.Usage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: poolleak [flags] TRACE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return damage.ExitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return damage.ExitUsage
	}
	stop, err := cpuprof.Start(cfg.cpuProf)
	if err != nil {
		fmt.Fprintf(stderr, "poolleak: %v\n", err)
		return damage.ExitUsage
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(stderr, "poolleak: %v\n", err)
		}
	}()
	code, err := report(fs.Arg(0), cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "poolleak: %v\n", err)
		if a := damage.LimitAdvice(err); a != "" {
			fmt.Fprintf(stderr, "poolleak: %s\n", a)
		}
		var ue usageError
		if errors.As(err, &ue) {
			return damage.ExitUsage
		}
		return damage.ExitUnreadable
	}
	return code
}

// usageError is an error in the flags: exit status 2.
type usageError struct{ error }

func options(cfg config, stderr io.Writer) (leak.Options, error) {
	opts := leak.Options{
		SymbolPath: stacks.SymbolPath(cfg.symbols),
		Tag:        cfg.tag,
		FoldWOW64:  cfg.fold,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(stderr, "poolleak: warning: "+format+"\n", args...)
		},
	}
	if cfg.pid < -1 || int64(cfg.pid) > math.MaxUint32 {
		// -1 is the flag's default, "every process"; a process ID is 32 bits.
		return opts, usageError{fmt.Errorf("-pid %d: want a process ID (0 to %d)", cfg.pid, uint32(math.MaxUint32))}
	}
	if cfg.pid >= 0 {
		opts.PID, opts.HasPID = uint32(cfg.pid), true
	}
	tags, err := pooltag.Load(cfg.pooltag)
	if err != nil {
		return opts, fmt.Errorf("-pooltag: %w", err)
	}
	opts.PoolTags = tags
	if opts.Limits, err = damage.Limits(cfg.maxMem); err != nil {
		return opts, usageError{err}
	}
	if cfg.top < 0 {
		return opts, usageError{fmt.Errorf("-top %d: want 0 or more", cfg.top)}
	}
	if cfg.window != "" {
		a, b, ok := strings.Cut(cfg.window, ":")
		fa, err1 := strconv.ParseFloat(a, 64)
		fb, err2 := strconv.ParseFloat(b, 64)
		if !ok || err1 != nil || err2 != nil || fb <= fa || fa < 0 {
			return opts, usageError{fmt.Errorf("-window %q: want A:B with 0 <= A < B seconds", cfg.window)}
		}
		opts.Window, opts.HasWindow = [2]float64{fa, fb}, true
	}
	if isTerminal(stderr) {
		started := time.Now()
		opts.Progress = func(events int64) {
			if time.Since(started) > 2*time.Second {
				fmt.Fprintf(stderr, "\rpoolleak: %d events read", events)
			}
		}
	}
	return opts, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// report prints the report of the trace at path and returns the exit
// status: 0, or 3 when the trace was not read whole.
func report(path string, cfg config, stdout, stderr io.Writer) (int, error) {
	opts, err := options(cfg, stderr)
	if err != nil {
		return 0, err
	}
	for _, w := range leak.SymbolPathWarnings(opts.SymbolPath) {
		opts.Logf("%s", w)
	}
	res, err := leak.Run(path, opts)
	if opts.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return 0, err
	}
	damage.Warn(stderr, "poolleak", &res.Damage)
	if err := checkTag(cfg.tag, res); err != nil {
		return 0, err
	}
	res.Report.Trace.File = displayName(path)
	sum := res.Summary(cfg.top)
	if cfg.out != "" {
		if err := writeProfile(cfg.out, path, res, export.Options{FoldWOW64: cfg.fold, KeepAllocatorFrames: cfg.raw}); err != nil {
			return 0, fmt.Errorf("-o: %w", err)
		}
	}
	if cfg.html != "" {
		if err := writeHTML(cfg.html, res, cfg); err != nil {
			return 0, err
		}
	}
	if opts.HasPID && len(sum.Tags) == 0 {
		fmt.Fprintf(stderr, "poolleak: process %d allocated no pool blocks%s in the trace\n", cfg.pid, tagClause(cfg.tag))
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err := enc.Encode(sum)
		return damage.ExitCode(&res.Damage), err
	}
	printText(stdout, res, sum, cfg)
	return damage.ExitCode(&res.Damage), nil
}

// checkTag returns a usage error when -tag is no tag or matches no pool
// event of the trace, naming the trace's tags it may have meant.
func checkTag(tag string, res *leak.Result) error {
	if tag == "" || res.TagFound {
		return nil
	}
	why := "matches no pool event of the trace"
	if _, err := pool.ParseTag(tag); err != nil {
		why = "is not a pool tag (1 to 4 bytes; shorter tags are padded with spaces)"
	}
	msg := fmt.Sprintf("-tag %q %s", tag, why)
	if close := res.CloseMatches(tag); close != "" {
		msg += "; close matches: " + close
	}
	return usageError{errors.New(msg)}
}

func tagClause(tag string) string {
	if tag == "" {
		return ""
	}
	return fmt.Sprintf(" of tag %q", pool.MakeTag(tag).String())
}

func displayName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

func printText(w io.Writer, res *leak.Result, sum *leak.Summary, cfg config) {
	verdict := res.Verdict.Lines()
	if sum.Trace.PoolEvents == 0 && len(sum.Tags) == 0 {
		verdict = []string{htmlreport.NoPoolVerdict(res, filtered(cfg))} // as the HTML report says it
	}
	for i, l := range verdict {
		label := "verdict"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-9s %s\n", label, l)
	}
	fmt.Fprintln(w)
	t, tags, totals, top := sum.Trace, sum.Tags, sum.Totals, sum.Stacks
	fmt.Fprintf(w, "trace     %s\n", t.File)
	if !t.Start.IsZero() {
		fmt.Fprintf(w, "span      %s .. %s (%.3f s)\n", t.Start.Format(time.RFC3339Nano), t.End.Format(time.RFC3339Nano), t.DurationS)
	}
	fmt.Fprintf(w, "events    %d (%d pool events; lost: %d events, %d buffers)\n", t.Events, t.PoolEvents, t.EventsLost, t.BuffersLost)
	if d := &res.Damage; !d.Complete {
		fmt.Fprintf(w, "partial   read %d of %d buffers, %s: every figure is that of the part read\n",
			d.BuffersRead, d.BuffersWritten, damage.Count(len(d.ReadErrors), "read error"))
	}
	switch st := res.StackStats; {
	case t.PoolEvents == 0 && !res.Damage.Complete:
		fmt.Fprintln(w, "          no pool events in the part of the trace that could be read (see the warnings)")
	case t.PoolEvents == 0 && filtered(cfg):
		fmt.Fprintln(w, "          no pool events pass the filters")
	case t.PoolEvents == 0:
		fmt.Fprintln(w, "          no pool events: record with xperf -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc+PoolFree")
	case st.Emitted > 0:
		fmt.Fprintf(w, "stacks    %d of %d pool events have a stack (%d kernel only, %d without)\n",
			st.Emitted-st.WithoutStack, st.Emitted, st.KernelOnly, st.WithoutStack)
	}
	if n := res.PoolEventsWithoutProcess; n > 0 {
		fmt.Fprintf(w, "process   %d pool events name no process (no process in their header, stack records or thread): counted under \"unknown process\"\n", n)
	}
	if res.Window != nil {
		fmt.Fprintf(w, "window    %s s (outstanding = at the window's end)\n", cfg.window)
	}
	fmt.Fprintf(w, "totals    %d allocs, %d frees; outstanding %d blocks, %s\n", totals.Allocs, totals.Frees, totals.OutstandingCount, byteCount(totals.OutstandingBytes))
	a := sum.Anomalies
	if a.FreeWithoutAlloc > 0 || a.AllocOverOpenBlock > 0 {
		fmt.Fprintf(w, "anomalies %d frees without alloc, %d allocs over an open block\n", a.FreeWithoutAlloc, a.AllocOverOpenBlock)
	}
	if len(tags) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tag\tpool\tallocs\tfrees\tAIFI\tAIFO\tAOFI\tout count\tout bytes\tgrowth B/s\tR²\trank\t")
	for _, s := range tags {
		fmt.Fprintf(tw, "%q\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.2f\t%d\t\n", s.Tag.String(), s.Pool, s.Allocs, s.Frees, s.AIFI, s.AIFO, s.AOFI,
			s.OutstandingCount, s.OutstandingBytes, s.GrowthBytesPerS, s.GrowthR2, s.LeakRank)
	}
	tw.Flush()
	fmt.Fprint(w, legend)
	if len(top) == 0 {
		return
	}
	fmt.Fprintf(w, "\ntop %d outstanding stacks\n", len(top))
	for i, s := range top {
		proc := ""
		if s.Process != "" {
			proc = fmt.Sprintf(", %s (pid %d)", s.Process, s.PID)
		}
		fmt.Fprintf(w, "\n#%d %q %s: %d blocks, %s%s; frames %d kernel, %d user, %d wow64\n", i+1, s.Tag, s.Pool,
			s.OutstandingCount, byteCount(s.OutstandingBytes), proc, s.Segments.Kernel, s.Segments.User, s.Segments.WOW64)
		if len(s.Resolved) == 0 {
			fmt.Fprintln(w, "    (no stack)")
			continue
		}
		prev := stacks.FrameKind(0)
		for j, f := range s.Resolved {
			if f.Kind != prev && j > 0 && f.Kind != stacks.Marker && prev != stacks.Marker {
				switch {
				case f.Kind == stacks.WOW64 && prev == stacks.User:
					fmt.Fprintln(w, "    ---- WOW64: 64-bit layer above, 32-bit code below ----")
				case f.Kind == stacks.User && prev == stacks.Kernel || f.Kind == stacks.WOW64 && prev == stacks.Kernel:
					fmt.Fprintln(w, "    ---- user mode ----")
				case f.Kind == stacks.Kernel:
					fmt.Fprintln(w, "    ---- kernel ----")
				}
			}
			prev = f.Kind
			line := ""
			if l := f.Line(); l != "" {
				line = "  " + l
			}
			fmt.Fprintf(w, "    %-6s %s%s\n", f.Kind, f.String(), line)
		}
	}
}

// legend explains the columns of the tag table.
const legend = `
AIFI: allocated and freed inside the trace (or window); AIFO: allocated inside,
still outstanding at the end; AOFI: allocated before (or the allocation was
lost), freed inside. growth B/s: least-squares slope of the outstanding bytes
over time; R²: how well that line fits (1 = steady growth); rank 1 is the most
suspicious tag (steady growth ranks above holding more bytes or one jump).
`

// filtered reports whether a flag filters the pool events.
func filtered(cfg config) bool { return cfg.tag != "" || cfg.pid >= 0 || cfg.window != "" }

func byteCount(n uint64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d bytes (%.1f MiB)", n, float64(n)/(1<<20))
	case n >= 10<<10:
		return fmt.Sprintf("%d bytes (%.1f KiB)", n, float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// writeProfile writes the pprof profile of the result to out.
func writeProfile(out, path string, res *leak.Result, opts export.Options) error {
	p, err := res.Profile(displayName(path), opts)
	if err != nil {
		return fmt.Errorf("building the profile: %w", err)
	}
	if partial := res.Damage.Partial(); partial != "" {
		p.Comments = append(p.Comments, partial) // as the warnings, JSON and HTML say it
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := export.Write(f, p); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return f.Close()
}

// writeHTML writes the HTML report (see package htmlreport).
func writeHTML(out string, res *leak.Result, cfg config) error {
	var buf bytes.Buffer
	opts := htmlreport.Options{Title: res.Report.Trace.File, ProfilePath: cfg.out, Filtered: filtered(cfg)}
	if cfg.window != "" {
		opts.WindowLabel = cfg.window + " s"
	}
	if err := htmlreport.Render(&buf, res, opts); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("-html: %w", err)
	}
	return nil
}
