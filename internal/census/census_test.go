package census

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorpusCensus reads every trace of the shared corpus and compares the
// census with the expected one from the independent census reader.
func TestCorpusCensus(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		t.Run(tr.Name, func(t *testing.T) {
			want, err := os.ReadFile(tr.Expected + ".census.json")
			require.NoError(t, err)
			got, err := Of(tr.Path)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			var a, b map[string]any
			require.NoError(t, json.Unmarshal(want, &a))
			require.NoError(t, json.Unmarshal(gotJSON, &b))
			assert.Equal(t, a, b)
		})
	}
}
