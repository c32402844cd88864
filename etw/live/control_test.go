package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewSessionName(t *testing.T) {
	a, b := NewSessionName(), NewSessionName()
	assert.NotEqual(t, a, b, "two sessions of one process get two names")
	assert.True(t, strings.HasPrefix(a, NamePrefix), a)
	pid, ok := namePID(a)
	require.True(t, ok, a)
	assert.Equal(t, os.Getpid(), pid)
	assert.LessOrEqual(t, len(a), 32, "short enough for every ETW tool")
}

func TestNamePID(t *testing.T) {
	for name, want := range map[string]int{
		"etwkit-42-0000abcd": 42,
		"etwkit-1-ffffffff":  1,
	} {
		pid, ok := namePID(name)
		assert.True(t, ok, name)
		assert.Equal(t, want, pid, name)
	}
	for _, name := range []string{"etwkit", "etwkit-", "etwkit-42", "etwkit-42-abc", "etwkit-x-0000abcd",
		"etwkit-42-0000abcg", "xetwkit-42-0000abcd", "NT Kernel Logger", "etwkit-42-0000abcd-1"} {
		_, ok := namePID(name)
		assert.False(t, ok, name)
	}
}

func TestOrphans(t *testing.T) {
	alive := map[int]bool{10: true, 11: true}
	names := []string{
		"NT Kernel Logger", "EventLog-System", "etwkit-tool", // other tools' names
		"etwkit",             // the fixed name of earlier versions
		"etwkit-10-00000001", // a running poolwatch
		"etwkit-99-00000002", // a crashed one
		"etwkit-12-00000003", // ourselves
		"etwkit-98-0000000z", // not a generated name
	}
	got := orphans(names, 12, func(pid int) bool { return alive[pid] })
	assert.Equal(t, []string{"etwkit", "etwkit-99-00000002"}, got)
	assert.Empty(t, orphans(nil, 1, func(int) bool { return false }))
}

func TestStartPlan(t *testing.T) {
	// Everything in the extension first, then less and less; never an
	// attempt twice.
	assert.Equal(t, []startAttempt{
		{ext: true, stackExt: true, tagExt: true},
		{ext: true, stackExt: true},
		{ext: true},
		{},
	}, startPlan(true, 2))
	assert.Equal(t, []startAttempt{
		{ext: true, stackExt: true},
		{ext: true},
		{},
	}, startPlan(true, 0))
	assert.Equal(t, []startAttempt{
		{ext: true, tagExt: true},
		{ext: true},
		{},
	}, startPlan(false, 1))
	assert.Equal(t, []startAttempt{{ext: true}, {}}, startPlan(false, 0))
}

func TestRetryStart(t *testing.T) {
	assert.False(t, retryStart(nil))
	for _, e := range []syscall.Errno{5, 183, 1450} {
		assert.False(t, retryStart(fmt.Errorf("wrapped: %w", e)), "%d", uint(e))
	}
	for _, e := range []syscall.Errno{87, 50, 1004} { // invalid parameter, not supported, invalid flags
		assert.True(t, retryStart(e), "%d", uint(e))
	}
}

func TestStartError(t *testing.T) {
	err := startError("etwkit-1-00000001", syscall.Errno(5))
	assert.ErrorIs(t, err, ErrNotElevated)
	assert.ErrorIs(t, err, syscall.Errno(5))
	assert.Contains(t, err.Error(), "run elevated")
	err = startError("x", syscall.Errno(183))
	assert.ErrorIs(t, err, ErrSessionExists)
	assert.Contains(t, err.Error(), `logman stop "x" -ets`)
	err = startError("x", syscall.Errno(87))
	assert.ErrorIs(t, err, syscall.Errno(87))
	assert.False(t, errors.Is(err, ErrNotElevated))
}

func TestStopError(t *testing.T) {
	assert.NoError(t, stopError(nil))
	assert.NoError(t, stopError(syscall.Errno(4201)), "someone else stopped the session")
	assert.ErrorIs(t, stopError(syscall.Errno(5)), syscall.Errno(5))
}

// TestExtensionBlock checks the layout PerfView's ETWKernelControl writes:
// a header ULONG (length in ULONGs | items << 16), then items led by
// (length in ULONGs with the header | type << 16).
func TestExtensionBlock(t *testing.T) {
	assert.Nil(t, extensionBlock(startAttempt{}, []uint32{1}))

	b := extensionBlock(startAttempt{ext: true, stackExt: true, tagExt: true}, []uint32{0x20707249})
	want := []uint32{
		1 + 9 + 5 + 2 | 3<<16,
		9 | 1<<16, 0x7, 0x40, 0, 0, 0, 0, 0, 0, // ENABLE_FLAGS: PROC_THREAD+LOADER, PERF_POOL
		5 | 3<<16, 0x0E20, 0x0E21, 0x0E22, 0x0E23, // STACKWALK_FILTER hook ids
		2 | 4<<16, 0x20707249, // POOLTAG_FILTER
	}
	assert.Equal(t, want, b)
	assert.Equal(t, len(b), int(b[0]&0xFFFF))

	b = extensionBlock(startAttempt{ext: true, tagExt: true}, nil)
	assert.Equal(t, []uint32{1 + 9 | 1<<16, 9 | 1<<16, 0x7, 0x40, 0, 0, 0, 0, 0, 0}, b)
}

func TestTagPatterns(t *testing.T) {
	tag := func(s string) uint32 { return binary.LittleEndian.Uint32([]byte(s)) }
	cases := []struct {
		pattern  string
		kernel   string // what the kernel filter receives
		match    []string
		nomatch  []string
		wildcard bool
	}{
		{"Irp", "Irp ", []string{"Irp "}, []string{"Irp2", "irp ", "File"}, false},
		{"NDnd", "NDnd", []string{"NDnd"}, []string{"NDn "}, false},
		{"Nt*", "Nt**", []string{"NtFs", "Ntf ", "Nt  ", "NtXY"}, []string{"NDnd", "nTFs"}, true},
		{"Ir?", "Ir? ", []string{"Irp ", "IrX "}, []string{"Irp2", "I   "}, true},
		{"?rp*", "?rp*", []string{"Irp ", "xrpZ"}, []string{"Ip  "}, true},
		{"*", "****", []string{"Irp ", "File"}, nil, true},
		{"Irp*", "Irp*", []string{"Irp ", "Irp2"}, []string{"Ir  "}, true},
		{"Irp2*", "Irp2", []string{"Irp2"}, []string{"Irp "}, true},
	}
	for _, c := range cases {
		p, err := parseTagPattern(c.pattern)
		require.NoError(t, err, c.pattern)
		assert.Equal(t, tag(c.kernel), p.value, c.pattern)
		assert.Equal(t, c.wildcard, HasWildcard(c.pattern), c.pattern)
		for _, m := range c.match {
			assert.True(t, p.match(tag(m)), "%s matches %q", c.pattern, m)
			assert.True(t, p.match(tag(m)&^protectedTagBit), "%s matches %q", c.pattern, m)
		}
		for _, m := range c.nomatch {
			assert.False(t, p.match(tag(m)), "%s does not match %q", c.pattern, m)
		}
	}
	for _, bad := range []string{"", "N*d", "**", "*rp", "Irp2x*", "TooLong", "a\x01"} {
		_, err := parseTagPattern(bad)
		assert.ErrorIs(t, err, ErrBadPoolTag, "%q", bad)
	}
}

// TestTagFilterWildcard: a wildcard tag keeps the events the kernel passes
// instead of dropping them all.
func TestTagFilterWildcard(t *testing.T) {
	tags, err := parsePoolTags([]string{"Nt*"})
	require.NoError(t, err)
	f := tagFilter{tags: tags}
	keep := poolRec(0x20, "NtFs", 1, 1)
	assert.True(t, f.keep(&keep.h, keep.user))
	drop := poolRec(0x20, "File", 2, 1)
	assert.False(t, f.keep(&drop.h, drop.user))
	st := stackRec(2, 1)
	assert.False(t, f.keep(&st.h, st.user), "the dropped event's stack goes too")
	st = stackRec(1, 1)
	assert.True(t, f.keep(&st.h, st.user))
}

// TestStackOutcome: stacks the kernel refuses degrade to a session
// without stacks and a warning, never to an error.
func TestStackOutcome(t *testing.T) {
	ext := startAttempt{ext: true, stackExt: true}
	plain := startAttempt{ext: true}
	assert.False(t, needStackSetInfo(true, ext))
	assert.True(t, needStackSetInfo(true, plain))
	assert.False(t, needStackSetInfo(false, plain))

	m, w := stackOutcome("s", false, plain, nil)
	assert.Equal(t, StackWalkNone, m)
	assert.Empty(t, w)
	m, w = stackOutcome("s", true, ext, nil)
	assert.Equal(t, StackWalkExtension, m)
	assert.Empty(t, w)
	m, w = stackOutcome("s", true, plain, nil)
	assert.Equal(t, StackWalkSetInformation, m)
	assert.Empty(t, w)
	m, w = stackOutcome("s", true, plain, syscall.Errno(87))
	assert.Equal(t, StackWalkNone, m)
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "without stack walks")
}
