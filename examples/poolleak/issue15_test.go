package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leakPID is the process of the leaking app in the generated traces.
const leakPID = 6420

type jsonOut struct {
	Trace struct {
		PoolEvents     uint64 `json:"pool_events"`
		Complete       *bool  `json:"complete"`
		BuffersRead    *int   `json:"buffers_read"`
		BuffersWritten *int   `json:"buffers_written"`
		ReadErrors     []struct {
			Buffer *int    `json:"buffer"`
			Offset *int64  `json:"offset"`
			Error  *string `json:"error"`
		} `json:"read_errors"`
	} `json:"trace"`
	Totals struct {
		Allocs, Frees, AOFI uint64
	} `json:"totals"`
	Anomalies struct {
		FreeWithoutAlloc   uint64 `json:"free_without_alloc"`
		AllocOverOpenBlock uint64 `json:"alloc_over_open_block"`
	} `json:"anomalies"`
	Tags []struct {
		Tag            string  `json:"tag"`
		Allocs         uint64  `json:"allocs"`
		Frees          uint64  `json:"frees"`
		AOFI           uint64  `json:"aofi"`
		BytesAllocated uint64  `json:"bytes_allocated"`
		BytesFreed     uint64  `json:"bytes_freed"`
		Growth         float64 `json:"growth_bytes_per_s"`
		R2             float64 `json:"growth_r2"`
		Rank           int     `json:"leak_rank"`
	} `json:"tags"`
}

func runJSON(t *testing.T, want int, args ...string) (jsonOut, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	require.Equal(t, want, run(append([]string{"-json"}, args...), &out, &errOut), errOut.String())
	var rep jsonOut
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	return rep, errOut.String()
}

// TestExitCodes: 0 for a trace read whole, 3 for a report printed from a
// partial trace (with a warning and "complete": false), 1 for a file that
// is no trace, 2 for usage errors; on both stack shapes.
func TestExitCodes(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("stackkeys=%v", keys), func(t *testing.T) {
			tr := damagetest.Write(t, keys)
			rep, stderr := runJSON(t, 0, tr.Complete)
			require.NotNil(t, rep.Trace.Complete)
			assert.True(t, *rep.Trace.Complete)
			assert.Equal(t, tr.Buffers, *rep.Trace.BuffersRead)
			assert.Equal(t, tr.Buffers, *rep.Trace.BuffersWritten)
			require.NotNil(t, rep.Trace.ReadErrors, "read_errors is a list, empty when none")
			assert.Empty(t, rep.Trace.ReadErrors)
			assert.NotContains(t, stderr, "warning")

			rep, stderr = runJSON(t, 3, tr.Cut)
			assert.False(t, *rep.Trace.Complete)
			assert.Equal(t, tr.Buffers/2, *rep.Trace.BuffersRead)
			assert.Equal(t, tr.Buffers, *rep.Trace.BuffersWritten)
			assert.Contains(t, stderr, "poolleak: warning: partial result")

			rep, _ = runJSON(t, 3, tr.Corrupt)
			assert.False(t, *rep.Trace.Complete)
			require.Len(t, rep.Trace.ReadErrors, 1)
			assert.Equal(t, 3, *rep.Trace.ReadErrors[0].Buffer)
			assert.NotZero(t, *rep.Trace.ReadErrors[0].Offset)
			assert.Contains(t, *rep.Trace.ReadErrors[0].Error, "buffer 3")

			// The header claims 16 MiB buffers: the trace was not read, so
			// no advice about how to record pool events.
			var out, errOut bytes.Buffer
			assert.Equal(t, 3, run([]string{tr.BigHeader}, &out, &errOut))
			assert.NotContains(t, out.String(), "record with xperf")
			assert.Contains(t, out.String(), "could be read")
			assert.Contains(t, errOut.String(), "read 1 of the")
			assert.Contains(t, out.String(), "partial   read 1 of ")
			out.Reset()
			assert.Equal(t, 0, run([]string{tr.Complete}, &out, &errOut))
			assert.NotContains(t, out.String(), "partial")

			assert.Equal(t, 1, run([]string{tr.Unreadable}, &out, &errOut))
			assert.Equal(t, 2, run([]string{"-top", "-1", tr.Complete}, &out, &errOut))
			assert.Equal(t, 2, run([]string{"-nosuchflag", tr.Complete}, &out, &errOut))
		})
	}
}

// TestPIDFollowsWPA: under -pid a block belongs to its allocator; frees of
// other blocks are left out (issue 15: 5,854 AOFI and frees without alloc).
func TestPIDFollowsWPA(t *testing.T) {
	for _, keys := range []bool{false, true} {
		tr := damagetest.Write(t, keys)
		rep, _ := runJSON(t, 0, "-pid", strconv.Itoa(leakPID), tr.Complete)
		require.NotEmpty(t, rep.Tags)
		assert.Equal(t, "Irp ", rep.Tags[0].Tag)
		assert.Zero(t, rep.Totals.AOFI)
		assert.Zero(t, rep.Anomalies.FreeWithoutAlloc)
		assert.LessOrEqual(t, rep.Totals.Frees, rep.Totals.Allocs)
		assert.Equal(t, rep.Totals.Allocs+rep.Totals.Frees, rep.Trace.PoolEvents)
		for _, tg := range rep.Tags {
			assert.Zero(t, tg.AOFI, tg.Tag)
			assert.LessOrEqual(t, tg.Frees, tg.Allocs, tg.Tag)
			assert.LessOrEqual(t, tg.BytesFreed, tg.BytesAllocated, tg.Tag)
		}

		rep, stderr := runJSON(t, 0, "-pid", "99999", tr.Complete)
		assert.Empty(t, rep.Tags)
		assert.Contains(t, stderr, "process 99999 allocated no pool blocks")
	}
}

// TestWindowGrowth: -window A:B computes growth, R² and rank over the
// window (issue 15: all were 0).
func TestWindowGrowth(t *testing.T) {
	rep, _ := runJSON(t, 0, "-window", "2:8", irpLeak)
	require.NotEmpty(t, rep.Tags)
	irp := rep.Tags[0]
	assert.Equal(t, "Irp ", irp.Tag)
	assert.Equal(t, 1, irp.Rank)
	assert.InDelta(t, 1024/0.06, irp.Growth, 1500, "one 1 KiB block every 60 ms")
	assert.Greater(t, irp.R2, 0.95)
	for _, tg := range rep.Tags {
		assert.NotZero(t, tg.Rank, tg.Tag)
	}

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-window", "2:8", irpLeak}, &out, &errOut))
	assert.Regexp(t, `"Irp "\s+nonpaged(\s+\d+){7}\s+1[5-9]\d\d\d\.\d\s+1\.00\s+1\s`, out.String())
}

// TestTagAsTyped: -tag Irp matches "Irp "; a tag that matches nothing or
// is longer than four bytes is a usage error naming the close matches.
func TestTagAsTyped(t *testing.T) {
	rep, _ := runJSON(t, 0, "-tag", "Irp", irpLeak)
	require.Len(t, rep.Tags, 1)
	assert.Equal(t, "Irp ", rep.Tags[0].Tag)

	for _, tag := range []string{"irp", "ThisIsLong", "IrpLong"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run([]string{"-tag", tag, irpLeak}, &out, &errOut), tag)
		assert.Empty(t, out.String(), tag)
		if tag != "ThisIsLong" {
			assert.Contains(t, errOut.String(), `close matches: "Irp "`, tag)
		} else {
			assert.Contains(t, errOut.String(), "not a pool tag")
		}
	}
}

// TestTagCountsConsistent: under -tag the stack line counts the same pool
// events as the events line (issue 15: 1558 beside "of 11931").
func TestTagCountsConsistent(t *testing.T) {
	for _, args := range [][]string{{"-tag", "Irp"}, {"-pid", strconv.Itoa(leakPID)}, {"-window", "0:5"}, nil} {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, run(append(args, irpLeak), &out, &errOut), errOut.String())
		ev := regexp.MustCompile(`\((\d+) pool events;`).FindStringSubmatch(out.String())
		st := regexp.MustCompile(`stacks +\d+ of (\d+) pool events`).FindStringSubmatch(out.String())
		require.NotNil(t, ev, out.String())
		require.NotNil(t, st, out.String())
		assert.Equal(t, ev[1], st[1], "%v", args)
	}
}

// TestLegendAndSymbolWarning: the text report explains its columns, and a
// symbol folder that does not exist is warned about.
func TestLegendAndSymbolWarning(t *testing.T) {
	var out, errOut bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nonexistent")
	require.Equal(t, 0, run([]string{"-symbols", missing, irpLeak}, &out, &errOut), errOut.String())
	for _, w := range []string{"AIFI:", "AIFO:", "AOFI:", "R²:", "rank 1"} {
		assert.Contains(t, out.String(), w)
	}
	assert.Contains(t, errOut.String(), "poolleak: warning: symbol path: folder "+missing+" does not exist")
}

// TestFoldSegments: with -fold, each stack's segment counts are those of
// the frames printed (issue 15: they kept the unfolded counts).
func TestFoldSegments(t *testing.T) {
	for _, args := range [][]string{{"-fold"}, nil} {
		var out, errOut bytes.Buffer
		require.Equal(t, 0, run(append(append([]string{"-json"}, args...), irpLeak), &out, &errOut), errOut.String())
		var rep struct {
			Stacks []struct {
				Frames   []string `json:"frames"`
				Segments struct{ Kernel, User, WOW64 int }
			} `json:"stacks"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
		require.NotEmpty(t, rep.Stacks)
		folded := 0
		for _, s := range rep.Stacks {
			markers := 0
			for _, f := range s.Frames {
				if strings.HasPrefix(f, "[wow64 transition]") {
					markers++
				}
			}
			folded += markers
			assert.Equal(t, len(s.Frames)-markers, s.Segments.Kernel+s.Segments.User+s.Segments.WOW64, "%v %v", args, s.Frames)
		}
		assert.Equal(t, args != nil, folded > 0, "%v", args)
	}
}

// TestHTMLSaysPartial: the HTML report of a trace cut short says so, as
// the warnings and the JSON do.
func TestHTMLSaysPartial(t *testing.T) {
	tr := damagetest.Write(t, true)
	page := filepath.Join(t.TempDir(), "r.html")
	var out, errOut bytes.Buffer
	require.Equal(t, 3, run([]string{"-html", page, tr.Cut}, &out, &errOut))
	data, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.Contains(t, string(data), fmt.Sprintf("read %d of the %d buffers", tr.Buffers/2, tr.Buffers))
}
