package etw_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
)

var update = flag.Bool("update", false, "rewrite golden files")

// renderEvent renders the decoded fields of ev as one line:
// "ts kind vN: Name=value ...".
func renderEvent(t *testing.T, ev *etw.Event) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(strconv.FormatInt(ev.Timestamp, 10))
	b.WriteString(" ")
	b.WriteString(ev.Kind())
	b.WriteString(" v")
	b.WriteString(strconv.Itoa(int(ev.Version)))
	b.WriteString(":")
	fields, err := etw.DecodeFields(ev)
	if err != nil {
		b.WriteString(" error: " + err.Error())
		return b.String()
	}
	for _, f := range fields {
		b.WriteString(" ")
		b.WriteString(f.Name)
		b.WriteString("=")
		b.WriteString(strconv.Quote(f.String()))
	}
	return b.String()
}

// TestSawbuckGolden decodes the sawbuck test traces (Image versions 0-2 and
// Process versions 1-3, written by a 32-bit session) and compares the
// result with golden files. The "_64_" traces hold 64-bit payloads under
// FULL_HEADER32 records in a trace whose logfile header says PointerSize 4;
// sawbuck's own parser is told the bitness by its caller, and so is this
// test: it relabels those records as FULL_HEADER64 before decoding.
func TestSawbuckGolden(t *testing.T) {
	n := 0
	for _, tr := range corpus.Traces(t) {
		if !strings.HasPrefix(tr.Name, "google__sawbuck__") {
			continue
		}
		n++
		t.Run(tr.Name, func(t *testing.T) {
			wide := strings.Contains(tr.Name, "_64_")
			r, err := etw.Open(tr.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.SetOrder(etw.FileOrder); err != nil {
				t.Fatal(err)
			}
			var lines []string
			for ev, err := range r.All() {
				if err != nil {
					t.Fatalf("ReadEvent: %v", err)
				}
				if ev.Kind() == "" || ev.Kind() == "EventTrace/Header" {
					continue
				}
				if ev.Header != etw.HeaderFull32 {
					t.Fatalf("unexpected header %v", ev.Header)
				}
				if wide {
					ev.Header = etw.HeaderFull64
				}
				checkTypedAgrees(t, ev)
				lines = append(lines, renderEvent(t, ev))
			}
			if len(lines) == 0 {
				t.Fatal("no decodable events")
			}
			golden := filepath.Join("testdata", "golden", "sawbuck", strings.TrimSuffix(tr.Name, ".etl")+".golden")
			got := strings.Join(lines, "\n") + "\n"
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("decoded events differ from %s:\n%s", golden, firstDiff(got, string(want)))
			}
		})
	}
	if n == 0 {
		t.Skip("no sawbuck traces in the corpus")
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got  " + gl + "\n want " + wl
		}
	}
	return ""
}

// checkTypedAgrees runs the typed decoder of ev's class and fails when it
// errors where DecodeFields does not.
func checkTypedAgrees(t *testing.T, ev *etw.Event) {
	t.Helper()
	_, ferr := etw.DecodeFields(ev)
	var err error
	switch {
	case strings.HasPrefix(ev.Kind(), "Image/"):
		_, err = etw.DecodeImage(ev)
	case strings.HasPrefix(ev.Kind(), "Process/"):
		_, err = etw.DecodeProcess(ev)
	case strings.HasPrefix(ev.Kind(), "Thread/"):
		_, err = etw.DecodeThread(ev)
	default:
		return
	}
	if (err == nil) != (ferr == nil) {
		t.Errorf("%s: typed error %v, table error %v", ev.Kind(), err, ferr)
	}
}

// TestSawbuckValues spells out a few values of the sawbuck traces, read
// from their bytes, so that the golden files are anchored.
func TestSawbuckValues(t *testing.T) {
	first := func(t *testing.T, name string, wide bool, kind string) *etw.Event {
		tr := corpus.Find(t, name)
		r, err := etw.Open(tr.Path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		r.SetOrder(etw.FileOrder)
		for ev, err := range r.All() {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind() == kind {
				if wide {
					ev.Header = etw.HeaderFull64
				}
				return ev.Clone()
			}
		}
		t.Fatalf("no %s event", kind)
		return nil
	}
	const testProgram = `C:\code\sawbuck\src\sawbuck\Debug\test_program.exe`
	for _, c := range []struct {
		name string
		wide bool
		want etw.Image
	}{
		{"image_data_32_v0", false, etw.Image{Opcode: 2, ImageBase: 0x1160000, ImageSize: 0x19e000, FileName: testProgram}},
		{"image_data_64_v0", true, etw.Image{Opcode: 2, ImageBase: 0x1160000, ImageSize: 0x19e000, FileName: testProgram}},
		{"image_data_32_v1", false, etw.Image{Opcode: 2, ImageBase: 0x1160000, ImageSize: 0x19e000, ProcessID: 0x1ddc, FileName: testProgram}},
		// sawbuck's generator wrote the PE time stamp where the layout has
		// ImageChecksum and 0xcafebabe where it has TimeDateStamp; the
		// decoder reports what the layout implies.
		{"image_data_32_v2", false, etw.Image{Opcode: 2, ImageBase: 0x1160000, ImageSize: 0x19e000, ProcessID: 0x1ddc,
			ImageChecksum: 0x4ba26867, TimeDateStamp: 0xcafebabe, FileName: testProgram}},
		{"image_data_64_v2", true, etw.Image{Opcode: 2, ImageBase: 0x1160000, ImageSize: 0x19e000, ProcessID: 0x1ddc,
			ImageChecksum: 0x4ba26867, TimeDateStamp: 0xcafebabe, FileName: testProgram}},
	} {
		t.Run(c.name, func(t *testing.T) {
			im, err := etw.DecodeImage(first(t, c.name, c.wide, "Image/UnLoad"))
			if err != nil {
				t.Fatal(err)
			}
			if im != c.want {
				t.Errorf("got  %+v\nwant %+v", im, c.want)
			}
		})
	}
	const sid = "S-1-5-21-753675414-103939432-3550797041-1000"
	for _, c := range []struct {
		name string
		wide bool
		want etw.Process
	}{
		{"process_data_32_v1", false, etw.Process{Opcode: 1, ProcessID: 0x6f0, ParentID: 0x3dc, SessionID: 1, ExitStatus: 259, UserSID: sid, ImageFileName: "notepad.exe"}},
		{"process_data_32_v2", false, etw.Process{Opcode: 1, ProcessID: 0x6f0, ParentID: 0x3dc, SessionID: 1, ExitStatus: 259, UserSID: sid, ImageFileName: "notepad.exe",
			CommandLine: `"C:\Windows\system32\notepad.exe" `}},
		{"process_data_32_v3", false, etw.Process{Opcode: 1, ProcessID: 0x6f0, ParentID: 0x3dc, SessionID: 1, ExitStatus: 259, UserSID: sid, ImageFileName: "notepad.exe",
			CommandLine: `"C:\Windows\system32\notepad.exe" `}},
		{"process_data_64_v2", true, etw.Process{Opcode: 1, ProcessID: 0x6f0, ParentID: 0x3dc, SessionID: 1, ExitStatus: 259, UserSID: sid, ImageFileName: "notepad.exe",
			CommandLine: `"C:\Windows\system32\notepad.exe" `}},
		{"process_data_64_v3", true, etw.Process{Opcode: 1, ProcessID: 0x6f0, ParentID: 0x3dc, SessionID: 1, ExitStatus: 259, UserSID: sid, ImageFileName: "notepad.exe",
			CommandLine: `"C:\Windows\system32\notepad.exe" `}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := etw.DecodeProcess(first(t, c.name, c.wide, "Process/Start"))
			if err != nil {
				t.Fatal(err)
			}
			if p != c.want {
				t.Errorf("got  %+v\nwant %+v", p, c.want)
			}
		})
	}
}
