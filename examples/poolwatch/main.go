// Command poolwatch watches kernel pool allocations live: it starts a
// real-time kernel session with pool tracing and stack walks (what xperf
// -on PROC_THREAD+LOADER+POOL -stackwalk PoolAlloc+PoolAllocSession+
// PoolFree+PoolFreeSession records), prints the top pool tags by
// outstanding bytes and growth every interval, and on exit (Ctrl-C or
// -duration) prints the final table and the top outstanding stacks.
//
// Usage:
//
//	poolwatch [flags]
//
// Flags:
//
//	-tag TAG          only this pool tag (e.g. Irp, or Nt* / Ir? live); the session filters in the kernel when it can
//	-interval D       print every D of trace time (default 5s)
//	-top N            tags per table and stacks at the end (default 10)
//	-duration D       stop the live session after D (default: until Ctrl-C)
//	-etl FILE.etl     also record the events to an .etl file
//	-o FILE.pb.gz     on exit, write the outstanding allocations as a pprof profile
//	-symbols PATH     symbol path in _NT_SYMBOL_PATH syntax (default $_NT_SYMBOL_PATH)
//	-session NAME     session name (default: unique per run, etwkit-PID-RANDOM); -name is the same
//	-stop-orphans     stop the sessions left running by poolwatch runs that died, then exit
//	-replay FILE      read an .etl file instead of the live kernel (any OS)
//
// The live session needs Windows and an elevated prompt. The first Ctrl-C
// stops the session and drains it (the final table counts every event
// logged until then); a second one aborts the drain.
//
// Exit status: 0 when done, 1 when the session could not start or the
// file could not be read at all, 2 for bad flags, 3 when -replay printed
// its results from a file it could not read whole (the warnings on stderr
// say what is missing).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/etw/live"
	"github.com/etwkit/etwkit/internal/damage"
	"github.com/etwkit/etwkit/leak"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	tag      string
	interval time.Duration
	top      int
	duration time.Duration
	etl      string
	out      string
	symbols  string
	replay   string
	maxMem   string
	live     liveFlags
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("poolwatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.tag, "tag", "", "only this pool tag (e.g. Irp)")
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "print every `D` of trace time")
	fs.IntVar(&cfg.top, "top", 10, "tags per table and stacks at the end")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop the live session after `D` (default: until Ctrl-C)")
	fs.StringVar(&cfg.etl, "etl", "", "also record the events to `FILE.etl`")
	fs.StringVar(&cfg.out, "o", "", "write the outstanding allocations as a pprof profile (`FILE.pb.gz`)")
	fs.StringVar(&cfg.symbols, "symbols", "", "symbol path (_NT_SYMBOL_PATH syntax); default $_NT_SYMBOL_PATH")
	cfg.live.register(fs)
	fs.StringVar(&cfg.replay, "replay", "", "read `FILE` (.etl) instead of the live kernel")
	fs.StringVar(&cfg.maxMem, "max-memory", "", "with -replay, "+damage.MaxMemoryUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: poolwatch [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 || cfg.interval <= 0 {
		fs.Usage()
		return 2
	}
	if err := cfg.live.check(cfg); err != nil {
		fmt.Fprintf(stderr, "poolwatch: %v\n", err)
		return 2
	}
	if code := checkFlags(cfg, stderr); code != damage.ExitOK {
		return code
	}
	if cfg.live.stopOrphans {
		return stopOrphanSessions(stdout, stderr)
	}
	if err := watch(cfg, stdout, stderr); err != nil {
		if errors.Is(err, errPartial) {
			return damage.ExitPartial // the warnings are printed
		}
		fmt.Fprintf(stderr, "poolwatch: %v\n", err)
		if a := damage.LimitAdvice(err); a != "" {
			fmt.Fprintf(stderr, "poolwatch: %s\n", a)
		}
		return 1
	}
	return 0
}

// source is what poolwatch reads: a live session or a replayed file.
type source interface {
	All() iter.Seq2[*etw.Event, error]
	Clock() *etw.Clock
	PointerSize() int
	Close() error
}

// fileSource adapts an ETL reader; damage reports are kept in errs and
// reported at the end (see etw.ReadReport).
type fileSource struct {
	*etw.Reader
	errs *[]error
}

func (f fileSource) All() iter.Seq2[*etw.Event, error] {
	return func(yield func(*etw.Event, error) bool) {
		for ev, err := range f.Reader.All() {
			var fe *etw.FormatError
			if errors.As(err, &fe) {
				*f.errs = append(*f.errs, err)
				continue
			}
			if damage.PartialStop(f.Reader, err) {
				// The part read is the result: reported at the end.
				*f.errs = append(*f.errs, err)
				return
			}
			if !yield(ev, err) {
				return
			}
		}
	}
}

func open(cfg config, stderr io.Writer) (source, error) {
	if cfg.replay != "" {
		lim, err := damage.Limits(cfg.maxMem)
		if err != nil {
			return nil, err
		}
		r, err := etw.OpenLimited(cfg.replay, lim)
		if err != nil {
			return nil, err
		}
		return fileSource{r, new([]error)}, nil
	}
	s, err := startLive(cfg, stderr)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func watch(cfg config, stdout, stderr io.Writer) error {
	src, err := open(cfg, stderr)
	if err != nil {
		return err
	}
	defer src.Close() // also on panic: the kernel session must not outlive us
	clk := src.Clock()
	// The ledger counts from the trace start: the header event of a file,
	// the first event of a live session (its rundown precedes the clock's
	// anchor, which is taken once the consumer is open).
	var p *leak.Pipeline
	newPipeline := func(start int64) error {
		var err error
		p, err = leak.New(clk, src.PointerSize(), start, leak.Options{
			SymbolPath: stacks.SymbolPath(cfg.symbols),
			Tag:        ledgerTag(cfg),
			Logf: func(format string, args ...any) {
				fmt.Fprintf(stderr, "poolwatch: warning: "+format+"\n", args...)
			},
		})
		return err
	}
	var start int64
	if r, ok := src.(fileSource); ok {
		start = r.HeaderEvent().Timestamp
		if err := newPipeline(start); err != nil {
			return err
		}
	}
	defer func() {
		if p != nil {
			p.Close()
		}
	}()

	var rec *recorder
	if cfg.etl != "" {
		if rec, err = newRecorder(cfg.etl, src); err != nil {
			return err
		}
	}

	w := &watcher{cfg: cfg, out: stdout, clk: clk, prev: map[tagKey]uint64{}}
	if _, ok := src.(*live.Session); ok && cfg.duration > 0 {
		// Close ends the iteration below (ReadEvent returns os.ErrClosed).
		t := time.AfterFunc(cfg.duration, func() { src.Close() })
		defer t.Stop()
	}
	var next int64
	step := ticks(clk, cfg.interval)
	for ev, err := range src.All() {
		if err != nil {
			return err
		}
		if p == nil {
			start = ev.Timestamp
			if err := newPipeline(start); err != nil {
				return err
			}
		}
		p.Event(ev)
		if rec != nil {
			if err := rec.write(ev); err != nil && rec.skipped == 0 {
				fmt.Fprintf(stderr, "poolwatch: warning: %s: %v (skipping such records)\n", cfg.etl, err)
				rec.skipped++
			} else if err != nil {
				rec.skipped++
			}
		}
		if ev.Timestamp < start {
			continue
		}
		if next == 0 {
			next = ev.Timestamp + step
		} else if ev.Timestamp >= next {
			w.print(p.Snapshot(), ev.Timestamp-start)
			next = ev.Timestamp + step
		}
	}
	if p == nil {
		if err := newPipeline(0); err != nil {
			return err
		}
	}
	res := p.Finish()
	warnTag(ledgerTag(cfg), res, stderr) // a wildcard tag is matched in the kernel, not here
	var partial error
	var missing string // what a replayed trace read in part is missing
	if r, ok := src.(fileSource); ok {
		d := r.Reader.Report(*r.errs)
		damage.Warn(stderr, "poolwatch", &d)
		if !d.Complete {
			partial = errPartial
		}
		missing = d.Partial()
	}
	fmt.Fprintln(stdout, "final")
	w.print(res, -1)
	w.stacks(res)
	if s, ok := src.(*live.Session); ok {
		st := s.Stats()
		fmt.Fprintf(stdout, "\nsession: %d records, %d events, %d DbgID events (%d images unreadable), %d filtered, %d out of order; lost %d events, %d buffers, %d real-time buffers\n",
			st.Records, st.Events, st.ImageIDs, st.ImageIDFailures, st.Filtered, st.OutOfOrder, st.LostEvents, st.LostBuffers, st.RealTimeBuffersLost)
		warnPartial(st, stderr)
		if rec != nil {
			rec.w.LoseBuffers(uint32(st.LostBuffers + st.RealTimeBuffersLost))
			if st.LostEvents > 0 {
				_ = rec.w.LoseEvents(0, uint32(st.LostEvents))
			}
		}
	}
	if rec != nil {
		if err := rec.close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "recorded %s\n", cfg.etl)
	}
	if cfg.out != "" {
		trace := "live session "
		if s, ok := src.(*live.Session); ok {
			trace += s.Name()
		}
		if cfg.replay != "" {
			trace = filepath.Base(cfg.replay)
		}
		if err := writeProfile(cfg.out, trace, res, missing); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", cfg.out)
	}
	return partial
}

func ticks(clk *etw.Clock, d time.Duration) int64 {
	if t := clk.Ticks(d); t > 0 {
		return t
	}
	return int64(d / 100) // 100 ns units when the clock is unknown
}

type tagKey struct {
	tag  pool.Tag
	kind pool.Kind
}

// watcher prints the periodic tables.
type watcher struct {
	cfg  config
	out  io.Writer
	clk  *etw.Clock
	prev map[tagKey]uint64
}

// print writes the top tags by outstanding bytes with their growth since
// the previous table and over the whole session. at is the trace time
// since the start in ticks, or -1 for the final table.
func (w *watcher) print(res *leak.Result, at int64) {
	rep := res.Report
	tags := append([]pool.TagStats(nil), rep.Tags...)
	sort.SliceStable(tags, func(i, j int) bool { return tags[i].OutstandingBytes > tags[j].OutstandingBytes })
	if w.cfg.top >= 0 && len(tags) > w.cfg.top {
		tags = tags[:w.cfg.top]
	}
	if at >= 0 {
		fmt.Fprintf(w.out, "\n+%s  ", w.clk.Duration(at).Round(time.Millisecond))
	}
	t := rep.Totals
	fmt.Fprintf(w.out, "%d events, %d pool: %d allocs, %d frees; outstanding %d blocks, %d bytes\n",
		rep.Trace.Events, rep.Trace.PoolEvents, t.Allocs, t.Frees, t.OutstandingCount, t.OutstandingBytes)
	tw := tabwriter.NewWriter(w.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tag\tpool\tout count\tout bytes\tΔ bytes\tgrowth B/s\t")
	for _, s := range tags {
		k := tagKey{s.Tag, s.Pool}
		d := int64(s.OutstandingBytes) - int64(w.prev[k])
		fmt.Fprintf(tw, "%q\t%s\t%d\t%d\t%+d\t%.1f\t\n", s.Tag.String(), s.Pool, s.OutstandingCount, s.OutstandingBytes, d, s.GrowthBytesPerS)
	}
	tw.Flush()
	for _, s := range rep.Tags {
		w.prev[tagKey{s.Tag, s.Pool}] = s.OutstandingBytes
	}
}

// stacks prints the top outstanding stacks.
func (w *watcher) stacks(res *leak.Result) {
	top := res.Stacks
	if w.cfg.top >= 0 && len(top) > w.cfg.top {
		top = top[:w.cfg.top]
	}
	for i, s := range top {
		proc := ""
		if s.Process != "" {
			proc = fmt.Sprintf(", %s (pid %d)", s.Process, s.PID)
		}
		fmt.Fprintf(w.out, "\n#%d %q %s: %d blocks, %d bytes%s\n", i+1, s.Tag, s.Pool, s.OutstandingCount, s.OutstandingBytes, proc)
		if len(s.Frames) == 0 {
			fmt.Fprintln(w.out, "    (no stack)")
		}
		for _, f := range s.Frames {
			fmt.Fprintf(w.out, "    %s\n", f)
		}
	}
}

// recorder writes the events to an .etl file with etwkit's writer.
type recorder struct {
	f       *os.File
	w       *etltest.Writer
	file    bool // events come from a file: keep their buffers' header events
	skipped int  // records the writer refused
}

func newRecorder(name string, src source) (*recorder, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	opts := etltest.Options{PointerSize: src.PointerSize(), NumberOfProcessors: processors(), BufferSize: 1 << 20}
	if clk := src.Clock(); clk != nil && clk.Frequency > 0 {
		opts.PerfFreq = clk.Frequency
		opts.StartTicks = clk.BaseTicks
		opts.StartTime = etw.FiletimeToTime(clk.BaseTime)
	}
	r := &recorder{f: f}
	if s, ok := src.(*live.Session); ok {
		opts.LoggerName = s.Name()
	} else {
		r.file = true
		opts.NumberOfProcessors = 2048
	}
	if r.w, err = etltest.NewWriter(f, opts); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func processors() int {
	n := runtime.NumCPU()
	if n < 64 {
		n = 64
	}
	if n > 2048 {
		n = 2048
	}
	return n
}

func (r *recorder) write(ev *etw.Event) error {
	if !r.file && ev.Hook == etw.HookHeader && ev.IsKernel() {
		// The real-time consumer's own logfile header event: the writer
		// writes the file's header event itself.
		return nil
	}
	if int(ev.Processor) >= r.w.Options().NumberOfProcessors {
		return nil
	}
	return r.w.WriteEvent(ev)
}

func (r *recorder) close() error {
	err := r.w.Close()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}
