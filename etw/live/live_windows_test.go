//go:build windows

package live

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"

	"github.com/etwkit/etwkit/etw"
)

// The tests in this file start real kernel sessions. They run only with
// ETWKIT_LIVE=1 on a Windows machine (the GitHub Actions workflow
// .github/workflows/live-windows.yml runs them on windows-latest, an
// elevated VM: containers see no pool events). Every session gets a unique
// name and is aborted when a test fails, so a failing run leaves nothing
// behind; the workflow stops etwkit-* sessions afterwards anyway.

func needLive(t *testing.T) {
	t.Helper()
	if os.Getenv("ETWKIT_LIVE") != "1" {
		t.Skip("live kernel session tests: set ETWKIT_LIVE=1 (Windows, elevated prompt)")
	}
}

func needElevated(t *testing.T) {
	t.Helper()
	needLive(t)
	if !windows.GetCurrentProcessToken().IsElevated() {
		t.Skip("not elevated: kernel sessions need an administrator (run the prompt as administrator)")
	}
}

func qpcNow() int64 {
	var v int64
	procQPC.Call(uintptr(unsafe.Pointer(&v)))
	return v
}

// liveAlloc is a PoolAlloc event of the test process, copied out of the
// session.
type liveAlloc struct {
	ts  int64
	tid etw.TID
	tag etw.PoolTag
}

type stackKey struct {
	ts  int64
	tid etw.TID
}

// liveRun is what the reader collected.
type liveRun struct {
	allocs []liveAlloc
	stacks map[stackKey][]uint64 // StackProcess == the test's pid
	images []imageInfo           // the test process's images
	tags   map[etw.PoolTag]int   // every process, protected bit cleared
	events int
	err    error
}

// collect reads the session to its end, keeping what the assertions need.
func collect(s *Session, pid etw.PID, started chan<- struct{}) *liveRun {
	r := &liveRun{stacks: map[stackKey][]uint64{}, tags: map[etw.PoolTag]int{}}
	var info imageInfo
	first := true
	for ev, err := range s.All() {
		if err != nil {
			r.err = err
			break
		}
		r.events++
		if first {
			close(started)
			first = false
		}
		switch {
		case parseImage(ev, &info):
			if etw.PID(info.pid) == pid {
				r.images = append(r.images, info)
			}
		case ev.Group() == etw.GroupStackWalk:
			st, err := etw.DecodeStack(ev)
			if err == nil && st.Process == pid {
				r.stacks[stackKey{st.EventTimeStamp, st.Thread}] = st.AppendFrames(nil)
			}
		case ev.Group() == 0x0E:
			p, err := etw.DecodePool(ev)
			if err != nil || !p.IsAlloc() {
				continue
			}
			r.tags[etw.PoolTag(uint32(p.Tag)&^protectedTagBit)]++
			if ev.PID == pid {
				r.allocs = append(r.allocs, liveAlloc{ev.Timestamp, ev.TID, p.Tag})
			}
		}
	}
	if first {
		close(started)
	}
	return r
}

// fileWork creates, opens and closes n files: each create allocates pool
// (file objects, IRPs, name buffers) in the test process's context.
func fileWork(t *testing.T, dir string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		name := filepath.Join(dir, fmt.Sprintf("f%05d.tmp", i))
		require.NoError(t, os.WriteFile(name, []byte("etwkit"), 0o600))
		f, err := os.Open(name)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
}

// runLive starts a session with opts, does 2,000 file operations while a
// reader consumes it, closes it right after the last one and checks what
// arrived.
func runLive(t *testing.T, opts Options) (*Session, *liveRun) {
	t.Helper()
	needElevated(t)
	opts.StackWalk = true
	opts.Rundown = true
	opts.NoSignalHandler = true
	s, err := Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Abort() })
	t.Logf("session %q, stack walks: %q, kernel tag filter: %v, warnings: %q",
		s.Name(), s.Stats().StackWalk, s.Stats().KernelTagFilter, s.Warnings())

	pid := etw.PID(os.Getpid())
	started := make(chan struct{})
	done := make(chan *liveRun, 1)
	go func() { done <- collect(s, pid, started) }()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s of the start")
	}

	dir := t.TempDir()
	fileWork(t, dir, 0, 1800)
	lastStart := qpcNow()
	fileWork(t, dir, 1800, 200)
	lastEnd := qpcNow()
	// No pause: Close must deliver what the kernel still holds.
	require.NoError(t, s.Close())
	var r *liveRun
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the reader did not end within 60 s of Close")
	}
	require.NoError(t, r.err)
	st := s.Stats()
	t.Logf("%d events, %d allocations of the test process, %d stacks of it, %d of its images; stats %+v",
		r.events, len(r.allocs), len(r.stacks), len(r.images), st)

	require.NotEmpty(t, r.allocs, "PoolAlloc events of the test process")
	tail := 0
	for _, a := range r.allocs {
		if a.ts >= lastStart && a.ts <= lastEnd+s.Clock().Ticks(time.Second) {
			tail++
		}
	}
	assert.Positive(t, tail, "allocations of the last 200 files, logged right before Close, arrived")
	assert.Zero(t, st.DroppedOnClose, "Close dropped nothing")
	assert.Zero(t, st.LostEvents+st.LostBuffers+st.RealTimeBuffersLost, "the kernel lost nothing")
	return s, r
}

// checkStacks: allocations carry stacks of the test process, and some
// stack reaches ntdll (NtCreateFile's system call stub) or the test binary.
func checkStacks(t *testing.T, s *Session, r *liveRun) {
	t.Helper()
	require.NotEqual(t, StackWalkNone, s.Stats().StackWalk, "stack walks were refused: %q", s.Warnings())
	with := 0
	for _, a := range r.allocs {
		if _, ok := r.stacks[stackKey{a.ts, a.tid}]; ok {
			with++
		}
	}
	assert.Positive(t, with, "allocations with a stack whose StackProcess is the test's pid")
	exe, _ := os.Executable()
	exeBase := strings.ToLower(filepath.Base(exe))
	var ranges [][2]uint64
	for _, im := range r.images {
		base := strings.ToLower(filepath.Base(strings.ReplaceAll(im.path, `\`, "/")))
		if base == "ntdll.dll" || base == exeBase {
			ranges = append(ranges, [2]uint64{im.base, im.base + im.size})
		}
	}
	require.NotEmpty(t, ranges, "image events of ntdll.dll or %s for the test process (rundown)", exeBase)
	reached := false
	for _, frames := range r.stacks {
		if slices.ContainsFunc(frames, func(f uint64) bool {
			return slices.ContainsFunc(ranges, func(rg [2]uint64) bool { return f >= rg[0] && f < rg[1] })
		}) {
			reached = true
			break
		}
	}
	assert.True(t, reached, "some stack reaches ntdll.dll or the test binary")
}

func TestLiveSessionStacks(t *testing.T) {
	s, r := runLive(t, Options{})
	checkStacks(t, s, r)
	assert.True(t, strings.HasPrefix(s.Name(), NamePrefix), s.Name())
	names, err := ListSessions()
	require.NoError(t, err)
	assert.NotContains(t, names, s.Name(), "Close stopped the session")
}

// TestLiveTagFilter: the pool tag filter goes in the StartTrace extension
// with the stack hooks; only file-object allocations ("File") come.
func TestLiveTagFilter(t *testing.T) {
	s, r := runLive(t, Options{PoolTags: []string{"File"}})
	checkStacks(t, s, r)
	for tag, n := range r.tags {
		assert.Equal(t, "File", tag.String(), "%d allocations of another tag came through", n)
	}
	t.Logf("kernel tag filter: %v", s.Stats().KernelTagFilter)
}

// TestLiveWildcardTag: "Fil*" matches "File" in the kernel and in user
// mode; nothing is dropped for not being compared exactly.
func TestLiveWildcardTag(t *testing.T) {
	_, r := runLive(t, Options{PoolTags: []string{"Fil*"}})
	require.NotEmpty(t, r.tags)
	for tag := range r.tags {
		assert.True(t, strings.HasPrefix(tag.String(), "Fil"), tag.String())
	}
}

// TestLiveKernelLogger runs the same as the NT Kernel Logger when it is
// free.
func TestLiveKernelLogger(t *testing.T) {
	needElevated(t)
	names, err := ListSessions()
	require.NoError(t, err)
	if slices.Contains(names, KernelLoggerName) {
		t.Skip("the NT Kernel Logger is in use by another tool")
	}
	s, r := runLive(t, Options{Name: KernelLoggerName})
	checkStacks(t, s, r)
}

// TestLiveSecondSessionIndependent: two sessions of one process run side
// by side; closing one leaves the other running.
func TestLiveSecondSessionIndependent(t *testing.T) {
	needElevated(t)
	a, err := Start(Options{NoSignalHandler: true})
	require.NoError(t, err)
	t.Cleanup(func() { a.Abort() })
	b, err := Start(Options{NoSignalHandler: true})
	require.NoError(t, err)
	t.Cleanup(func() { b.Abort() })
	assert.NotEqual(t, a.Name(), b.Name())
	_, err = Start(Options{Name: a.Name(), NoSignalHandler: true})
	assert.ErrorIs(t, err, ErrSessionExists, "Start does not take over a running session")
	require.NoError(t, a.Close())
	names, err := ListSessions()
	require.NoError(t, err)
	assert.Contains(t, names, b.Name())
	assert.NotContains(t, names, a.Name())
	require.NoError(t, StopSession(b.Name()), "stopped behind the session's back")
	assert.NoError(t, b.Close(), "Close after someone else stopped it (4201) is not an error")
	assert.ErrorIs(t, StopSession(b.Name()), ErrNoSession)
}

// TestLiveNotElevated: without elevation Start says what to do.
func TestLiveNotElevated(t *testing.T) {
	needLive(t)
	if windows.GetCurrentProcessToken().IsElevated() {
		t.Skip("elevated: run this test from a normal prompt")
	}
	_, err := Start(Options{StackWalk: true, NoSignalHandler: true})
	require.ErrorIs(t, err, ErrNotElevated)
	assert.Contains(t, err.Error(), "run elevated")
}
