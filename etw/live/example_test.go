package live_test

import (
	"errors"
	"fmt"

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
