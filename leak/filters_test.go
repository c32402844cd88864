package leak

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/pool"
)

// TestFilterFacts: a tag filter says whether its tag was found and which
// other tags the trace holds; with any filter the stack figures count the
// pool events the report counts; -pid leaves out frees of other blocks.
func TestFilterFacts(t *testing.T) {
	all, err := Run(irpLeak, Options{})
	require.NoError(t, err)
	assert.True(t, all.Damage.Complete)
	assert.Equal(t, int64(all.Report.Trace.PoolEvents), all.StackStats.Emitted)

	for _, o := range []Options{
		{Tag: "Irp"},
		{Tag: "Toke", HasPID: true, PID: 6420},
		{HasPID: true, PID: 6420},
		{HasWindow: true, Window: [2]float64{1, 4}},
	} {
		res, err := Run(irpLeak, o)
		require.NoError(t, err)
		st := res.StackStats
		assert.Equal(t, int64(res.Report.Trace.PoolEvents), st.Emitted, "%+v", o)
		assert.LessOrEqual(t, st.WithoutStack+st.KernelOnly, st.Emitted, "%+v", o)
		if o.HasPID {
			assert.Zero(t, res.Report.Totals.AOFI, "%+v", o)
			assert.LessOrEqual(t, res.Report.Totals.Frees, res.Report.Totals.Allocs, "%+v", o)
		}
	}

	res, err := Run(irpLeak, Options{Tag: "irp"})
	require.NoError(t, err)
	assert.False(t, res.TagFound)
	assert.Contains(t, res.OtherTags, pool.MakeTag("Irp "))
	assert.Equal(t, `"Irp "`, res.CloseMatches("irp"))
	assert.Empty(t, res.Report.Tags)

	res, err = Run(irpLeak, Options{Tag: "IrpLong"})
	require.NoError(t, err)
	assert.False(t, res.TagFound, "a text longer than a tag matches nothing")
	assert.Equal(t, `"Irp "`, res.CloseMatches("IrpLong"))

	res, err = Run(irpLeak, Options{Tag: "Irp "})
	require.NoError(t, err)
	assert.True(t, res.TagFound)
	assert.NotContains(t, res.OtherTags, pool.MakeTag("Irp "))
}
