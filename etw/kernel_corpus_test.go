package etw_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
)

// kernelExpect is the part of an expected *.kernel.json file (see the
// README in the corpus's expected/ folder) that the decoders are checked
// against.
type kernelExpect struct {
	File             string           `json:"file"`
	Source           string           `json:"source"`
	Processes        []map[string]any `json:"processes"`
	ProcessesSummary struct {
		Total     int            `json:"total"`
		Undecoded map[string]int `json:"undecoded_process_events"`
	} `json:"processes_summary"`
	Images        []map[string]any `json:"images"`
	ImagesSummary struct {
		Total     int            `json:"total"`
		Undecoded map[string]int `json:"undecoded_image_events"`
	} `json:"images_summary"`
	ImageIDs        []map[string]any `json:"image_ids"`
	ImageIDsIL      []map[string]any `json:"image_ids_il"`
	ImageIDsSummary struct {
		RSDS   int `json:"dbgid_rsds"`
		ILRSDS int `json:"dbgid_ilrsds"`
	} `json:"image_ids_summary"`
	Stacks struct {
		StackEvents int              `json:"stack_events"`
		KeyEvents   map[string]int   `json:"key_events_by_opcode"`
		FirstStacks []map[string]any `json:"first_stacks"`
	} `json:"stacks"`
	FirstEvents []map[string]any `json:"first_events"`
	Threads     struct {
		ByOpcode map[string]int `json:"by_opcode"`
		ByPID    []struct {
			PID      uint32         `json:"pid"`
			Count    int            `json:"count"`
			ByOpcode map[string]int `json:"by_opcode"`
		} `json:"by_pid"`
	} `json:"threads"`
}

// kernelFacts is what the decoders extract from one trace, in the
// expected files' shapes.
type kernelFacts struct {
	processes   []map[string]any
	images      []map[string]any
	imageIDs    []map[string]any
	imageIDsIL  []map[string]any
	stackEvents int
	keyEvents   map[string]int
	firstStacks []map[string]any
	firstEvents []map[string]any
	threadOps   map[string]int
	threadPIDs  map[uint32]map[string]int
}

var imageEventNames = map[uint8]string{10: "Load", 2: "Unload", 3: "DCStart", 4: "DCEnd"}

func kernelRecordKind(h etw.HeaderType) string {
	switch h {
	case etw.HeaderSystem32, etw.HeaderSystem64:
		return "system"
	case etw.HeaderCompact32, etw.HeaderCompact64:
		return "compact"
	case etw.HeaderPerfInfo32, etw.HeaderPerfInfo64:
		return "perfinfo"
	case etw.HeaderFull32, etw.HeaderFull64:
		return "full"
	case etw.HeaderInstance32, etw.HeaderInstance64:
		return "instance"
	case etw.HeaderEvent32, etw.HeaderEvent64:
		return "event"
	}
	return h.String()
}

func hex(v uint64) string { return fmt.Sprintf("0x%x", v) }

// collectKernelFacts reads tr in time order and decodes it. It skips the
// test when the reader cannot decompress the file.
func collectKernelFacts(t *testing.T, tr corpus.Trace) *kernelFacts {
	t.Helper()
	r, err := etw.Open(tr.Path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	f := &kernelFacts{keyEvents: map[string]int{}, threadOps: map[string]int{}, threadPIDs: map[uint32]map[string]int{}}
	for ev, err := range r.All() {
		if err != nil {
			if errors.Is(err, etw.ErrUnsupportedCompression) {
				t.Skipf("reader cannot decompress this trace yet: %v", err)
			}
			t.Errorf("ReadEvent: %v", err)
			continue
		}
		if len(f.firstEvents) < 50 {
			e := map[string]any{
				"timestamp": ev.Timestamp, "opcode": ev.Opcode, "cpu": ev.Processor,
				"record": kernelRecordKind(ev.Header), "pid": ev.PID, "tid": ev.TID,
			}
			if ev.IsKernel() {
				e["kind"] = ev.Hook.String()
			} else {
				e["kind"] = ev.Provider.String()
			}
			if ev.Header == etw.HeaderPerfInfo32 || ev.Header == etw.HeaderPerfInfo64 {
				e["pid"], e["tid"] = nil, nil
			}
			if ev.Header == etw.HeaderEvent32 || ev.Header == etw.HeaderEvent64 {
				e["event_id"] = ev.ID
			}
			f.firstEvents = append(f.firstEvents, e)
		}
		kind := ev.Kind()
		if ev.IsKernel() && ev.Group() == etw.GroupThread {
			name := strings.TrimPrefix(kind, "Thread/")
			if kind == "" {
				name = fmt.Sprintf("opcode_%d", ev.Opcode)
			}
			f.threadOps[name]++
			if ev.Opcode >= 1 && ev.Opcode <= 4 {
				th, err := etw.DecodeThread(ev)
				if err != nil {
					t.Errorf("%s at %d: %v", kind, ev.Timestamp, err)
					continue
				}
				m := f.threadPIDs[uint32(th.ProcessID)]
				if m == nil {
					m = map[string]int{}
					f.threadPIDs[uint32(th.ProcessID)] = m
				}
				m[name]++
			}
		}
		switch {
		case kind == "Process/Start" || kind == "Process/End" || kind == "Process/DCStart" ||
			kind == "Process/DCEnd" || kind == "Process/Defunct":
			p, err := etw.DecodeProcess(ev)
			if err != nil {
				t.Errorf("%s at %d: %v", kind, ev.Timestamp, err)
				continue
			}
			e := map[string]any{
				"pid": p.ProcessID, "parent_pid": p.ParentID, "session_id": p.SessionID,
				"image_file_name": p.ImageFileName, "command_line": p.CommandLine,
				"exit_status": p.ExitStatus, "event": strings.TrimPrefix(kind, "Process/"),
				"version": ev.Version, "timestamp": ev.Timestamp,
			}
			if ev.Version >= 4 {
				e["flags"] = p.Flags
			}
			f.processes = append(f.processes, e)
		case kind == "Image/Load" || kind == "Image/UnLoad" || kind == "Image/DCStart" || kind == "Image/DCEnd":
			im, err := etw.DecodeImage(ev)
			if err != nil {
				t.Errorf("%s at %d: %v", kind, ev.Timestamp, err)
				continue
			}
			f.images = append(f.images, map[string]any{
				"pid": im.ProcessID, "base": hex(im.ImageBase), "size": hex(im.ImageSize),
				"file_name": im.FileName, "checksum": im.ImageChecksum, "time_date_stamp": im.TimeDateStamp,
				"event": imageEventNames[im.Opcode], "version": ev.Version, "timestamp": ev.Timestamp,
			})
		case kind == "KernelTraceControl/DbgID_RSDS" || kind == "KernelTraceControl/DbgID_ILRSDS":
			d, err := etw.DecodeDbgID(ev)
			if err != nil {
				t.Errorf("%s at %d: %v", kind, ev.Timestamp, err)
				continue
			}
			e := map[string]any{
				"pid": d.ProcessID, "base": hex(d.ImageBase), "guid": d.GUID.String(), "age": d.Age,
				"pdb_file_name": d.PDBFileName, "timestamp": ev.Timestamp,
			}
			if d.Opcode == 36 {
				f.imageIDs = append(f.imageIDs, e)
			} else {
				f.imageIDsIL = append(f.imageIDsIL, e)
			}
		case kind == "StackWalk/Stack":
			f.stackEvents++
			s, err := etw.DecodeStack(ev)
			if err != nil {
				t.Errorf("%s at %d: %v", kind, ev.Timestamp, err)
				continue
			}
			if len(f.firstStacks) < 25 {
				frames := []any{}
				for fr := range s.Frames() {
					frames = append(frames, hex(fr))
				}
				f.firstStacks = append(f.firstStacks, map[string]any{
					"timestamp": s.EventTimeStamp, "record_timestamp": ev.Timestamp, "pid": s.Process,
					"tid": s.Thread, "cpu": ev.Processor, "frames": frames,
				})
			}
		case strings.HasPrefix(kind, "StackWalk/"):
			name := strings.TrimPrefix(kind, "StackWalk/")
			f.keyEvents[name]++
			var err error
			if name == "StackKeyKernel" || name == "StackKeyUser" {
				_, err = etw.DecodeStackKey(ev)
			} else {
				_, err = etw.DecodeStackKeyDef(ev)
			}
			if err != nil {
				t.Errorf("%s at %d: %v", kind, ev.Timestamp, err)
			}
		}
	}
	sortEntries(f.processes, "pid", "timestamp")
	sortEntries(f.images, "pid", "base", "timestamp")
	sortEntries(f.imageIDs, "pid", "base", "timestamp")
	sortEntries(f.imageIDsIL, "pid", "base", "timestamp")
	return f
}

// sortEntries sorts stably by the given keys (numbers, or hex strings
// compared by value).
func sortEntries(list []map[string]any, keys ...string) {
	num := func(v any) uint64 {
		switch x := v.(type) {
		case etw.PID:
			return uint64(x)
		case int64:
			return uint64(x)
		case string:
			var u uint64
			fmt.Sscanf(x, "0x%x", &u)
			return u
		}
		panic(fmt.Sprintf("sort key of type %T", v))
	}
	sort.SliceStable(list, func(i, j int) bool {
		for _, k := range keys {
			a, b := num(list[i][k]), num(list[j][k])
			if a != b {
				return a < b
			}
		}
		return false
	})
}

// normalize round-trips v through JSON so that it compares equal to a
// decoded expected value.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareEntries checks that got starts with the entries of want, field by
// field for the fields want has (provenance fields excluded).
func compareEntries(t *testing.T, what string, want, got []map[string]any) {
	t.Helper()
	if len(got) < len(want) {
		t.Errorf("%s: decoded %d entries, expected file lists %d", what, len(got), len(want))
	}
	bad := 0
	for i := 0; i < len(want) && i < len(got); i++ {
		g := normalize(t, got[i]).(map[string]any)
		for k, wv := range want[i] {
			if k == "decoded_by" || k == "disputed" {
				continue
			}
			gv, ok := g[k]
			if !ok || fmt.Sprint(gv) != fmt.Sprint(wv) {
				if bad < 10 {
					t.Errorf("%s[%d].%s = %v, want %v (entry %v)", what, i, k, gv, wv, want[i])
				}
				bad++
			}
		}
	}
	if bad > 10 {
		t.Errorf("%s: %d mismatching fields in all", what, bad)
	}
}

func loadKernelExpect(t *testing.T, path string) *kernelExpect {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var k kernelExpect
	if err := d.Decode(&k); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &k
}

// TestKernelCorpus checks the decoders against the expected *.kernel.json
// files of the shared corpus (figures from two independent readers).
func TestKernelCorpus(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		path := tr.Expected + ".kernel.json"
		if _, err := os.Stat(path); err != nil {
			continue
		}
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			want := loadKernelExpect(t, path)
			got := collectKernelFacts(t, tr)

			undecoded := 0
			for _, n := range want.ProcessesSummary.Undecoded {
				undecoded += n
			}
			if len(got.processes) != want.ProcessesSummary.Total+undecoded {
				t.Errorf("process records: %d, want %d (+%d the oracles left undecoded)", len(got.processes), want.ProcessesSummary.Total, undecoded)
			}
			compareEntries(t, "processes", want.Processes, withoutUndecoded(got.processes, want.ProcessesSummary.Undecoded))

			undecoded = 0
			for _, n := range want.ImagesSummary.Undecoded {
				undecoded += n
			}
			if len(got.images) != want.ImagesSummary.Total+undecoded {
				t.Errorf("image records: %d, want %d", len(got.images), want.ImagesSummary.Total+undecoded)
			}
			compareEntries(t, "images", want.Images, got.images)

			if len(got.imageIDs) != want.ImageIDsSummary.RSDS {
				t.Errorf("DbgID_RSDS records: %d, want %d", len(got.imageIDs), want.ImageIDsSummary.RSDS)
			}
			if len(got.imageIDsIL) != want.ImageIDsSummary.ILRSDS {
				t.Errorf("DbgID_ILRSDS records: %d, want %d", len(got.imageIDsIL), want.ImageIDsSummary.ILRSDS)
			}
			compareEntries(t, "image_ids", want.ImageIDs, got.imageIDs)
			compareEntries(t, "image_ids_il", want.ImageIDsIL, got.imageIDsIL)

			if got.stackEvents != want.Stacks.StackEvents {
				t.Errorf("Stack records: %d, want %d", got.stackEvents, want.Stacks.StackEvents)
			}
			for name, n := range want.Stacks.KeyEvents {
				if got.keyEvents[name] != n {
					t.Errorf("StackWalk/%s records: %d, want %d", name, got.keyEvents[name], n)
				}
			}
			for name, n := range got.keyEvents {
				if want.Stacks.KeyEvents[name] == 0 {
					t.Errorf("StackWalk/%s records: %d, want none", name, n)
				}
			}
			compareEntries(t, "first_stacks", want.Stacks.FirstStacks, got.firstStacks)
			if !maps.Equal(got.threadOps, want.Threads.ByOpcode) && (len(got.threadOps) > 0 || len(want.Threads.ByOpcode) > 0) {
				t.Errorf("threads.by_opcode = %v, want %v", got.threadOps, want.Threads.ByOpcode)
			}
			if len(got.threadPIDs) != len(want.Threads.ByPID) {
				t.Errorf("threads.by_pid: %d processes, want %d", len(got.threadPIDs), len(want.Threads.ByPID))
			}
			for _, w := range want.Threads.ByPID {
				if !maps.Equal(got.threadPIDs[w.PID], w.ByOpcode) {
					t.Errorf("threads.by_pid[%d] = %v, want %v", w.PID, got.threadPIDs[w.PID], w.ByOpcode)
				}
			}
			if len(want.FirstEvents) > 0 {
				compareEntries(t, "first_events", want.FirstEvents, got.firstEvents)
			}
		})
	}
}

// withoutUndecoded drops the process records of the (hook, version) pairs
// that the expected file lists as decoded by neither oracle, such as
// "0327 v5" (Defunct version 5 in files only snail reads).
func withoutUndecoded(list []map[string]any, undecoded map[string]int) []map[string]any {
	if len(undecoded) == 0 {
		return list
	}
	ops := map[string]uint8{"Start": 1, "End": 2, "DCStart": 3, "DCEnd": 4, "Defunct": 39}
	var out []map[string]any
	for _, e := range list {
		key := fmt.Sprintf("03%02x v%d", ops[e["event"].(string)], e["version"])
		if undecoded[key] > 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// stacksExpect is the part of an expected *.stacks.json file checked here.
type stacksExpect struct {
	ImageRecords    map[string]int `json:"image_records"`
	ProcessRecords  map[string]int `json:"process_records"`
	ImageVersions   map[string]int `json:"image_versions"`
	ProcessVersions map[string]int `json:"process_versions"`
	StackRecords    map[string]int `json:"stack_records"`
	KeyDefinitions  map[string]int `json:"key_definitions"`
	Processes       []struct {
		PID         uint32 `json:"pid"`
		Image       string `json:"image_file_name"`
		WOW64       bool   `json:"wow64"`
		WOW64Source string `json:"wow64_source"`
	} `json:"processes"`
	FirstStacks []struct {
		Record          string `json:"record"`
		Timestamp       int64  `json:"timestamp"`
		RecordTimestamp int64  `json:"record_timestamp"`
		PID             uint32 `json:"pid"`
		TID             uint32 `json:"tid"`
		CPU             uint16 `json:"cpu"`
		Frames          []string
	} `json:"first_stacks"`
}

// TestStacksCorpus checks record counts, process WOW64 flags and the first
// Stack records against the expected *.stacks.json files (an independent
// stack reader; the only oracle for the Windows 7 PerfView trace).
func TestStacksCorpus(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		path := tr.Expected + ".stacks.json"
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			var want stacksExpect
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			r, err := etw.Open(tr.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			images, imageVers := map[string]int{}, map[string]int{}
			procs, procVers := map[string]int{}, map[string]int{}
			stackRecs, keyDefs := map[string]int{}, map[string]int{}
			wow := map[uint32]bool{}
			type stackRec struct {
				ts, rts int64
				pid     etw.PID
				tid     etw.TID
				cpu     uint16
				n       int
			}
			var stacks []stackRec
			for ev, err := range r.All() {
				if err != nil {
					if errors.Is(err, etw.ErrUnsupportedCompression) {
						t.Skipf("reader cannot decompress this trace yet: %v", err)
					}
					t.Fatalf("ReadEvent: %v", err)
				}
				kind := ev.Kind()
				switch {
				case kind == "Image/Load" || kind == "Image/UnLoad" || kind == "Image/DCStart" || kind == "Image/DCEnd":
					im, err := etw.DecodeImage(ev)
					if err != nil {
						t.Fatal(err)
					}
					images[imageEventNames[im.Opcode]]++
					imageVers[fmt.Sprint(ev.Version)]++
				case kind == "Process/Start" || kind == "Process/End" || kind == "Process/DCStart" ||
					kind == "Process/DCEnd" || kind == "Process/Defunct":
					p, err := etw.DecodeProcess(ev)
					if err != nil {
						t.Fatal(err)
					}
					procs[strings.TrimPrefix(kind, "Process/")]++
					procVers[fmt.Sprint(ev.Version)]++
					if p.IsWOW64() {
						wow[uint32(p.ProcessID)] = true
					}
				case kind == "StackWalk/Stack":
					s, err := etw.DecodeStack(ev)
					if err != nil {
						t.Fatal(err)
					}
					stackRecs["Stack"]++
					stacks = append(stacks, stackRec{s.EventTimeStamp, ev.Timestamp, s.Process, s.Thread, ev.Processor, s.Len()})
				case kind == "StackWalk/StackKeyKernel" || kind == "StackWalk/StackKeyUser":
					stackRecs[strings.TrimPrefix(kind, "StackWalk/")]++
				case strings.HasPrefix(kind, "StackWalk/Key"):
					keyDefs[strings.TrimPrefix(kind, "StackWalk/")]++
				}
			}
			eq := func(what string, got, want map[string]int) {
				for k, n := range want {
					if got[k] != n {
						t.Errorf("%s[%s] = %d, want %d", what, k, got[k], n)
					}
				}
				for k, n := range got {
					if _, ok := want[k]; !ok {
						t.Errorf("%s[%s] = %d, want none", what, k, n)
					}
				}
			}
			eq("image_records", images, want.ImageRecords)
			eq("image_versions", imageVers, want.ImageVersions)
			eq("process_records", procs, want.ProcessRecords)
			eq("process_versions", procVers, want.ProcessVersions)
			for k := range want.StackRecords {
				if stackRecs[k] != want.StackRecords[k] {
					t.Errorf("stack_records[%s] = %d, want %d", k, stackRecs[k], want.StackRecords[k])
				}
			}
			for k := range want.KeyDefinitions {
				if keyDefs[k] != want.KeyDefinitions[k] {
					t.Errorf("key_definitions[%s] = %d, want %d", k, keyDefs[k], want.KeyDefinitions[k])
				}
			}
			for _, p := range want.Processes {
				if p.WOW64Source == "flags" && wow[p.PID] != p.WOW64 {
					t.Errorf("process %d (%s): IsWOW64 = %v, want %v", p.PID, p.Image, wow[p.PID], p.WOW64)
				}
			}
			// first_stacks is in record-timestamp order and also lists
			// resolved key references; compare its plain Stack records.
			sort.SliceStable(stacks, func(i, j int) bool { return stacks[i].rts < stacks[j].rts })
			i := 0
			for _, w := range want.FirstStacks {
				if w.Record != "Stack" {
					continue
				}
				for i < len(stacks) && stacks[i].rts < w.RecordTimestamp {
					i++
				}
				if i >= len(stacks) {
					t.Fatalf("first_stacks: no Stack record at %d", w.RecordTimestamp)
				}
				s := stacks[i]
				if s.rts != w.RecordTimestamp || s.ts != w.Timestamp || uint32(s.pid) != w.PID || uint32(s.tid) != w.TID || s.cpu != w.CPU || s.n != len(w.Frames) {
					t.Errorf("first_stacks at %d: got %+v, want %+v", w.RecordTimestamp, s, w)
				}
				i++
			}
		})
	}
}

// TestHeaderFields decodes the logfile header record of every corpus trace
// with the layout table and compares it with the reader's parse of the
// same record.
func TestHeaderFields(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		t.Run(tr.Name, func(t *testing.T) {
			r, err := etw.Open(tr.Path)
			if err != nil {
				t.Skip(err) // bad/ files and the like
			}
			defer r.Close()
			ev := r.HeaderEvent()
			if ev == nil || ev.Kind() != "EventTrace/Header" {
				t.Fatalf("header event kind %q", ev.Kind())
			}
			fields, err := etw.DecodeFields(ev)
			if err != nil {
				t.Fatal(err)
			}
			h := r.Header()
			want := map[string]string{
				"BufferSize": fmt.Sprint(h.BufferSize), "ProviderVersion": fmt.Sprint(h.ProviderVersion),
				"NumberOfProcessors": fmt.Sprint(h.NumberOfProcessors), "EndTime": fmt.Sprint(h.EndTime),
				"PointerSize": fmt.Sprint(h.PointerSize), "BootTime": fmt.Sprint(h.BootTime),
				"PerfFreq": fmt.Sprint(h.PerfFreq), "StartTime": fmt.Sprint(h.StartTime),
				"ReservedFlags": fmt.Sprint(h.ReservedFlags), "LogFileMode": fmt.Sprint(h.LogFileMode),
				"SessionNameString": h.LoggerName,
			}
			seen := 0
			for _, f := range fields {
				if w, ok := want[f.Name]; ok {
					seen++
					if f.String() != w {
						t.Errorf("%s = %s, reader says %s", f.Name, f.String(), w)
					}
				}
			}
			if seen < len(want)-1 {
				t.Errorf("only %d of %d header fields decoded", seen, len(want))
			}
		})
	}
}
