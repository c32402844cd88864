// Package pooltag describes pool tags: it reads pooltag.txt, the tag list
// that ships with the Debugging Tools for Windows, and finds which image
// files hold a tag's four bytes as a literal (how an unknown tag's owner is
// usually found).
//
// pooltag.txt has one tag a line, "Tag  - binary - description", where the
// binary field names the driver or component ("<unknown>" when unknown,
// "nt!io" for a part of the kernel); lines starting with "//" or "rem" are
// comments. The file is not shipped with etwkit.
package pooltag

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Env is the environment variable naming a pooltag.txt when no file is
// given.
const Env = "ETWKIT_POOLTAG"

// Entry is what pooltag.txt says about one tag.
type Entry struct {
	// Tag is the tag as four characters, padded with spaces ("Irp ").
	Tag string
	// Binary is the driver or component field ("<unknown>", "nt!io",
	// "tcpip.sys"); may be empty.
	Binary string
	// Description is the text after the binary field.
	Description string
}

// String formats the entry as "description (binary)", leaving out an
// empty or unknown binary.
func (e Entry) String() string {
	switch {
	case e.Binary == "" || strings.EqualFold(e.Binary, "<unknown>"):
		return e.Description
	case e.Description == "":
		return e.Binary
	}
	return e.Description + " (" + e.Binary + ")"
}

// Table maps tags to their entries.
type Table struct {
	// Path is the file the table was read from ("" for Parse).
	Path    string
	entries map[string]Entry
}

// Len returns the number of tags in the table.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Lookup returns the entry of a tag, given as written in traces or with
// its trailing spaces trimmed. Tags compare exactly (pool tags are case
// sensitive). A nil table finds nothing.
func (t *Table) Lookup(tag string) (Entry, bool) {
	if t == nil {
		return Entry{}, false
	}
	e, ok := t.entries[pad(tag)]
	return e, ok
}

// Describe returns the entry's String for tag, or "".
func (t *Table) Describe(tag string) string {
	if e, ok := t.Lookup(tag); ok {
		return e.String()
	}
	return ""
}

func pad(tag string) string {
	tag = strings.TrimRight(tag, " ")
	for len(tag) < 4 {
		tag += " "
	}
	return tag
}

// MaxLine is the longest line Parse accepts; longer lines are an error.
const MaxLine = 64 << 10

// ErrFormat is wrapped by the errors of Parse for lines it cannot read.
var ErrFormat = errors.New("pooltag: not a pooltag.txt line")

// Parse reads a pooltag.txt. Blank lines and comments are skipped; a line
// without the " - " separator after a tag of at most four characters is
// an error naming its line number. When a tag appears twice, the first
// entry wins (pooltag.txt lists the kernel's own use of a tag first).
func Parse(r io.Reader) (*Table, error) {
	t := &Table{entries: map[string]Entry{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r\n")
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		trimmed := strings.TrimSpace(line)
		low := strings.ToLower(trimmed)
		if trimmed == "" || strings.HasPrefix(trimmed, "//") || low == "rem" || strings.HasPrefix(low, "rem ") || strings.HasPrefix(trimmed, ";") {
			continue
		}
		tag, rest, ok := strings.Cut(line, " - ")
		tag = strings.TrimRight(tag, " \t")
		if !ok || tag == "" || len(tag) > 4 {
			return nil, fmt.Errorf("%w: line %d: %q", ErrFormat, n, clip(line))
		}
		e := Entry{Tag: pad(tag)}
		if bin, desc, ok := strings.Cut(rest, " - "); ok {
			e.Binary, e.Description = strings.TrimSpace(bin), strings.TrimSpace(desc)
		} else {
			e.Description = strings.TrimSpace(rest)
		}
		if _, dup := t.entries[e.Tag]; !dup {
			t.entries[e.Tag] = e
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pooltag: line %d: %w", n+1, err)
	}
	return t, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ReadFile reads the pooltag.txt at path.
func ReadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// DefaultPaths returns the places the Debugging Tools for Windows install
// pooltag.txt (their triage folder, for each architecture, under the
// Windows Kits and the older standalone install folders), most recent
// first. It is empty on other systems.
func DefaultPaths() []string {
	if runtime.GOOS != "windows" {
		return nil
	}
	var out []string
	for _, env := range []string{"ProgramFiles(x86)", "ProgramFiles", "ProgramW6432"} {
		root := os.Getenv(env)
		if root == "" {
			continue
		}
		for _, arch := range []string{"x64", "arm64", "x86"} {
			out = append(out, filepath.Join(root, "Windows Kits", "10", "Debuggers", arch, "triage", "pooltag.txt"))
		}
		for _, arch := range []string{"x64", "x86"} {
			out = append(out, filepath.Join(root, "Windows Kits", "8.1", "Debuggers", arch, "triage", "pooltag.txt"))
		}
		out = append(out,
			filepath.Join(root, "Debugging Tools for Windows (x64)", "triage", "pooltag.txt"),
			filepath.Join(root, "Debugging Tools for Windows (x86)", "triage", "pooltag.txt"))
	}
	return out
}

// Load finds and reads a pooltag.txt: the file named by flag when it is
// not empty, else the one named by $ETWKIT_POOLTAG, else the first of
// [DefaultPaths] that exists. A file named by the flag or the variable
// must be readable; when none is named and none is installed, Load returns
// a nil table and no error (descriptions are then unknown).
func Load(flag string) (*Table, error) {
	if flag != "" {
		return ReadFile(flag)
	}
	if env := os.Getenv(Env); env != "" {
		t, err := ReadFile(env)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", Env, err)
		}
		return t, nil
	}
	for _, p := range DefaultPaths() {
		if _, err := os.Stat(p); err == nil {
			return ReadFile(p)
		}
	}
	return nil, nil
}

// chunk is the read size of Contains.
const chunk = 64 << 10

// Contains reports whether the file at path holds the tag's four bytes,
// as written ("Irp " is 49 72 70 20: the byte order of the u32 immediate
// that code passes to the allocator). It reads the file in chunks, so
// memory stays bounded whatever its size.
func Contains(path, tag string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return ReaderContains(f, tag)
}

// ReaderContains is Contains on a reader.
func ReaderContains(r io.Reader, tag string) (bool, error) {
	want := []byte(pad(tag))
	if len(want) != 4 {
		return false, fmt.Errorf("pooltag: tag %q is not four bytes", tag)
	}
	buf := make([]byte, chunk+3)
	keep := 0
	for {
		n, err := io.ReadFull(r, buf[keep:])
		if bytes.Contains(buf[:keep+n], want) {
			return true, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		// Keep the last three bytes: a match may straddle two reads.
		keep = copy(buf, buf[keep+n-3:keep+n])
	}
}
