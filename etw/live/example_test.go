package live_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/etwkit/etwkit/etw/live"
)

// Pool tags are written as people know them and compared as the 32-bit
// values the events carry.
func ExampleParsePoolTag() {
	v, err := live.ParsePoolTag("Irp")
	if err != nil {
		panic(err)
	}
	fmt.Printf("0x%08x\n", v)
	// Output: 0x20707249
}

// A session delivers the same events as an ETL file. This example needs an
// elevated prompt on Windows; elsewhere Start reports ErrNotSupported.
func ExampleStart() {
	s, err := live.Start(live.Options{PoolTags: []string{"Irp"}, StackWalk: true, Rundown: true})
	if errors.Is(err, live.ErrNotSupported) {
		fmt.Println("no ETW here")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	n := 0
	for ev, err := range s.All() {
		if err != nil {
			fmt.Println(err)
			break
		}
		if ev.Group() == 0x0E { // PoolTrace
			n++
		}
		if n == 1000 {
			break
		}
	}
	fmt.Println(n, "pool events", s.Stats().LostEvents, "lost")
}

// Tags may hold wildcards: '?' for one character, a trailing '*' for the
// rest. CheckPoolTags refuses the rest before anything starts.
func ExampleCheckPoolTags() {
	for _, tag := range []string{"Irp", "Nt*", "Ir?", "N*d", "TooLong"} {
		err := live.CheckPoolTags([]string{tag})
		fmt.Printf("%-7s wildcard=%-5v ok=%v\n", tag, live.HasWildcard(tag), err == nil)
	}
	// Output:
	// Irp     wildcard=false ok=true
	// Nt*     wildcard=true  ok=true
	// Ir?     wildcard=true  ok=true
	// N*d     wildcard=true  ok=false
	// TooLong wildcard=false ok=false
}

// Sessions of etwkit programs that crashed keep running (and keep their
// kernel buffers) until they are stopped. StopOrphans stops them and leaves
// the sessions of running programs and of other tools alone.
func ExampleStopOrphans() {
	stopped, err := live.StopOrphans()
	if errors.Is(err, live.ErrNotSupported) {
		fmt.Println("no ETW here")
		return
	}
	for _, name := range stopped {
		fmt.Println("stopped", name) // e.g. stopped etwkit-4242-1f2e3d4c
	}
	if err != nil {
		fmt.Println(err)
	}
}

// Close drains the session: the events logged before Close, still in the
// kernel's buffers or held for reordering, are returned before
// os.ErrClosed. A reader in another goroutine sees them all.
func ExampleSession_Close() {
	s, err := live.Start(live.Options{StackWalk: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Abort() // if anything below panics; a no-op after Close
	for _, w := range s.Warnings() {
		fmt.Println("warning:", w) // e.g. stacks refused
	}
	time.AfterFunc(10*time.Second, func() { s.Close() })
	n := 0
	for _, err := range s.All() { // ends after the drained tail
		if err != nil {
			fmt.Println(err)
			break
		}
		n++
	}
	fmt.Println(n, "events,", s.Stats().DroppedOnClose, "dropped")
}
