package etw_test

import (
	"fmt"

	"github.com/etwkit/etwkit/etw"
)

// ExampleReader_Report reads a trace to its end, keeping the damage
// reports, and says whether it was read whole.
func ExampleReader_Report() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	var errs []error
	for _, err := range r.All() {
		if err != nil {
			errs = append(errs, err) // a *etw.FormatError: reading goes on
		}
	}
	d := r.Report(errs)
	fmt.Printf("complete %v, %d of %d buffers, %d read errors\n", d.Complete, d.BuffersRead, d.BuffersWritten, len(d.ReadErrors))
	// Output:
	// complete true, 41 of 41 buffers, 0 read errors
}
