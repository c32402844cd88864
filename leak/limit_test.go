package leak

import (
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/damage/damagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunLimit: a LimitError after events gives the result of the part
// read, the error last among the read errors; before any event, Run fails
// with it.
func TestRunLimit(t *testing.T) {
	tr := damagetest.Write(t, true)
	res, err := Run(tr.Limited, Options{Limits: etw.Limits{MaxMemory: 32 << 10}})
	require.NoError(t, err)
	assert.Equal(t, uint64(damagetest.LimitedEvents), res.Report.Trace.PoolEvents)
	require.NotEmpty(t, res.ReadErrors)
	assert.ErrorIs(t, res.ReadErrors[len(res.ReadErrors)-1], etw.ErrLimit)
	assert.False(t, res.Damage.Complete)
	assert.NotNil(t, res.Damage.Limit())

	_, err = Run(tr.Limited, Options{Limits: etw.Limits{MaxMemory: 1 << 10}})
	var le *etw.LimitError
	assert.ErrorAs(t, err, &le)

	res, err = Run(tr.Limited, Options{})
	require.NoError(t, err)
	assert.True(t, res.Damage.Complete)
	assert.Equal(t, uint64(4000), res.Report.Trace.PoolEvents)
}
