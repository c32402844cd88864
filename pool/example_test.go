package pool_test

import (
	"fmt"

	"github.com/etwkit/etwkit/pool"
)

// Example feeds a few pool events to a ledger and prints the tag table.
func Example() {
	const freq = 10_000_000 // 100 ns ticks
	l := pool.NewLedger(pool.Options{Frequency: freq})
	readFile := l.InternStack(4242, []uint64{0xfffff8045a2b1000, 0x77a01000, 0x75002000})

	irp, file := pool.MakeTag("Irp "), pool.MakeTag("File")
	ops := []pool.Op{
		{Time: 0, Kind: pool.Alloc, Tag: irp, Type: 0x200, Entry: 0xffffc001000, Size: 1024, PID: 4242, Stack: readFile},
		{Time: 1 * freq, Kind: pool.Alloc, Tag: file, Type: 1, Entry: 0xffffc002000, Size: 256, PID: 4},
		{Time: 2 * freq, Kind: pool.Alloc, Tag: irp, Type: 0x200, Entry: 0xffffc003000, Size: 1024, PID: 4242, Stack: readFile},
		{Time: 3 * freq, Kind: pool.Free, Tag: file, Type: 1, Entry: 0xffffc002000},
		{Time: 3 * freq, Kind: pool.Free, Tag: file, Type: 1, Entry: 0xffffc009000, Size: 64}, // allocated before the trace
		{Time: 4 * freq, Kind: pool.Alloc, Tag: irp, Type: 0x200, Entry: 0xffffc004000, Size: 1024, PID: 4242, Stack: readFile},
	}
	for i := range ops {
		l.Apply(&ops[i])
	}
	r := l.Finish()
	fmt.Printf("%-6s %-10s %6s %5s %4s %4s %4s %11s %4s\n", "tag", "pool", "allocs", "frees", "aifi", "aifo", "aofi", "outstanding", "rank")
	for _, t := range r.Tags {
		fmt.Printf("%-6q %-10v %6d %5d %4d %4d %4d %11d %4d\n",
			t.Tag.String(), t.Pool, t.Allocs, t.Frees, t.AIFI, t.AIFO, t.AOFI, t.OutstandingBytes, t.LeakRank)
	}
	s := r.Stacks[0]
	fmt.Printf("top stack: %q %d blocks, %d bytes, frames %v\n", s.Tag.String(), s.OutstandingCount, s.OutstandingBytes, s.Frames)
	fmt.Printf("free without alloc: %d\n", r.Anomalies.FreeWithoutAlloc)
	// Output:
	// tag    pool       allocs frees aifi aifo aofi outstanding rank
	// "Irp " nonpaged        3     0    0    3    0        3072    1
	// "File" paged           1     2    1    0    1           0    2
	// top stack: "Irp " 3 blocks, 3072 bytes, frames [0xfffff8045a2b1000 0x77a01000 0x75002000]
	// free without alloc: 1
}
