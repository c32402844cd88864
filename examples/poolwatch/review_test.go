package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayProfileSaysPartial: the -o profile of a replayed trace read in
// part says so in its comments, as poolleak -o does.
func TestReplayProfileSaysPartial(t *testing.T) {
	tr := damagetest.Write(t, false)
	prof := filepath.Join(t.TempDir(), "p.pb.gz")
	var out, errOut bytes.Buffer
	require.Equal(t, 3, run([]string{"-replay", tr.Cut, "-interval", "1h", "-o", prof}, &out, &errOut))
	f, err := os.Open(prof)
	require.NoError(t, err)
	defer f.Close()
	p, err := profile.Parse(f)
	require.NoError(t, err)
	assert.Contains(t, strings.Join(p.Comments, "\n"), "partial result: read ")
}

// TestBadTagNamesTheFlag: a -tag that is no tag is a usage error that names
// the flag, as poolleak's does, live or replayed.
func TestBadTagNamesTheFlag(t *testing.T) {
	for _, args := range [][]string{
		{"-tag", "Irpxx"},
		{"-replay", irpLeak, "-tag", "Irpxx"},
		{"-replay", irpLeak, "-tag", "Ir*"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errOut), args)
		assert.True(t, strings.HasPrefix(errOut.String(), "poolwatch: -tag"), errOut.String())
		assert.Empty(t, out.String(), args)
	}
}
