//go:build !windows

package live

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInterruptTwice: the first interrupt drains the session, the second
// aborts it. (Signals to oneself need a Unix; the handler is the same
// code on Windows.)
func TestInterruptTwice(t *testing.T) {
	f := drainFake()
	// A tail the reader will not finish, so the second signal lands while
	// the session drains.
	for i := range 100 {
		f.tail = append(f.tail, poolRec(0x20, "Irp", int64(1000+i), 3))
	}
	s := startFake(t, f, Options{NoPDBIdentity: true, QueueSize: 8, ReorderWindow: -1}, nil)
	s.handleInterrupt()
	e, err := s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, int64(10), e.Timestamp)

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	require.Eventually(t, s.isClosed, 3*time.Second, time.Millisecond, "first interrupt closes")
	assert.False(t, s.isAborted())
	e, err = s.ReadEvent()
	require.NoError(t, err, "a closed session still drains")
	assert.Equal(t, int64(40), e.Timestamp)

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	require.Eventually(t, s.isAborted, 3*time.Second, time.Millisecond, "second interrupt aborts")
	_, err = s.ReadEvent()
	assert.ErrorIs(t, err, os.ErrClosed)
}
