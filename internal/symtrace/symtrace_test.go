package symtrace

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
)

func TestWrite(t *testing.T) {
	for _, o := range []Options{{}, {StackKeys: true}, {PoolHeader: etltest.HeaderPerfInfo}} {
		path := filepath.Join(t.TempDir(), "t.etl")
		require.NoError(t, Write(path, o))
		r, err := etw.Open(path)
		require.NoError(t, err)
		pools := 0
		for ev, err := range r.All() {
			require.NoError(t, err)
			if ev.Provider == etw.PoolGUID {
				pools++
			}
		}
		require.NoError(t, r.Close())
		assert.Equal(t, 100+400+44+15, pools, "%+v", o) // Etwk, the Nois jump, its allocs and frees
	}
	require.Error(t, Write(filepath.Join(t.TempDir(), "no", "such", "dir", "t.etl"), Options{}))
	_, err := readImage(filepath.Join(t.TempDir(), "missing.sys"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
