package etw

import (
	"encoding/binary"

	"github.com/etwkit/etwkit/pool"
)

// PoolOp is a PoolTrace event type (the opcode, PERFINFO_LOG_TYPE_*POOL* in
// ntwmi.h).
type PoolOp uint8

// Pool event types.
const (
	PoolAlloc               PoolOp = 0x20 // PoolAllocation (ALLOCATEPOOL)
	PoolSessionAlloc        PoolOp = 0x21 // SessionPoolAllocation (ALLOCATEPOOL_SESSION)
	PoolFree                PoolOp = 0x22 // PoolFree (FREEPOOL)
	PoolSessionFree         PoolOp = 0x23 // SessionPoolFree (FREEPOOL_SESSION)
	PoolAddPage             PoolOp = 0x24 // ADDPOOLPAGE
	PoolAddSessionPage      PoolOp = 0x25 // ADDPOOLPAGE_SESSION
	PoolBigPage             PoolOp = 0x26 // BIGPOOLPAGE
	PoolBigSessionPage      PoolOp = 0x27 // BIGPOOLPAGE_SESSION
	PoolSnapDCStart         PoolOp = 0x28 // POOLSNAP_DC_START
	PoolSnapDCEnd           PoolOp = 0x29 // POOLSNAP_DC_END
	PoolBigSnapDCStart      PoolOp = 0x2A // BIGPOOLSNAP_DC_START
	PoolBigSnapDCEnd        PoolOp = 0x2B // BIGPOOLSNAP_DC_END
	PoolSessionSnapDCStart  PoolOp = 0x2C // POOLSNAP_SESSION_DC_START
	PoolSessionSnapDCEnd    PoolOp = 0x2D // POOLSNAP_SESSION_DC_END
	PoolSessionBigSnapStart PoolOp = 0x2E // SESSIONBIGPOOLSNAP_DC_START
	PoolSessionBigSnapEnd   PoolOp = 0x2F // SESSIONBIGPOOLSNAP_DC_END
)

// String returns the MOF event name ("PoolAllocation", "PoolFree", ...).
func (o PoolOp) String() string {
	if n := classByGroup[GroupPool].names[uint8(o)]; n != "" {
		return n
	}
	return "PoolOp(0x" + string([]byte{hexDigits[o>>4], hexDigits[o&0xf]}) + ")"
}

// IsAlloc reports an allocation (regular or session pool).
func (o PoolOp) IsAlloc() bool { return o == PoolAlloc || o == PoolSessionAlloc }

// IsFree reports a free (regular or session pool).
func (o PoolOp) IsFree() bool { return o == PoolFree || o == PoolSessionFree }

// IsSession reports an event of the session-pool variant.
func (o PoolOp) IsSession() bool {
	switch o {
	case PoolSessionAlloc, PoolSessionFree, PoolAddSessionPage, PoolBigSessionPage,
		PoolSessionSnapDCStart, PoolSessionSnapDCEnd, PoolSessionBigSnapStart, PoolSessionBigSnapEnd:
		return true
	}
	return false
}

// PoolEvent is a decoded PoolTrace event. For alloc/free events (0x20-0x23)
// and the page events (0x24-0x27, decoded with the same ETW_POOL_EVENT
// layout as ntwmi.h annotates them) the fields are set; for the snapshot
// events, whose payload layout is not documented, only Op and Raw are.
type PoolEvent struct {
	Op            PoolOp
	Type          PoolType
	Tag           PoolTag
	NumberOfBytes uint64
	// Entry is the address of the pool block.
	Entry uint64
	// SessionID is set for the session variants.
	SessionID uint32
	// Raw is the payload of an event whose layout is unknown; it aliases
	// the event.
	Raw []byte
}

// IsAlloc reports an allocation (regular or session pool).
func (p PoolEvent) IsAlloc() bool { return p.Op.IsAlloc() }

// IsFree reports a free (regular or session pool).
func (p PoolEvent) IsFree() bool { return p.Op.IsFree() }

// IsSession reports a session-pool event.
func (p PoolEvent) IsSession() bool { return p.Op.IsSession() }

// DecodePool decodes a PoolTrace event (group 0x0E) logged under any kernel
// header (SYSTEM, COMPACT or PERFINFO) or as a classic record with the
// PoolTrace class GUID, in either pointer size. It does not allocate
// unless it returns an error.
func DecodePool(ev *Event) (PoolEvent, error) {
	var e PoolEvent
	err := e.Decode(ev)
	return e, err
}

// Decode is [DecodePool] writing into e, for loops over millions of
// events: Go returns a struct of more than four fields through memory, and
// copying it costs more than the decoding (about 9 ns a call against 3 on
// the machine of BENCHMARKS.md). On error e is zero.
func (e *PoolEvent) Decode(ev *Event) error {
	c, op := classOf(ev)
	if c == nil || c.group != int(GroupPool) || op < 0x20 || op > 0x2F {
		*e = PoolEvent{}
		return errNotA("PoolTrace", ev)
	}
	if op > 0x27 {
		e.Op, e.Type, e.Tag, e.NumberOfBytes, e.Entry, e.SessionID, e.Raw = PoolOp(op), 0, 0, 0, 0, 0, ev.Payload
		return nil
	}
	size := ev.PointerSize()
	p := ev.Payload
	need := 8 + 2*size
	session := op == opPoolSessionAlloc || op == opPoolSessionFree
	if session {
		need += 4
	}
	if size == 0 || len(p) < need {
		*e = PoolEvent{}
		if size == 0 {
			return errNoPointerSize(ev)
		}
		return layoutError(ev, c.find(op, ev.Version))
	}
	// Field by field: a composite literal is built on the stack and copied.
	e.Op = PoolOp(op)
	e.Type = PoolType(binary.LittleEndian.Uint32(p))
	e.Tag = PoolTag(binary.LittleEndian.Uint32(p[4:]))
	if size == 4 {
		e.NumberOfBytes = uint64(binary.LittleEndian.Uint32(p[8:]))
		e.Entry = uint64(binary.LittleEndian.Uint32(p[12:]))
	} else {
		e.NumberOfBytes = binary.LittleEndian.Uint64(p[8:])
		e.Entry = binary.LittleEndian.Uint64(p[16:])
	}
	e.SessionID = 0
	if session {
		e.SessionID = binary.LittleEndian.Uint32(p[8+2*size:])
	}
	e.Raw = nil
	return nil
}

// PoolType is the POOL_TYPE value logged with a pool event, possibly with
// the big-pool bit OR-ed in: [pool.Type], with its bits (pool.TypePaged,
// pool.TypeNX, pool.TypeBigPool, ...) and helpers (IsPaged, IsNX,
// IsSession, IsBigPool, Base, and Kind: "nonpaged", "paged",
// "nonpaged-session" or "paged-session").
type PoolType = pool.Type

// PoolTag is a pool tag, four bytes with the first character in the least
// significant byte (ExAllocatePoolWithTag writes 'Irp ' as 0x20707249):
// [pool.Tag], whose String form is "Irp " with bytes outside 0x20-0x7E
// (and the backslash) escaped as \xNN.
type PoolTag = pool.Tag

// ParsePoolTag parses a tag of up to four characters; shorter tags are
// padded with spaces ("Irp" is "Irp "). The \xNN escapes of String are
// accepted, so ParsePoolTag(t.String()) == t. It is [pool.Tag]'s
// UnmarshalText ([pool.ParseTag] reads tags as people type them instead).
func ParsePoolTag(s string) (PoolTag, error) {
	var t PoolTag
	err := t.UnmarshalText([]byte(s))
	return t, err
}
