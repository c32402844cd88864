package analysis_test

import (
	"fmt"
	"log"

	"github.com/etwkit/etwkit/internal/analysis"
)

// The verdict of the shipped fixture: which tag leaks, who holds it, and
// who allocates it (without symbols, the kernel's own frames cannot be told
// from the pool allocator's).
func ExampleResult_verdict() {
	res, err := analysis.Run("../../testdata/irp-leak.etl", analysis.Options{})
	if err != nil {
		log.Fatal(err)
	}
	v := res.Verdict
	fmt.Printf("%q %s: %d bytes, leak rank %d\n", v.Tag, v.Pool, v.OutstandingBytes, v.LeakRank)
	fmt.Println("caller:", v.Caller)
	for _, line := range v.Lines() {
		fmt.Println(line)
	}
	// Output:
	// "Irp " nonpaged: 159744 bytes, leak rank 1
	// caller: ReadLeak.exe+0x11a3
	// "Irp " leaks nonpaged pool: 156 blocks, 159744 bytes outstanding, growing 16807.9 bytes/s (R² 1.00), leak rank 1.
	// Held by ReadLeak.exe (pid 6420, 159744 bytes).
	// Allocated by the kernel itself (ntoskrnl.exe+0x3c1a5e, unsymbolized), asked for by ReadLeak.exe+0x11a3.
	// That stack holds 100% of the tag's outstanding bytes.
}
