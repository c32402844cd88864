package pool_test

import (
	"fmt"
	"log"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/pool"
)

// A trace's pool events fed to a ledger: the outstanding allocations of the
// leak fixture, by tag. (examples/poolleak also attaches each allocation's
// stack through package stacks.)
func Example_trace() {
	r, err := etw.Open("../testdata/irp-leak.etl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ledger := pool.NewLedger(pool.Options{
		Frequency:   r.Clock().Frequency,
		Start:       r.HeaderEvent().Timestamp,
		PointerSize: r.PointerSize(),
	})
	for ev, err := range r.All() { // time order across processors
		if err != nil {
			continue // damage is reported as data; reading goes on
		}
		p, err := etw.DecodePool(ev)
		if err != nil || !(p.IsAlloc() || p.IsFree()) {
			continue // not a pool allocation or free
		}
		op := pool.Op{Time: ev.Timestamp, Kind: pool.Free, Session: p.IsSession(), SessionID: p.SessionID,
			Type: uint32(p.Type), Tag: p.Tag, Size: p.NumberOfBytes, Entry: p.Entry,
			PID: uint32(ev.PID), TID: uint32(ev.TID)}
		if p.IsAlloc() {
			op.Kind = pool.Alloc
		}
		ledger.Apply(&op)
	}
	for _, t := range ledger.Finish().Tags[:2] {
		fmt.Printf("%q %s: %d blocks, %d bytes outstanding, leak rank %d\n",
			t.Tag.String(), t.Pool, t.OutstandingCount, t.OutstandingBytes, t.LeakRank)
	}
	// Output:
	// "Irp " nonpaged: 156 blocks, 159744 bytes outstanding, leak rank 1
	// "Toke" paged: 1 blocks, 1520 bytes outstanding, leak rank 2
}
