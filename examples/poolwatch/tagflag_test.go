package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

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
