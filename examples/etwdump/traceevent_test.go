package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/internal/damage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// teBaselines are TraceEvent's own test baselines for three corpus traces
// (see ../shared/testdata/etl/expected/traceevent/README.md) with what
// -traceevent reproduces of them today: lines and counts equal to the
// baseline's, .NET runtime providers left out. The test fails when fewer
// match (a ratchet: raise the numbers as decoding improves).
var teBaselines = []struct {
	baseline, trace string
	events, counts  int // matching EVENT and COUNT lines required
}{
	{"net.4.5.2.x64.baseline.txt", "net.4.5.2.x64.etl", 262, 88},
	{"gcevents.baseline.txt", "gcevents", 1, 1},
	{"primitive-types.baseline.txt", "primitive-types", 6, 2},
}

// teLines splits TraceEvent test output into EVENT and COUNT lines,
// leaving out the .NET runtime providers.
func teLines(b []byte) (events, counts []string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		name := ""
		switch {
		case strings.HasPrefix(l, "EVENT "):
			if i := strings.Index(l, ": "); i >= 0 {
				name = l[i+2:]
			}
		case strings.HasPrefix(l, "COUNT "):
			name = l[len("COUNT "):]
		default:
			continue
		}
		if strings.HasPrefix(name, "Microsoft-Windows-DotNETRuntime") {
			continue
		}
		if strings.HasPrefix(l, "EVENT ") {
			events = append(events, l)
		} else {
			counts = append(counts, l)
		}
	}
	return events, counts
}

// matchLines counts the lines of want that got has, each used once, and
// returns the ones it lacks.
func matchLines(want, got []string) (int, []string) {
	have := map[string]int{}
	for _, l := range got {
		have[l]++
	}
	n := 0
	var missing []string
	for _, l := range want {
		if have[l] > 0 {
			have[l]--
			n++
		} else {
			missing = append(missing, l)
		}
	}
	return n, missing
}

func TestTraceEventBaselines(t *testing.T) {
	dir := filepath.Join(corpus.ExpectedDir(t), "traceevent")
	for _, tc := range teBaselines {
		t.Run(tc.trace, func(t *testing.T) {
			base, err := os.ReadFile(filepath.Join(dir, tc.baseline))
			if os.IsNotExist(err) {
				t.Skipf("no baseline %s in %s", tc.baseline, dir)
			}
			require.NoError(t, err)
			tr := corpus.Find(t, tc.trace)
			var out bytes.Buffer
			health, err := writeTraceEvent(tr.Path, &out, teOptions{})
			require.NoError(t, err)
			assert.Equal(t, 0, damage.ExitCode(&health), "no damage")

			wantE, wantC := teLines(base)
			gotE, gotC := teLines(out.Bytes())
			ne, missE := matchLines(wantE, gotE)
			nc, missC := matchLines(wantC, gotC)
			t.Logf("%s: %d of %d EVENT lines and %d of %d COUNT lines match", tc.baseline, ne, len(wantE), nc, len(wantC))
			for i, l := range missE {
				if i == 10 {
					t.Logf("... %d more EVENT lines differ", len(missE)-i)
					break
				}
				t.Logf("differs: %.200s", l)
			}
			for _, l := range missC {
				t.Logf("differs: %s", l)
			}
			assert.GreaterOrEqual(t, ne, tc.events, "EVENT lines matching the baseline")
			assert.GreaterOrEqual(t, nc, tc.counts, "COUNT lines matching the baseline")
			if ne == len(wantE) && nc == len(wantC) {
				// Everything matches: the order must too, as in TraceEvent's test.
				assert.Equal(t, wantE, gotE)
				assert.Equal(t, wantC, gotC)
			}
		})
	}
}

func TestTraceEventFlag(t *testing.T) {
	tr := corpus.Find(t, "primitive-types")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-traceevent", tr.Path}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "EVENT 2,942.306: solar_system/PrimitiveTypesTest PID=33984; TID=21768;")
	assert.Contains(t, out.String(), "COUNT solar_system/PrimitiveTypesTest:5\n")
}

func TestTERoundHalfUp(t *testing.T) {
	for in, want := range map[string]string{
		"36.2255": "36.226", "0": "0.000", "9.9995": "10.000", "-0.0004": "0.000", "1234.5": "1234.500",
		"-2.0005": "-2.001",
	} {
		assert.Equal(t, want, roundHalfUp(in, 3), in)
	}
	assert.Equal(t, "1,234,567.890", string(appendN(nil, 1234567.89, 3)))
}
