package pool_test

import (
	"fmt"

	"github.com/etwkit/etwkit/pool"
)

// ExampleOptions_pid reports the blocks of one process, as WPA attributes
// them: a driver's free of the process's IRP counts, the free of a block
// another process allocated does not.
func ExampleOptions_pid() {
	const app, driver, other = 6428, 4, 900
	l := pool.NewLedger(pool.Options{Frequency: 10, PID: app, HasPID: true})
	irp := pool.MakeTag("Irp ")
	ops := []pool.Op{
		{Time: 1, Kind: pool.Alloc, Tag: irp, Entry: 0x1000, Size: 1024, PID: app},
		{Time: 2, Kind: pool.Alloc, Tag: irp, Entry: 0x2000, Size: 1024, PID: app},
		{Time: 3, Kind: pool.Alloc, Tag: irp, Entry: 0x3000, Size: 1024, PID: other},
		{Time: 4, Kind: pool.Free, Tag: irp, Entry: 0x1000, PID: driver},
		{Time: 5, Kind: pool.Free, Tag: irp, Entry: 0x3000, PID: app},
	}
	for i := range ops {
		l.Apply(&ops[i])
	}
	for _, t := range l.Finish().Tags {
		fmt.Printf("%q: %d allocs, %d frees, %d AOFI, %d outstanding\n", t.Tag.String(), t.Allocs, t.Frees, t.AOFI, t.OutstandingCount)
	}
	// Output:
	// "Irp ": 2 allocs, 1 frees, 0 AOFI, 1 outstanding
}

// ExampleParseTag reads a tag as people type it and names the tags a
// mistyped one may have meant.
func ExampleParseTag() {
	t, err := pool.ParseTag("Irp")
	fmt.Printf("%q %v\n", t.String(), err)
	_, err = pool.ParseTag("ThisIsLong")
	fmt.Println(err)
	seen := []pool.Tag{pool.MakeTag("Irp "), pool.MakeTag("Toke")}
	fmt.Println(pool.SimilarTags("irp", seen))
	// Output:
	// "Irp " <nil>
	// pool: not a pool tag: "ThisIsLong" is 10 bytes; a tag is 1 to 4 (shorter ones are padded with spaces)
	// [Irp ]
}
