// Package pdb is a hardened reader for Microsoft PDB files (MSF 7.00), as
// written by MSVC's linker and by LLVM's lld-link, for symbolizing stack
// frames from ETW traces on any OS.
//
// [Open] reads the MSF superblock and stream directory, the PDB info stream
// (GUID, age) and the DBI stream (module list, section headers, and the
// OMAP tables of post-link-optimized images). Everything else is read
// lazily through the [io.ReaderAt]:
//
//   - [File.Symbols] and [File.Lookup] use the public symbols (S_PUB32 in
//     the symbol record stream) and the procedures in each module's symbol
//     stream (S_GPROC32, S_LPROC32 for statics, the _ID and DPC variants,
//     S_THUNK32 and S_SEPCODE), converted from segment:offset to RVAs.
//     Lookup prefers the procedure whose code contains the address and
//     falls back to the nearest public symbol in the same section, which is
//     all a stripped public PDB (such as ntoskrnl's) offers.
//   - [File.Line] uses the modules' C13 line tables (DEBUG_S_LINES with
//     DEBUG_S_FILECHKSMS) and the /names string table.
//
// Both build a compact sorted table on first use and answer by binary
// search without allocating. [Undecorate] makes 32-bit C and MSVC C++
// linkage names readable.
//
// The format is documented by LLVM ("The PDB File Format" and its pages on
// MSF, the DBI, public and module streams, C13 line information and
// CodeView symbol records) and by Microsoft's microsoft-pdb cvinfo.h.
// Type information (TPI/IPI) is not read.
//
// # Security
//
// PDBs are untrusted input: they come from symbol servers, caches and build
// drops. The reader never panics on malformed input. Every count and length
// is checked before use and capped with a named limit: block sizes must be
// 512..32768, block indices must lie within NumBlocks and the file, the
// stream directory must fit the one-block block map, streams read into
// memory are capped (maxStreamBytes) as are stream, module, section,
// symbol, line and name counts and lengths, and every symbol record and
// subsection must fit its stream. Malformed input yields a [*FormatError]
// naming the stream and offset and wrapping [ErrNotPDB], [ErrTruncated] or
// [ErrCorrupt]. Accessors keep an error-or-result contract: a damaged
// symbol or line table is reported as an error, never as a partial table.
// The package is fuzzed (FuzzPDB, FuzzUndecorate) from real PDBs.
//
// # Concurrency
//
// A [File] is safe for concurrent use once [Open] returns, provided the
// [io.ReaderAt] is. The symbol and line tables are built once (guarded by
// [sync.Once]) and then only read.
package pdb
