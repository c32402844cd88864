package etltest

import "github.com/etwkit/etwkit/internal/xca"

// compressLZ77 appends the XPRESS plain-LZ77 ([MS-XCA] 2.3) compression of
// src to dst, the format Windows uses for compressed ETL buffers
// (COMPRESSION_FORMAT_XPRESS, 3).
func compressLZ77(dst, src []byte) []byte { return xca.AppendCompressLZ77(dst, src) }
