// Package leanframe lets the poolleak pipeline (package leak) ask an
// etw.Reader to frame the records it decodes itself with only the fields
// it reads, which is most of the records of a pool trace.
//
// Package etw sets the functions below when it is initialized; this package
// imports nothing, so that both can import it. They take their arguments as
// any because the types are etw's.
//
// A lean Event holds Header, Hook, PID, TID, Timestamp, Payload,
// Processor, Buffer and Offset of its record, exactly as a full Event would;
// every other field, and every method that reads one (Clone and CloneInto
// among them), holds whatever an earlier record left there until Complete
// has framed it in full. Lean framing takes only records that full framing
// takes without an error, so that damage is reported exactly as without
// it. The caller turns it off before handing the Reader to anyone else.
package leanframe

var (
	// SetLean makes the reader r (an *etw.Reader) deliver the records of
	// the given hook ids with SYSTEM or PERFINFO headers (no PEBS index,
	// no PMC counters) as lean Events; none turns lean framing off.
	SetLean func(r any, hooks []uint16)
	// Complete frames the Event ev (an *etw.Event) in full if it is lean,
	// and does nothing otherwise.
	Complete func(ev any)
)
