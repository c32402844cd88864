package leak

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/etw/etltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolEventsWithoutProcess: PERFINFO-headed pool events with no stack
// records and no Thread event to name their process are counted and kept
// under etw.NoPID, never given an invented process (issue 14).
func TestPoolEventsWithoutProcess(t *testing.T) {
	var f etltest.MemFile
	w, err := etltest.NewWriter(&f, etltest.Options{NumberOfProcessors: 2})
	require.NoError(t, err)
	ts := int64(etltest.DefaultStartTicks)
	for i := range 10 {
		ts += 1000
		rec := etltest.Pool(8, etltest.PoolEvent{Meta: etltest.Meta{Kind: etltest.HeaderPerfInfo},
			Opcode: etltest.PoolAlloc, Tag: etltest.Tag("Nopr"), Size: 64, Entry: 0xffff_a000_0000_0000 + uint64(i)*0x100})
		require.NoError(t, w.WriteRecord(i%2, ts, rec))
	}
	// One event of a known process, to show the two are told apart.
	ts += 1000
	rec := etltest.Pool(8, etltest.PoolEvent{Meta: etltest.Meta{Kind: etltest.HeaderSystem, PID: 42, TID: 43},
		Opcode: etltest.PoolAlloc, Tag: etltest.Tag("Nopr"), Size: 64, Entry: 0xffff_b000_0000_0000})
	require.NoError(t, w.WriteRecord(0, ts, rec))
	require.NoError(t, w.Close())
	path := filepath.Join(t.TempDir(), "noprocess.etl")
	require.NoError(t, os.WriteFile(path, f.Bytes(), 0o644))

	res, err := Run(path, Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(10), res.PoolEventsWithoutProcess)
	assert.Equal(t, int64(10), res.Summary(-1).Trace.PoolEventsWithoutProcess)
	var pids []uint32
	for _, p := range res.Report.Processes {
		pids = append(pids, p.PID)
	}
	assert.ElementsMatch(t, []uint32{uint32(etw.NoPID), 42}, pids)

	// With -tag of another tag, none of them is of the report.
	res, err = Run(path, Options{Tag: "Othr"})
	require.NoError(t, err)
	assert.Zero(t, res.PoolEventsWithoutProcess)
}
