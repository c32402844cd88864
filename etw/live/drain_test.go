package live

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads until ReadEvent fails and returns the timestamps and the
// error.
func readAll(t *testing.T, s *Session) ([]int64, error) {
	t.Helper()
	var ts []int64
	for {
		e, err := s.ReadEvent()
		if err != nil {
			return ts, err
		}
		ts = append(ts, e.Timestamp)
	}
}

// drainFake has two events before Close and a tail the kernel delivers
// after ControlTrace(STOP), older than the newest event held for
// reordering (another processor's buffer).
func drainFake() *fakeSource {
	f := newFake(poolRec(0x20, "Irp", 10, 1), poolRec(0x22, "Irp", 40, 1))
	f.tail = []fakeRec{poolRec(0x20, "Irp", 20, 2), stackRec(20, 2), poolRec(0x22, "Irp", 50, 2)}
	return f
}

// TestSessionCloseDrains: Close on the reader's goroutine keeps what the
// kernel still delivers and what the reorder window holds, in order, and
// only then reports os.ErrClosed.
func TestSessionCloseDrains(t *testing.T) {
	f := drainFake()
	s := startFake(t, f, Options{NoPDBIdentity: true, ReorderWindow: 50 * time.Millisecond}, nil)
	e, err := s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, int64(10), e.Timestamp)
	require.NoError(t, s.Close())
	ts, err := readAll(t, s)
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.Equal(t, []int64{20, 21, 40, 50}, ts, "the tail and the held events, merged")
	_, err = s.ReadEvent()
	assert.ErrorIs(t, err, os.ErrClosed, "and it stays closed")
	st := s.Stats()
	assert.Equal(t, uint64(0), st.DroppedOnClose)
	assert.Equal(t, uint64(5), st.Events)
	assert.False(t, st.Aborted)
}

// TestSessionCloseFromOtherGoroutine: the poolwatch -duration shape: the
// reader iterates, a timer closes; the iteration ends after the tail.
func TestSessionCloseFromOtherGoroutine(t *testing.T) {
	for _, window := range []time.Duration{-1, 0} {
		f := drainFake()
		s := startFake(t, f, Options{NoPDBIdentity: true, ReorderWindow: window}, nil)
		time.AfterFunc(20*time.Millisecond, func() { s.Close() })
		var ts []int64
		for e, err := range s.All() {
			require.NoError(t, err)
			ts = append(ts, e.Timestamp)
		}
		assert.Len(t, ts, 5, "window %v: %v", window, ts)
		assert.Contains(t, ts, int64(50), "the last event after Close arrives")
	}
}

// TestSessionCloseQueueFull: Close with no reader and a tail larger than
// the queue returns once the consumer waits for the reader; reading then
// returns every event.
func TestSessionCloseQueueFull(t *testing.T) {
	f := newFake()
	for i := range 40 {
		f.tail = append(f.tail, poolRec(0x20, "Irp", int64(100+i), 1))
	}
	s := startFake(t, f, Options{NoPDBIdentity: true, QueueSize: 4, ReorderWindow: -1}, nil)
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close waits for a reader that is not there")
	}
	ts, err := readAll(t, s)
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.Len(t, ts, 40)
	assert.Equal(t, uint64(0), s.Stats().DroppedOnClose)
}

// TestSessionCloseReaderGone: nobody reads after Close: the consumer gives
// up after drainStall, counts what it dropped and ends.
func TestSessionCloseReaderGone(t *testing.T) {
	old := drainStall
	drainStall = 20 * time.Millisecond
	t.Cleanup(func() { drainStall = old })
	f := newFake()
	for i := range 40 {
		f.tail = append(f.tail, poolRec(0x20, "Irp", int64(100+i), 1))
	}
	s := startFake(t, f, Options{NoPDBIdentity: true, QueueSize: 4, ReorderWindow: -1}, nil)
	require.NoError(t, s.Close())
	select {
	case <-s.ended:
	case <-time.After(3 * time.Second):
		t.Fatal("the consumer did not end")
	}
	st := s.Stats()
	assert.Equal(t, uint64(1), st.DroppedOnClose, "the record it could not place")
	_, err := s.ReadEvent()
	assert.ErrorIs(t, err, os.ErrClosed, "a drain given up is an abort")
}

// TestSessionAbort: Abort drops the held events and the tail.
func TestSessionAbort(t *testing.T) {
	f := drainFake()
	s := startFake(t, f, Options{NoPDBIdentity: true, ReorderWindow: 50 * time.Millisecond}, nil)
	e, err := s.ReadEvent()
	require.NoError(t, err)
	assert.Equal(t, int64(10), e.Timestamp)
	time.Sleep(10 * time.Millisecond) // the second event arrives
	require.NoError(t, s.Abort())
	_, err = s.ReadEvent()
	assert.ErrorIs(t, err, os.ErrClosed)
	_, err = s.ReadEvent()
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.Equal(t, uint64(1), s.Stats().DroppedOnClose, "the held event, counted once")
	assert.True(t, s.Stats().Aborted)
	require.NoError(t, s.Abort(), "twice")
	require.NoError(t, s.Close(), "Close after Abort")
	assert.Equal(t, 1, f.stops)
}

// TestSessionStatsStackWalk reports the source's stack walk mode and
// warnings.
func TestSessionStatsStackWalk(t *testing.T) {
	f := &warnSource{fakeSource: newFake()}
	s := startFake(t, f.fakeSource, Options{NoPDBIdentity: true}, nil)
	assert.Equal(t, StackWalkNone, s.Stats().StackWalk)
	assert.Empty(t, s.Warnings())

	s2 := newSession(f, Options{NoPDBIdentity: true}, nil)
	go s2.consume()
	t.Cleanup(func() { s2.Close() })
	assert.Equal(t, StackWalkSetInformation, s2.Stats().StackWalk)
	assert.Equal(t, []string{"no stacks"}, s2.Warnings())
	require.NoError(t, s2.Close())
	assert.Equal(t, []string{"no stacks"}, s2.Warnings(), "kept after Close")
}

type warnSource struct{ *fakeSource }

func (w *warnSource) stats() sourceStats {
	st := w.fakeSource.stats()
	st.stackWalk = StackWalkSetInformation
	st.warnings = []string{"no stacks"}
	return st
}

// TestSessionCloseProcessTraceHangs: when the consumer does not end after
// the stop, Close closes it (CloseTrace) without dropping what it queued.
func TestSessionCloseProcessTraceHangs(t *testing.T) {
	old := closeWait
	closeWait = 30 * time.Millisecond
	t.Cleanup(func() { closeWait = old })
	f := drainFake()
	f.hang = make(chan struct{})
	s := startFake(t, f, Options{NoPDBIdentity: true, ReorderWindow: -1}, nil)
	require.NoError(t, s.Close())
	select {
	case <-s.ended:
	case <-time.After(3 * time.Second):
		t.Fatal("the consumer was not released")
	}
	ts, err := readAll(t, s)
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.Len(t, ts, 5, "released, not aborted: %v", ts)
	assert.False(t, s.isAborted())
}
