//go:build !windows

package live

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartNotSupported(t *testing.T) {
	s, err := Start(Options{StackWalk: true, Rundown: true})
	require.ErrorIs(t, err, ErrNotSupported)
	assert.Nil(t, s)
	var st stubSource
	assert.ErrorIs(t, st.run(nil), ErrNotSupported)
}
