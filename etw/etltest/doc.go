// Package etltest writes Event Tracing for Windows .etl files: for tests of
// ETL consumers (ours and yours), for fixtures, and for synthetic traces of
// any size.
//
// A [Writer] takes records — built with [System], [Compact], [PerfInfo],
// [FullHeader], [Instance], [EventHeader], [Message], [Opaque] or the typed
// kernel builders [Pool], [StackWalk], [StackKeyRef], [StackKeyDefinition],
// [Image], [Process], [Thread], [DbgIDRSDS], [ImageID], [HeaderExtension],
// [RundownComplete] and [LogfileHeader], in either pointer size — and lays
// them out exactly as Windows does:
//
//   - The header buffer (BufferType 4, sequence 0, flags FLUSH_MARKER |
//     PROC_INDEX) holds the logfile header event (SYSTEM header type 1 or
//     2, version 2, hook 0, marker 0xC0, TRACE_LOGFILE_HEADER of 0x110 or
//     0x118 bytes plus LoggerName and LogFileName), the EventTrace
//     PartitionInfoExtension record Windows 10 writes after it (unless
//     [Options.NoPartitionInfo]) and any records added with
//     [Writer.WriteHeaderRecord]. BuffersWritten counts every buffer,
//     the header buffer included.
//   - Each processor fills its own data buffers (BufferType 0, flag
//     PROC_INDEX, ProcessorIndex = processor). Records start at offset 72
//     and are 8-byte aligned (Size excludes the zero padding); SavedOffset
//     and Offset are the end of the last record, and the rest of the buffer
//     is 0xFF filler. A buffer gets its sequence number when its first
//     record arrives and reaches the file when it is full, flushed
//     ([Writer.Flush]) or at Close, so sequence numbers are unique 0..N-1
//     but not in file order across processors; the [FlushOrder] can also
//     hold buffers back and write them interleaved, reversed or shuffled.
//     TimeStamp is the flush time: the timestamp of the record that did
//     not fit, or the last timestamp of the trace at Close. The last buffer
//     of the file carries FLUSH_MARKER. CurrentOffset is SavedOffset plus
//     the aligned size of the record that did not fit, or plus BufferSize
//     when the buffer was flushed before it was full.
//   - With [Options.Compress], the bytes after each data buffer's header
//     are XPRESS (plain LZ77) compressed: BufferSize = 72 + compressed
//     length, SavedOffset = 72 + uncompressed length, flag COMPRESSED, no
//     filler, LogFileMode has EVENT_TRACE_COMPRESSED_MODE, the logfile
//     header's layout version is 2.0 and the header buffer (flags
//     FLUSH_MARKER only, State 3 = COMPRESSION_FORMAT_XPRESS) stays
//     uncompressed.
//   - In relogged files (LogFileMode has EVENT_TRACE_RELOG_MODE) the header
//     buffer has CurrentOffset 0 and State 0 (3 when compressed).
//
// [Reemit] copies a trace through our reader: every event the reader
// delivers is written again from [etw.Event.Raw] into the buffer of its
// processor. With [ReemitOptions.Layout] it keeps the buffer boundaries and
// file order and copies the buffer-header fields that events cannot tell
// (sequence number, flush time stamp, logger id, the processor index as
// stored, the lost-event flags, and the header buffer's Offset and the zero
// SavedOffset of Windows 7 header buffers). For every uncompressed trace of
// the shared corpus the result matches the original byte for byte except
// in these volatile places, which the writer fills with zeros or by rule:
//
//   - ReferenceCount (buffer header 0x0C), written 0.
//   - The ClockType/Frequency union at 0x20 (stale kernel pointers in
//     files), written 0.
//   - The ReferenceTime union at 0x38 (stale list pointers), written 0.
//   - CurrentOffset (0x08), computed by the rule above; it differs from
//     Windows in 9 of the 1,142 data buffers of the corpus's 33
//     uncompressed traces (where the record that did not fit is not the
//     next record of that processor in the file).
//   - The alignment padding after each record: Windows leaves stale memory
//     there, the writer zeros.
//   - In relogged header buffers, the stale duplicate records between
//     SavedOffset and Offset: the writer writes 0xFF filler there.
//
// Compressed traces re-emit to the same events, but not to the same bytes
// (Windows' compressor makes other choices).
//
// [Scenario] generates realistic pool traffic for tests and benchmarks:
// process, thread and image rundown (with KernelTraceControl DbgID_RSDS
// records carrying the Image event's timestamp), allocations and frees with
// StackWalk records whose stacks cross kernel, 64-bit user and WOW64
// 32-bit frames (kernel and user halves in separate records, user halves
// sometimes later, and stack keys defined by KeyRundown records at the
// end), session and big-pool variants, address reuse and, optionally, the
// WOW64 ReadFile IRP leak of testdata/irp-leak.etl and damage (a free whose
// allocation predates the trace, an allocation whose free was lost,
// counted in EventsLost). It is deterministic for a seed and keeps only
// live allocations in memory, so [Scale] streams traces of any size.
// [Scenario.WriteTo] writes it through a [Writer]; [Scenario.Bytes] and
// [Scenario.WriteFile] make the Writer and write it into memory or a file.
//
// Choices where Windows' behaviour is not verified: pool events use SYSTEM
// headers by default (no trace with pool events was available;
// ScenarioOptions.PoolHeader writes them with PERFINFO headers, which
// carry no process or thread, to test readers on both forms), Image and Process
// DCStart/DCEnd use PERFINFO headers and Load/Start SYSTEM headers (as
// observed), free events carry the block's tag, type and size, and big-pool
// allocations have [BigPoolMask] in their pool type.
//
// # Streaming
//
// The writer keeps one buffer per processor plus the flush window in
// memory. With an io.WriterAt destination (an *os.File, a [MemFile]) it
// reserves the header buffer and writes it at Close with the final
// BuffersWritten and EndTime; a plain io.Writer gets the header buffer
// first, with BuffersWritten 0 and EndTime 0.
//
// # Concurrency
//
// A [Writer] and a [Scenario] are not safe for concurrent use. Builders
// are pure functions.
//
// # Security
//
// The writer trusts its caller: records are framed and bounded
// ([MaxRecordSize], the buffer size) but their contents are written as
// given. [ParseBufferHeader] and [Reemit] accept untrusted input; Reemit
// reads it through etw's reader, which bounds every length it reads.
package etltest
