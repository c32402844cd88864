package leak

import (
	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/pool"
)

// attribute gives a pool op whose event header named no process
// (PERFINFO-headed PoolTrace records) the process and thread the
// correlator worked out for it, from its stack records or its thread. It
// is called while the correlator emits the op's event.
func (p *Pipeline) attribute(op *pool.Op) {
	a := p.corr.Attributed()
	if a.PID != etw.NoPID {
		op.PID = uint32(a.PID)
	}
	if op.TID == uint32(etw.NoTID) && a.TID != etw.NoTID {
		op.TID = uint32(a.TID)
	}
}
