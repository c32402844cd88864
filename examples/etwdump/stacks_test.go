package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expectedStacks is the part of a corpus *.stacks.json these tests compare
// (see the corpus's expected/README.md).
type expectedStacks struct {
	EventStacks struct {
		Count           int `json:"count"`
		WOW64Transition int `json:"wow64_transition"`
	} `json:"event_stacks"`
	FirstEventStacks []struct {
		Timestamp       int64           `json:"timestamp"`
		PID             etw.PID         `json:"pid"`
		TID             etw.TID         `json:"tid"`
		Frames          []string        `json:"frames"`
		Segments        stacks.Segments `json:"segments"`
		WOW64Transition bool            `json:"wow64_transition"`
	} `json:"first_event_stacks"`
}

// eventStack is an event etwdump -stacks printed with a StackWalk stack.
type eventStack struct {
	ts         int64
	attr       stacks.Attribution
	threadPID  etw.PID  // the thread's process by the thread table, or NoPID
	frames     []string // module+0xoffset, or 0xaddress when no image covers it
	segments   stacks.Segments
	transition bool
	kind       string
}

// stackEvents runs the -stacks machinery over a trace and returns the
// events that got a StackWalk stack (extended-data stacks are left out, as
// the expected files leave them out), in print order.
func stackEvents(t *testing.T, path string) ([]eventStack, stacks.Stats) {
	t.Helper()
	r, err := etw.Open(path)
	require.NoError(t, err)
	defer r.Close()
	a, err := newStackAttacher(r, path, etw.Limits{}, "", io.Discard)
	require.NoError(t, err)
	defer a.close()
	var out []eventStack
	a.emit = func(ev *etw.Event, frames []stacks.Frame, hasStack bool) {
		if !hasStack {
			return
		}
		if _, ok := ev.ExtStack(); ok {
			return
		}
		es := eventStack{ts: ev.Timestamp, attr: a.attr, segments: stacks.SegmentsOf(frames),
			transition: stacks.HasWOW64Transition(frames), kind: ev.Kind(), threadPID: etw.NoPID}
		if pid, ok := a.mods.ProcessOf(a.attr.TID, ev.Timestamp); ok {
			es.threadPID = pid
		}
		if es.kind == "" {
			es.kind = ev.Hook.String()
		}
		for i := range frames {
			f := &frames[i]
			switch {
			case f.Kind == stacks.Marker:
				es.frames = append(es.frames, f.Text)
			case f.Module != nil:
				es.frames = append(es.frames, f.Module.Name+"+0x"+strconv.FormatUint(f.Addr-f.Module.Base, 16))
			default:
				es.frames = append(es.frames, "0x"+strconv.FormatUint(f.Addr, 16))
			}
		}
		out = append(out, es)
	}
	for ev, err := range r.All() {
		if err != nil {
			continue
		}
		a.event(ev, true)
	}
	a.corr.Finish()
	return out, a.corr.Stats()
}

// TestPerfViewStacks compares -stacks on the two PerfView traces of the
// corpus with the independent stack reader's answer: how many events have
// a StackWalk stack, how many of those cross from WOW64 into 32-bit code,
// and the first 20 event stacks frame for frame with their process,
// thread and segments. Most of these events (SampledProfile, HardFault)
// have PERFINFO headers, without process or thread; on the x64 trace most
// stacks are stack keys defined at the end of the trace.
func TestPerfViewStacks(t *testing.T) {
	for _, name := range []string{"net.4.5.2.x64.etl.zip!net.4.5.2.x64.etl", "net.4.5.x86.etl.zip!PerfViewData.etl"} {
		t.Run(name, func(t *testing.T) {
			tr := corpus.Find(t, name)
			b, err := os.ReadFile(tr.Expected + ".stacks.json")
			if err != nil {
				t.Skipf("no expected stacks: %v", err)
			}
			var want expectedStacks
			require.NoError(t, json.Unmarshal(b, &want))
			got, st := stackEvents(t, tr.Path)
			transitions, checked := 0, 0
			for _, e := range got {
				// The thread table agrees with the stack records on the
				// process of a thread, wherever it knows the thread.
				if e.attr.PIDFrom == stacks.SourceStack && e.threadPID != etw.NoPID {
					checked++
					require.Equal(t, e.attr.PID, e.threadPID, "event at %d, thread %d", e.ts, e.attr.TID)
				}
				if e.transition {
					transitions++
				}
				for _, f := range e.frames {
					require.NotContains(t, f, "stack key", "event at %d", e.ts)
				}
			}
			assert.Equal(t, want.EventStacks.Count, len(got), "events with a StackWalk stack")
			assert.Equal(t, want.EventStacks.WOW64Transition, transitions, "events with a WOW64 transition")
			assert.Zero(t, st.Unattached, "stack records without their event")
			assert.Positive(t, checked, "events whose process the thread table could check")
			require.GreaterOrEqual(t, len(got), len(want.FirstEventStacks))
			for i, w := range want.FirstEventStacks {
				g := got[i]
				assert.Equal(t, w.Timestamp, g.ts, "event %d", i)
				assert.Equal(t, w.PID, g.attr.PID, "event %d: pid", i)
				assert.Equal(t, w.TID, g.attr.TID, "event %d: tid", i)
				assert.Equal(t, w.Frames, g.frames, "event %d (%s)", i, g.kind)
				assert.Equal(t, w.Segments, g.segments, "event %d: segments", i)
				assert.Equal(t, w.WOW64Transition, g.transition, "event %d: transition", i)
			}
		})
	}
}

// TestStacksAttributed checks what -stacks prints for a PERFINFO-headed
// event: pid and tid stay null, and "attributed" says what they are and
// where they came from.
func TestStacksAttributed(t *testing.T) {
	tr := corpus.Find(t, "net.4.5.2.x64.etl.zip!net.4.5.2.x64.etl")
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-stacks", "-limit", "2000", tr.Path}, &out, &errb), errb.String())
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			TS         int64          `json:"ts"`
			PID        *uint32        `json:"pid"`
			TID        *uint32        `json:"tid"`
			Attributed map[string]any `json:"attributed"`
			Stack      []string       `json:"stack"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		if ev.TS != 1942908431 {
			continue
		}
		found = true
		assert.Nil(t, ev.PID)
		assert.Nil(t, ev.TID)
		assert.Equal(t, map[string]any{"pid": 3988.0, "pid_from": "stack", "tid": 3780.0, "tid_from": "payload"}, ev.Attributed)
		assert.Equal(t, "ntdll.dll+0x455b", ev.Stack[2])
	}
	assert.True(t, found, "the second SampledProfile event with a stack")
	assert.Contains(t, errb.String(), "had no process in their header")
}

// TestStacksPerfInfoPool runs -stacks on the leak scenario written with
// SYSTEM-headed and with PERFINFO-headed pool events: every pool event has
// the same stack in both, and in the PERFINFO form its "attributed"
// process and thread are the ones the SYSTEM header carries.
func TestStacksPerfInfoPool(t *testing.T) {
	dir := t.TempDir()
	type line struct {
		TS         int64          `json:"ts"`
		PID        *uint32        `json:"pid"`
		TID        *uint32        `json:"tid"`
		Attributed map[string]any `json:"attributed"`
		Stack      []string       `json:"stack"`
		Segments   map[string]int `json:"segments"`
	}
	var runs [2][]line
	for i, h := range []etltest.HeaderKind{etltest.HeaderDefault, etltest.HeaderPerfInfo} {
		path := filepath.Join(dir, fmt.Sprintf("leak%d.etl", i))
		sc := etltest.NewScenario(etltest.ScenarioOptions{Seed: 5, Events: 1000, Leak: true, LeakCount: 30, StackKeys: true, PoolHeader: h})
		require.NoError(t, sc.WriteFile(path, sc.WriterOptions()))
		var out, errb bytes.Buffer
		require.Equal(t, 0, run([]string{"-stacks", "-kinds", "pool", path}, &out, &errb), errb.String())
		for _, s := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var l line
			require.NoError(t, json.Unmarshal([]byte(s), &l), s)
			runs[i] = append(runs[i], l)
		}
		if h == etltest.HeaderPerfInfo {
			assert.Contains(t, errb.String(), fmt.Sprintf("%d events had no process in their header: 0 attributed by their payload, %d by their stack record, 0 by their thread, 0 to no process", len(runs[i]), len(runs[i])))
		}
	}
	require.Equal(t, len(runs[0]), len(runs[1]))
	wow := 0
	for i := range runs[0] {
		s, p := runs[0][i], runs[1][i]
		require.Equal(t, s.TS, p.TS)
		require.NotNil(t, s.PID)
		assert.Nil(t, s.Attributed)
		assert.Nil(t, p.PID)
		assert.Nil(t, p.TID)
		assert.Equal(t, map[string]any{"pid": float64(*s.PID), "pid_from": "stack", "tid": float64(*s.TID), "tid_from": "stack"}, p.Attributed, "event at %d", s.TS)
		assert.Equal(t, s.Stack, p.Stack, "event at %d", s.TS)
		assert.Equal(t, s.Segments, p.Segments, "event at %d", s.TS)
		if p.Segments["wow64"] > 0 {
			wow++
		}
	}
	assert.GreaterOrEqual(t, wow, 30, "the leak's WOW64 stacks, and others")
}
