// Package xca implements the three compression formats of Microsoft's
// [MS-XCA] Xpress Compression Algorithm specification: plain LZ77 XPRESS
// (COMPRESSION_FORMAT_XPRESS, §2.3-2.4), LZ77+Huffman XPRESS
// (COMPRESSION_FORMAT_XPRESS_HUFF, §2.1-2.2) and LZNT1
// (COMPRESSION_FORMAT_LZNT1, §2.5). ETL files written in compressed mode
// name one of them in their first buffer's State field and compress every
// later buffer's payload with it; all compressed traces seen so far use
// plain LZ77.
//
// Each format has a decompressor that writes into a caller-provided buffer,
//
//	n, err := xca.DecompressLZ77(dst, src) // len(dst) is the maximum output
//
// and a compressor that appends to a slice,
//
//	out = xca.AppendCompressLZ77(out, data)
//
// with [Decompress] and [AppendCompress] dispatching on a [Format]. The
// streams carry no size: callers that know the decompressed size (an ETL
// buffer's SavedOffset minus its 72-byte header) pass a dst of exactly that
// size and compare it with n. For LZ77+Huffman an exactly sized dst also
// settles the one ambiguity of the format (see [DecompressHuffman]).
//
// The compressors find matches with bounded hash chains and one step of lazy
// matching. On the corpus' ETL buffers they produce smaller output than the
// Windows logger did (plain LZ77: about 0.87 of its size) and run at well
// over 100 MB/s; a [Compressor] keeps its tables between calls so repeated
// compression does not allocate beyond the output. Output of this package
// follows the specification, including its end-of-stream conventions, and
// reproduces the specification's example encodings byte for byte
// (§3.1, §3.2).
//
// # Security
//
// The decompressors are meant for untrusted input. For any input they
// return without panicking, never write outside dst[:len(dst)], never read
// outside src, do work linear in len(src)+len(dst) (every step consumes input or
// produces output, no step produces more than the room left in dst, and an
// LZ77+Huffman block, which costs a 32768-entry table build, consumes at
// least 260 input bytes), and allocate nothing. Malformed input
// gives an error wrapping [ErrCorrupt]; output that would not fit gives one
// wrapping [ErrOutputTooLarge]; both name the input offset. Fuzz targets
// exercise all three decoders and the compress/decompress round trip.
//
// # Concurrency
//
// The package-level functions are safe for concurrent use. A [Compressor]
// must be used by one goroutine at a time.
//
// [MS-XCA]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-xca/
package xca
