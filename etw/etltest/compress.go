package etltest

// compressLZ77 appends the XPRESS plain-LZ77 compression of src to dst.
// TEMPORARY until internal/xca lands.
func compressLZ77(dst, src []byte) []byte { panic("xca not merged yet") }
