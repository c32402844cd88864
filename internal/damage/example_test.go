package damage_test

import (
	"fmt"
	"os"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/damage"
)

// Example reads a trace to its end, keeping the damage reports, and turns
// them into the warnings and the exit status every tool uses.
func Example() {
	r, err := etw.Open("../../testdata/irp-leak.etl")
	if err != nil {
		fmt.Println(err)
		os.Exit(damage.ExitUnreadable)
	}
	defer r.Close()
	var errs []error
	for _, err := range r.All() {
		if err != nil {
			errs = append(errs, err) // a *etw.FormatError: reading goes on
		}
	}
	d := r.Report(errs)
	damage.Warn(os.Stdout, "example", &d) // nothing for a trace read whole
	fmt.Printf("complete %v, %d of %d buffers, exit %d\n", d.Complete, d.BuffersRead, d.BuffersWritten, damage.ExitCode(&d))
	// Output:
	// complete true, 41 of 41 buffers, exit 0
}
