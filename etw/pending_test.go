package etw_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etwkit/etwkit/etw"
)

// trailingBytes writes testdata/irp-leak.etl with n bytes appended: too
// short for a buffer header, so the buffer walk reports them at open.
func trailingBytes(t testing.TB, n int) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/irp-leak.etl")
	require.NoError(t, err)
	name := filepath.Join(t.TempDir(), "trailing.etl")
	require.NoError(t, os.WriteFile(name, append(b, make([]byte, n)...), 0o644))
	return name
}

// TestPendingErrors checks that the damage found at open is known before
// the first event, stays pending while events are read, and is returned
// once by ReadEvent after the last event, in both orders.
func TestPendingErrors(t *testing.T) {
	name := trailingBytes(t, 10)
	for _, order := range []etw.Order{etw.TimeOrder, etw.FileOrder} {
		t.Run(orderName(order), func(t *testing.T) {
			r, err := etw.Open(name)
			require.NoError(t, err)
			defer r.Close()
			require.NoError(t, r.SetOrder(order))
			pending := r.PendingErrors()
			require.Len(t, pending, 1)
			assert.ErrorIs(t, pending[0], etw.ErrTruncated)
			var fe *etw.FormatError
			require.ErrorAs(t, pending[0], &fe)
			assert.Equal(t, int64(len(r.Buffers()))*int64(r.Header().BufferSize), fe.Offset)

			_, err = r.ReadEvent()
			require.NoError(t, err)
			assert.Equal(t, pending, r.PendingErrors(), "still pending after one event")
			pending[0] = nil // a copy: the reader's own list is untouched
			require.Len(t, r.PendingErrors(), 1)
			require.NotNil(t, r.PendingErrors()[0])

			var got []error
			for {
				_, err := r.ReadEvent()
				if err == io.EOF {
					break
				}
				if err != nil {
					got = append(got, err)
				}
			}
			require.Len(t, got, 1)
			assert.ErrorIs(t, got[0], etw.ErrTruncated)
			assert.Empty(t, r.PendingErrors(), "returned by ReadEvent: no longer pending")
		})
	}
}

// TestPendingErrorsComplete checks that a trace read whole has no damage
// pending at open.
func TestPendingErrorsComplete(t *testing.T) {
	r, err := etw.Open("../testdata/irp-leak.etl")
	require.NoError(t, err)
	defer r.Close()
	assert.Empty(t, r.PendingErrors())
}

// A tool that reads only the first events of a trace still reports the
// damage found when the trace was opened.
func ExampleReader_PendingErrors() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	n := 0
	for _, err := range r.All() {
		if err != nil {
			continue // damage in the part read
		}
		if n++; n == 10 {
			break
		}
	}
	for _, err := range r.PendingErrors() {
		var fe *etw.FormatError
		if errors.As(err, &fe) {
			fmt.Println("damage at offset", fe.Offset)
		}
	}
	fmt.Println(n, "events read,", len(r.PendingErrors()), "errors pending")
	// Output:
	// 10 events read, 0 errors pending
}
