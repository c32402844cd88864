package leak

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/export"
)

var pprofPath struct {
	once sync.Once
	path string
	err  error
}

// pprofBinary finds (building it once into the Go build cache when the
// toolchain builds tools on demand) the pprof binary of the toolchain, or
// skips.
func pprofBinary(t *testing.T) string {
	t.Helper()
	pprofPath.once.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			pprofPath.err = err
			return
		}
		out, err := exec.Command(gobin, "tool", "-n", "pprof").Output()
		if err != nil {
			pprofPath.err = err
			return
		}
		pprofPath.path = strings.TrimSpace(string(out))
	})
	if pprofPath.err != nil || pprofPath.path == "" {
		t.Skipf("no go tool pprof: %v", pprofPath.err)
	}
	return pprofPath.path
}

// pprof runs go tool pprof with an empty HOME and binary path, so nothing
// local can be found by accident, and fails on symbolization warnings.
func pprof(t *testing.T, args ...string) string {
	t.Helper()
	empty := t.TempDir()
	cmd := exec.Command(pprofBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+empty, "PPROF_BINARY_PATH="+empty, "PPROF_TMPDIR="+empty)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), "pprof %v: %s", args, stderr.String())
	for _, bad := range []string{"symbolization failed", "binary filenames not available", "unable to locate"} {
		assert.NotContains(t, strings.ToLower(stderr.String()), bad, "pprof %v", args)
	}
	return out.String()
}

func writeProfileFile(t *testing.T, p *profile.Profile, name string) string {
	t.Helper()
	require.NoError(t, p.CheckValid())
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, export.Write(f, p))
	require.NoError(t, f.Close())
	// Round trip through the parser.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	q, err := profile.ParseData(b)
	require.NoError(t, err)
	require.NoError(t, q.CheckValid())
	return path
}

// TestIrpLeakInPprof exports the fixture's outstanding allocations and
// reads them with the real go tool pprof.
func TestIrpLeakInPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	res, err := Run(irpLeak, Options{})
	require.NoError(t, err)
	p, err := res.Profile("irp-leak.etl", export.Options{})
	require.NoError(t, err)
	path := writeProfileFile(t, p, "leak.pb.gz")

	top := pprof(t, "-top", path)
	assert.Contains(t, top, "Type: inuse_space")
	lines := strings.Split(top, "\n")
	first := ""
	for i, l := range lines {
		if strings.Contains(l, "flat%") && i+1 < len(lines) {
			first = lines[i+1]
			break
		}
	}
	assert.Contains(t, first, "ntoskrnl.exe+0x3c1a5e", "the allocating frame of the leak is first by inuse_space")

	focus := pprof(t, "-top", "-unit=B", "-tagfocus=tag=Irp", path)
	assert.Contains(t, focus, "159744B", "only the Irp tag's 159,744 bytes are kept")
	assert.NotContains(t, focus, "KernelBase.dll+0x4a0d3", "the Toke stack is gone")

	traces := pprof(t, "-traces", path)
	assert.Contains(t, traces, export.WOW64Transition)
	assert.Contains(t, traces, "wow64cpu.dll+0x")
	assert.Contains(t, traces, "ReadLeak.exe+0x")

	alloc := pprof(t, "-top", "-sample_index=alloc_space", path)
	assert.Contains(t, alloc, "Type: alloc_space")

	// The first and second half of the trace: outstanding at 5 s and at
	// the end; the difference is the growth of the second half.
	half, err := Run(irpLeak, Options{Window: [2]float64{0, 5}, HasWindow: true})
	require.NoError(t, err)
	hp, err := half.Profile("irp-leak.etl (0-5 s)", export.Options{})
	require.NoError(t, err)
	base := writeProfileFile(t, hp, "first-half.pb.gz")
	diff := pprof(t, "-top", "-unit=B", "-diff_base="+base, path)
	assert.Regexp(t, `\b[1-9][0-9]{4,}B\b`, diff, "the second half adds tens of kilobytes")
	assert.Contains(t, diff, "ntoskrnl.exe+0x3c1a5e")

	g, err := res.GrowthProfile("irp-leak.etl", export.Options{})
	require.NoError(t, err)
	growth := pprof(t, "-top", "-unit=B", writeProfileFile(t, g, "growth.pb.gz"))
	assert.Contains(t, growth, "growth_space")
}
