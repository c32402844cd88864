package stacks

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// callSiteStack picks, from llvm-symbolizer's goldens, addresses inside
// functions whose line differs from the line of the byte before (so that
// the return-address line and the call-site line tell apart), and returns
// them with the golden lines of the address (innermost frame) and of the
// address minus one (every other frame).
func callSiteStack(t *testing.T, image string, n int) (rvas []uint64, want []string) {
	t.Helper()
	g := readGolden(t, image)
	byRVA := map[uint64]golden{}
	for _, x := range g {
		byRVA[x.rva] = x
	}
	ok := func(l string) bool { return !strings.HasPrefix(l, "??") && !strings.HasSuffix(l, ":0") }
	for _, x := range g {
		prev, found := byRVA[x.rva-1]
		if !found || x.name == "??" || prev.name != x.name || !ok(x.line) || !ok(prev.line) || prev.line == x.line {
			continue
		}
		rvas = append(rvas, x.rva)
		if len(rvas) == 1 {
			want = append(want, x.line)
		} else {
			want = append(want, prev.line)
		}
		if len(rvas) == n {
			break
		}
	}
	require.Len(t, rvas, n, "%s: not enough statement boundaries", image)
	return rvas, want
}

func resolveAt(t *testing.T, image string, rvas []uint64) []Frame {
	t.Helper()
	m := testModule(t, image, true)
	m.PID = 42
	ms := NewModules(8)
	ms.space(42).add(m)
	s, err := NewPathSymbolizer(symbolsDir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	addrs := make([]uint64, len(rvas))
	for i, rva := range rvas {
		addrs[i] = m.Base + rva
	}
	r := &Resolver{Modules: ms, Symbols: s, PointerSize: 8}
	return r.Resolve(42, 100, addrs)
}

// Every frame but the innermost is a return address: its line is the line
// of the call, the line of the address minus one.
func TestCallSiteLines(t *testing.T) {
	for _, image := range []string{"x64dll.dll", "driver.sys", "cppdll.dll"} {
		t.Run(image, func(t *testing.T) {
			rvas, want := callSiteStack(t, image, 4)
			frames := resolveAt(t, image, rvas)
			var got []string
			for i := range frames {
				got = append(got, frames[i].Line())
			}
			assert.Equal(t, want, got)
		})
	}
}

// The same against llvm-symbolizer itself, run on the test images, when it
// is installed.
func TestCallSiteLinesLLVMSymbolizer(t *testing.T) {
	sym, err := exec.LookPath("llvm-symbolizer")
	if err != nil {
		t.Skip("llvm-symbolizer not installed (Debian: apt-get install llvm); the goldens check the same in TestCallSiteLines")
	}
	for _, image := range []string{"x64dll.dll", "driver.sys"} {
		t.Run(image, func(t *testing.T) {
			rvas, _ := callSiteStack(t, image, 4)
			frames := resolveAt(t, image, rvas)
			var in strings.Builder
			for i, rva := range rvas {
				if i > 0 {
					rva-- // a return address: ask for the call
				}
				in.WriteString("0x" + strconv.FormatUint(rva, 16) + "\n")
			}
			cmd := exec.Command(sym, "--obj="+filepath.Join(symbolsDir, image), "--relative-address", "--output-style=GNU", "--no-inlines")
			cmd.Stdin = strings.NewReader(in.String())
			out, err := cmd.Output()
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			require.Len(t, lines, 2*len(rvas))
			for i := range frames {
				assert.Equal(t, lines[2*i+1], frames[i].Line(), "frame %d at +0x%x", i, rvas[i])
			}
		})
	}
}

// fakeSymbolizer names every address f and gives it the line rva; it has
// no Line method, so the resolver asks Symbolize for the call site.
type fakeSymbolizer struct{}

func (fakeSymbolizer) Symbolize(m *Module, rva uint64) (Symbol, bool) {
	return Symbol{Name: "f", File: "f.c", Line: int(rva)}, true
}

func TestCallSiteLinesWithoutLineSymbolizer(t *testing.T) {
	ms := NewModules(8)
	ms.space(42).add(&Module{PID: 42, Name: "m.dll", Base: 0x10000000, Size: 0x10000, Loaded: -Always, Unloaded: Always})
	r := &Resolver{Modules: ms, Symbols: fakeSymbolizer{}, PointerSize: 8}
	frames := r.Resolve(42, 100, []uint64{0x10000100, 0x10000200, 0x10000000})
	require.Len(t, frames, 3)
	assert.Equal(t, "f.c:256", frames[0].Line(), "the innermost frame keeps its own line")
	assert.Equal(t, "f.c:511", frames[1].Line(), "a return address gives the line of the call")
	assert.Equal(t, "", frames[2].Line(), "no byte before the module's start")
}
