// Package leak is the pool-leak pipeline: events from a trace file or a
// live session go through the module maps, the stack correlator and the
// pool ledger, and come out as a pool report whose outstanding stacks are
// resolved, classified (kernel / user / WOW64) and symbolized. The tools
// poolleak and poolwatch are built on it.
//
// [Run] and [RunReader] read a trace; [New] gives a [Pipeline] to feed a
// live session's events one by one. The [Result] holds the ledger's report,
// the resolved stacks ([Stack]), the object `poolleak -json` prints
// ([Result.Summary], whose JSON form is a stable contract) and the pprof
// profile ([Result.Profile]).
//
// A custom analyzer that assembles the chain itself from packages etw,
// stacks, pool and export uses the adapters between them: [PoolOp] (a
// decoded pool event to a ledger op) and [FrameExporter] (resolved frames
// to profile frames). The ledger groups allocations by the correlator's
// stack IDs given as pool.Op.Key; see Example (custom).
package leak
