// Command etlstat prints a structural census of ETL traces: buffers,
// compression, records per header type, kernel hook ids, providers and the
// logfile header.
//
// Usage:
//
//	etlstat [-json] [-max-memory SIZE] FILE|DIR...
//
// A FILE may name a zip member as archive.zip!member; a .zip alone opens its
// only .etl member. A DIR means every .etl and .zip in it. With -json, one
// JSON object per trace is printed, in input order, with the keys of the
// corpus's expected *.census.json files. A file that is not a trace makes
// etlstat print a one-line error, and so does a DIR without traces.
// -max-memory (default $ETWKIT_MAX_MEMORY, else 256M) is the reader's
// memory ceiling: bytes, or with a K, M or G suffix.
//
// Exit status: 0 when every trace was read whole; 1 when an argument could
// not be read at all (not a trace, missing, a folder without traces); 2
// for bad flags; otherwise 3 when a census was printed from a trace that
// could not be read whole (a warning on stderr says what is missing), or
// was stopped by the memory ceiling (the warning says how to raise it).
package main

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/etwkit/etwkit/internal/census"
	"github.com/etwkit/etwkit/internal/cpuprof"
	"github.com/etwkit/etwkit/internal/damage"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etlstat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per trace")
	maxMemory := fs.String("max-memory", "", damage.MaxMemoryUsage)
	cpuProfile := fs.String("cpuprofile", "", cpuprof.Usage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: etlstat [-json] [-max-memory SIZE] [-cpuprofile FILE] FILE|DIR...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	lim, err := damage.Limits(*maxMemory)
	if err != nil {
		fmt.Fprintf(stderr, "etlstat: %v\n", err)
		return 2
	}
	stop, err := cpuprof.Start(*cpuProfile)
	if err != nil {
		fmt.Fprintf(stderr, "etlstat: %v\n", err)
		return 2
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(stderr, "etlstat: %v\n", err)
		}
	}()
	status := 0
	partial := false
	for _, path := range expand(fs.Args(), stderr, &status) {
		c, err := census.OfLimited(path, lim)
		if err != nil {
			fmt.Fprintf(stderr, "etlstat: %v\n", err)
			if a := damage.LimitAdvice(err); a != "" {
				fmt.Fprintf(stderr, "etlstat: %s\n", a)
			}
			status = 1
			continue
		}
		if !c.Damage.Complete {
			partial = true
			fmt.Fprintf(stderr, "etlstat: %s:\n", path)
			damage.Warn(stderr, "etlstat", &c.Damage)
		}
		if *asJSON {
			b, err := json.Marshal(c)
			if err != nil {
				fmt.Fprintf(stderr, "etlstat: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		printText(stdout, c)
	}
	if partial && status == 0 {
		return damage.ExitPartial
	}
	return status
}

// expand replaces directory arguments by the traces in them.
func expand(args []string, stderr io.Writer, status *int) []string {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			fmt.Fprintf(stderr, "etlstat: %v\n", err)
			*status = 1
			continue
		}
		before := len(out)
		for _, e := range ents {
			n := strings.ToLower(e.Name())
			p := filepath.Join(a, e.Name())
			switch {
			case e.IsDir():
			case strings.HasSuffix(n, ".etl"):
				out = append(out, p)
			case strings.HasSuffix(n, ".zip"):
				members, err := zipTraces(p)
				if err != nil {
					fmt.Fprintf(stderr, "etlstat: %s: %v\n", p, err)
					*status = 1
				}
				out = append(out, members...)
			}
		}
		if len(out) == before {
			fmt.Fprintf(stderr, "etlstat: %s: no .etl or .zip traces in this folder\n", a)
			*status = 1
		}
	}
	return out
}

// zipTraces lists the .etl members of a zip archive as "path!member".
func zipTraces(path string) ([]string, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out []string
	for _, f := range zr.File {
		if strings.HasSuffix(strings.ToLower(f.Name), ".etl") {
			out = append(out, path+"!"+f.Name)
		}
	}
	return out, nil
}

func printText(w io.Writer, c *census.Census) {
	l := c.Logfile
	fmt.Fprintf(w, "%s\n", c.File)
	fmt.Fprintf(w, "  logger        %s (mode %s, clock %d, %d-bit, %d CPUs, OS build %d)\n",
		l.LoggerName, l.LogFileMode, l.ReservedFlags, l.PointerSize*8, l.NumberOfProcessors, l.OSBuild)
	fmt.Fprintf(w, "  buffers       %d (%d compressed, %s)\n", c.Buffers, c.CompressedBuffers, c.Compression)
	fmt.Fprintf(w, "  events        %d (lost %d, buffers lost %d)\n", c.Events, l.EventsLost, l.BuffersLost)
	printCounts(w, "header types", c.HeaderTypes)
	printCounts(w, "kernel hooks", c.KernelHooks)
	printCounts(w, "providers", c.Providers)
	printCounts(w, "classic", c.ClassicProviders)
	for _, e := range c.Errors {
		fmt.Fprintf(w, "  error         %s\n", e)
	}
}

func printCounts(w io.Writer, title string, m map[string]int64) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for i, k := range keys {
		label := ""
		if i == 0 {
			label = title
		}
		fmt.Fprintf(w, "  %-13s %-38s %d\n", label, k, m[k])
	}
}
