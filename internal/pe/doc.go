// Package pe is a hardened reader for the parts of PE/COFF images that stack
// symbolization needs: the machine, the 32- or 64-bit optional header
// (ImageBase, SizeOfImage, TimeDateStamp, CheckSum), the section table and
// RVA-to-file-offset mapping, the export table (names, ordinals,
// forwarders; sorted by RVA for address lookup) and the debug directory's
// CodeView RSDS record, which names the PDB (GUID, Age, path) that matches
// the image.
//
// [NewFile] reads the headers eagerly from an [io.ReaderAt]; [File.Exports]
// and [File.CodeView] read their tables lazily, on first use.
//
// Supported machines are x86 (IMAGE_FILE_MACHINE_I386), x64
// (IMAGE_FILE_MACHINE_AMD64) and ARM64 (IMAGE_FILE_MACHINE_ARM64); other
// machine values are reported as they are and parsed the same way.
//
// # Security
//
// Images are treated as untrusted input: kernel traces name drivers and DLLs
// from any machine, and the files found on a symbol path may be damaged or
// hostile. The reader never panics on malformed input, checks every offset
// against the input size before reading, and caps every count and length
// field with a named limit (maxSections, maxExports, maxNameLen,
// maxDebugEntries and friends) so that allocations are bounded by what the
// input can justify. Malformed input yields a [*FormatError] that says where
// the problem is and wraps [ErrNotPE], [ErrTruncated] or [ErrCorrupt]. The
// package is fuzzed (FuzzPE) from real images.
//
// # Concurrency
//
// A [File] is safe for concurrent use once [NewFile] returns, provided the
// underlying [io.ReaderAt] is (an [*os.File] or [*bytes.Reader] is). The
// export table is parsed once and cached.
package pe
