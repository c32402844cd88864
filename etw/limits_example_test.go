package etw_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/etwkit/etwkit/etw"
)

// Read a trace from an untrusted source with a lower memory ceiling than
// the default. Past it, reading stops with a LimitError that says what the
// trace would have needed.
func ExampleOpenLimited() {
	r, err := etw.OpenLimited("../testdata/irp-leak.etl", etw.Limits{MaxMemory: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	events, damaged := 0, 0
	for _, err := range r.All() {
		var le *etw.LimitError
		switch {
		case errors.As(err, &le):
			fmt.Printf("stopped: %v bytes needed, %v allowed\n", le.Need, le.Limit)
		case err != nil:
			damaged++ // a FormatError: the reader goes on with the next buffer
		default:
			events++
		}
	}
	fmt.Println(events, "events,", damaged, "damage reports")
	// Output:
	// 11054 events, 0 damage reports
}
