package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dump(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("etwdump %v: exit %d: %s", args, code, errb.String())
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		d := json.NewDecoder(strings.NewReader(sc.Text()))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestSawbuckProcess(t *testing.T) {
	tr := corpus.Find(t, "sawbuck__process_data_32_v3")
	lines := dump(t, "-kinds", "process", "-limit", "2", "-file-order", tr.Path)
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	l := lines[0]
	for _, k := range []string{"time", "ts", "cpu", "pid", "tid", "kind", "opcode", "version", "data"} {
		if _, ok := l[k]; !ok {
			t.Errorf("no %q in %v", k, l)
		}
	}
	data := l["data"].(map[string]any)
	if l["kind"] != "Process/End" || data["ImageFileName"] != "notepad.exe" || data["ProcessId"].(json.Number) != "1776" ||
		data["UniqueProcessKey"] != "0x0" || !strings.HasPrefix(l["time"].(string), "2011-05-02T") {
		t.Errorf("first line: %v", l)
	}
}

// TestFirstEvents compares etwdump's first events with the expected
// kernel.json of a trace (time order, cpu, pid, tid, kind).
func TestFirstEvents(t *testing.T) {
	tr := corpus.Find(t, "diaghub-etls/diaghub.kernel.1.etl")
	b, err := os.ReadFile(tr.Expected + ".kernel.json")
	if err != nil {
		t.Skip(err)
	}
	var want struct {
		FirstEvents []struct {
			Timestamp int64  `json:"timestamp"`
			Kind      string `json:"kind"`
			Opcode    int    `json:"opcode"`
			PID       *int64 `json:"pid"`
			CPU       int    `json:"cpu"`
		} `json:"first_events"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	lines := dump(t, "-limit", "50", tr.Path)
	if len(lines) != len(want.FirstEvents) {
		t.Fatalf("%d lines, want %d", len(lines), len(want.FirstEvents))
	}
	for i, w := range want.FirstEvents {
		l := lines[i]
		pid := "null"
		if w.PID != nil {
			pid = itoa(*w.PID)
		}
		gotPID := "null"
		if l["pid"] != nil {
			gotPID = l["pid"].(json.Number).String()
		}
		if l["ts"].(json.Number).String() != itoa(w.Timestamp) || l["cpu"].(json.Number).String() != itoa(int64(w.CPU)) ||
			l["opcode"].(json.Number).String() != itoa(int64(w.Opcode)) || gotPID != pid {
			t.Errorf("event %d: got %v, want %+v", i, l, w)
		}
		// Kernel records carry their Class/Event name instead of the hook
		// when etwkit decodes them.
		if k := l["kind"].(string); k != w.Kind && !strings.Contains(k, "/") {
			t.Errorf("event %d: kind %q, want %q", i, k, w.Kind)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestBadKinds(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-kinds", "bogus", "x.etl"}, &out, &errb); code != 2 {
		t.Errorf("exit %d", code)
	}
}

// TestStacks checks -stacks on the leak fixture: the Irp allocations carry
// their whole stack, kernel part first, with the WOW64 segments counted.
func TestStacks(t *testing.T) {
	leak := filepath.Join(corpus.ModuleRoot(), "testdata", "irp-leak.etl")
	var out, errOut bytes.Buffer
	code := run([]string{"-stacks", "-kinds", "pool", leak}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	found := 0
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct {
			Kind string `json:"kind"`
			Data struct {
				Tag string `json:"Tag"`
			} `json:"data"`
			Stack    []string       `json:"stack"`
			Segments map[string]int `json:"segments"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		if ev.Kind != "PoolTrace/PoolAllocation" || ev.Data.Tag != "Irp " || ev.Segments["wow64"] == 0 {
			continue
		}
		found++
		assert.True(t, strings.HasPrefix(ev.Stack[0], "ntoskrnl.exe+0x"))
		assert.Equal(t, map[string]int{"kernel": 6, "user": 9, "wow64": 8}, ev.Segments)
	}
	assert.Equal(t, 156, found, "every leaking Irp allocation has its WOW64 stack")
	assert.Equal(t, 2, run([]string{"-stacks", "-file-order", leak}, &out, &errOut))
}
