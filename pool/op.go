package pool

// OpKind says whether an [Op] allocates or frees a block.
type OpKind uint8

// Operation kinds. The zero value is invalid and ignored by [Ledger.Apply].
const (
	Alloc OpKind = 1 // PERFINFO_LOG_TYPE_ALLOCATEPOOL (0x20) or ALLOCATEPOOL_SESSION (0x21)
	Free  OpKind = 2 // PERFINFO_LOG_TYPE_FREEPOOL (0x22) or FREEPOOL_SESSION (0x23)
)

// String returns "alloc", "free" or "invalid".
func (k OpKind) String() string {
	switch k {
	case Alloc:
		return "alloc"
	case Free:
		return "free"
	}
	return "invalid"
}

// StackID identifies a stack interned by [Ledger.InternStack]. IDs are dense
// and 1-based; [NoStack] (0) means the event had no stack.
type StackID uint32

// NoStack is the StackID of an event without a stack.
const NoStack StackID = 0

// Op is one pool event, independent of how it was decoded. The caller owns it;
// [Ledger.Apply] copies what it keeps.
type Op struct {
	// Time is the event timestamp in raw clock ticks (see [Options.Frequency]).
	Time int64
	// Kind is [Alloc] or [Free].
	Kind OpKind
	// Session is true for the session opcodes (0x21, 0x23). Session blocks live
	// in a separate address space per SessionID.
	Session bool
	// SessionID is the session of a session-pool event; ignored otherwise.
	SessionID uint32
	// Type is the raw POOL_TYPE from the payload, flags included.
	Type uint32
	// Tag is the pool tag.
	Tag Tag
	// Size is NumberOfBytes. For frees it is used only when no open block
	// matches (the allocation size of a matched block is authoritative).
	Size uint64
	// Entry is the block address.
	Entry uint64
	// PID and TID identify the logging thread (from the event header). For an
	// allocation, PID is the allocating process.
	PID, TID uint32
	// Stack is the allocation stack, or [NoStack]. It must come from
	// [Ledger.InternStack] of the same ledger; an ID never returned by it is
	// counted in [Anomalies.UnknownStack] and treated as NoStack. It is
	// ignored for frees.
	Stack StackID
	// Key is an opaque stack key chosen by the caller, for a caller that
	// identifies stacks itself (a stack correlator's IDs, whose frames may
	// only be known at the end of a trace) instead of interning frames:
	// allocations are grouped by (tag, pool kind, process, Stack, Key) and
	// the reports carry it back ([StackStats.Key], [GroupStats.Key]). The
	// ledger does not interpret it; 0 is a key like any other. It is
	// ignored for frees.
	Key uint64
}
