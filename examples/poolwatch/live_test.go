package main

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/etwkit/etwkit/etw/live"
)

// TestLiveFlagErrors: bad tags are usage errors before anything starts;
// wildcards belong to the live session.
func TestLiveFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-tag", "N*d"},
		{"-tag", "TooLong"},
		{"-replay", irpLeak, "-tag", "Ir*"},
		{"-replay", irpLeak, "-tag", "Ir?"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errOut), "%v", args)
		assert.Contains(t, errOut.String(), "poolwatch: ", "%v", args)
		assert.Empty(t, out.String(), "%v", args)
	}
}

func TestReplayExactTagStillWorks(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run([]string{"-replay", irpLeak, "-tag", "Irp", "-interval", "1h"}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), `"Irp "`)
}

func TestStopOrphansElsewhere(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows -stop-orphans really stops sessions")
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run([]string{"-stop-orphans"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "only supported on Windows")
}

func TestSessionFlagElsewhere(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("would start a kernel session")
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run([]string{"-session", "etwkit-test", "-tag", "Nt*", "-duration", "1s"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "only supported on Windows")
}

func TestWarnPartial(t *testing.T) {
	var b bytes.Buffer
	warnPartial(live.Stats{}, &b)
	assert.Empty(t, b.String())
	warnPartial(live.Stats{Aborted: true}, &b)
	assert.Contains(t, b.String(), "partial")
}
