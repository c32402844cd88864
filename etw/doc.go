// Package etw reads Event Tracing for Windows traces: ETL files in pure Go
// on every operating system, and (through the separate package etw/live, on
// Windows) live kernel sessions, as one stream of [Event] values.
//
// # Reading a file
//
// [Open] opens a trace by path ("trace.etl", "trace.etl.zip" or
// "archive.zip!member"); [NewReader] reads from any [io.ReaderAt]. The
// reader walks the file's buffers (72-byte WMI_BUFFER_HEADER each, following
// each buffer's own BufferSize), decompresses compressed buffers (MS-XCA
// plain LZ77, LZNT1 and LZ77+Huffman), frames every record of every header
// type and, by default, delivers events in timestamp order across
// processors: a k-way merge of the per-processor buffer chains, each in
// sequence-number order. [Reader.SetOrder] with [FileOrder] gives the
// records as stored.
//
//	r, err := etw.Open("trace.etl")
//	if err != nil { ... }
//	defer r.Close()
//	for ev, err := range r.All() {
//		if err != nil { ...; continue } // damage: the reader goes on
//		fmt.Println(ev.Time(), ev.Provider, ev.Opcode, len(ev.Payload))
//	}
//
// Events know their header type, provider or class GUID (classic kernel
// groups are mapped to their class GUIDs, and [Event.Hook] keeps the
// group<<8|type hook id), opcode or event id, version, level, keywords,
// process and thread, processor, raw timestamp and wall time
// ([Event.Time]), the pointer size of their payload ([Event.PointerSize]:
// 4 for the 32-bit header types, also inside a 64-bit trace for WOW64
// providers) and the payload itself. Records of unknown header types are
// delivered raw, not dropped.
//
// # Kernel decoders
//
// Typed decoders turn the classic kernel events into Go values, in every
// version and pointer size Windows has shipped: [DecodePool] (PoolTrace
// allocations and frees, regular and session pool, with [PoolTag] and
// [PoolType] helpers), [DecodeStack], [DecodeStackKey] and
// [DecodeStackKeyDef] (StackWalk records and stack keys; [Event.ExtStack]
// for EVENT_HEADER extended-data stacks), [DecodeImage], [DecodeProcess],
// [DecodeThread], [DecodeImageID] and [DecodeDbgID] (KernelTraceControl
// image identity) and [DecodeHeaderExtension]. They dispatch on class (or
// hook group), opcode and version, never on the header type, so the same
// event logged under a SYSTEM or a PERFINFO header decodes alike. One table
// of classes finds an event's class and names its events for all of them
// and for [Event.Kind] ("PoolTrace/PoolAllocation", "Image/DCStart", ...);
// the table's layouts drive [DecodeFields], which returns any known event
// as named fields, while each typed decoder reads its own fields in code,
// in the same order (a test builds a payload from every layout and checks
// that both ways agree). A payload too short for a field gives a
// *[DecodeError] naming that field; trailing bytes from newer versions are
// ignored. Decoding a pool or stack event allocates nothing; for loops over
// millions of events, [PoolEvent.Decode] and [StackKey.Decode] fill a value
// the caller keeps instead of returning a copy.
//
// # Any event
//
// [Decode] names any event it has a schema for and returns its fields in
// order with typed values ([Decoded]): the classic kernel classes
// (EventTrace, Process, Thread, Image, FileIO names, DiskIO, Memory,
// PerfInfo, TcpIp, UdpIp, Registry, ALPC, ThreadPool, SystemConfig,
// SysConfig, KernelTraceControl) from a table of MOF layouts, and
// TraceLogging events from the schema in their extended data. Names follow
// TraceEvent's (PerfView), so output diffs against it. A [SchemaSet] adds
// the schemas a trace carries: EventSource manifests (ManifestData events)
// and the TDH metadata xperf merges add (KernelTraceControl MetaData), for
// the events of manifest providers. [ProviderName] names well-known
// providers. None of it needs Windows.
//
// # Memory and aliasing
//
// The reader keeps one buffer (and one decompression buffer) per processor
// stream plus a small index of buffer headers, whatever the file size. On
// compressed traces it also decompresses the buffers it will need next
// ahead (up to eight, three of one stream), on a few worker goroutines
// (the other cores), when its memory budget covers them in the worst case
// the buffer headers allow;
// their outcome, damage included, is reported when the reader reaches
// them, exactly as if they had been decompressed then.
// [Reader.ReadEvent] returns a pointer into that state: the Event and its
// slices are valid until the next call. Decoding an event costs no
// allocation; [Event.Clone] and [Event.CloneInto] make copies that outlive
// the call.
//
// # Errors
//
// Errors wrap the sentinels [ErrNotETL], [ErrTruncated], [ErrCorrupt],
// [ErrUnsupportedCompression], [ErrLimit] and, for the typed decoders,
// [ErrShortPayload]. Damage inside a file is a *[FormatError] that names
// the buffer and the byte offset: it is returned after every good event
// before it, and reading resumes with the next buffer. Damage found while
// opening (a buffer walk that broke off, a zip member whose inflation
// failed) is returned after the last event; [Reader.PendingErrors] returns
// it at any time, for a caller that stops reading early. Counters of what
// was seen (lost-event flags, damaged buffers, unknown records) are in
// [Reader.Stats]. [Reader.Report] sums it up once reading is over: a
// [ReadReport] says whether the trace was read whole, and lists the
// damage.
//
// # Security
//
// ETL files are untrusted input. The reader never panics on malformed
// input and its memory follows what the input really holds, not what its
// headers claim. Every length field is bounded: a buffer by
// [MaxBufferSize] and by the file, a record by its buffer, a string by
// [MaxStringBytes]; decoders read only inside the payload. A compressed
// buffer may claim at most [MaxExpansion] times its bytes in the file and
// no more than the session's buffer size, and is allocated only then. The
// buffers a Reader holds (one per processor with events in flight in time
// order, one in file order) stay within the smaller of [Limits].MaxMemory
// ([DefaultMaxMemory]) and a budget proportional to the input's size on
// disk; past it, reading stops with a *[LimitError] ([ErrLimit]) that says
// what it would have needed.
//
// A zip member's budget follows its compressed size. A deflated member is
// refused when it claims more than [ZipExpansion] times its compressed
// size, judged on its first 80 bytes before anything else is inflated, and
// inflated while its chain of buffer headers is followed: inflation stops
// 16 MiB after the chain breaks off. Members over 64 MiB are inflated into
// a temporary file that is removed on every path (unlinked at once outside
// Windows). A member whose inflation fails is read up to the damage, which
// is reported after its events. These properties are checked by fuzzing
// (FuzzReader, which also fails a run that allocates more than its
// ceiling) and by tests of crafted files (etltest.WriteBomb).
//
// # Concurrency
//
// A [Reader] is not safe for concurrent use; distinct Readers are
// independent. A Reader calls its io.ReaderAt from the goroutine that
// reads and, in a compressed trace, from the goroutines that decompress
// ahead, which read the compressed bytes of the buffers they decompress:
// these calls may overlap, as the io.ReaderAt contract allows, and
// [Reader.Close] returns only once they have ended. Apart from those
// reads, the goroutines touch only their own buffers. A deflated zip
// member is inflated on a goroutine of its own, which a file-order read
// follows and [Reader.Close] stops. Decoded values and clones may be
// shared freely.
package etw
