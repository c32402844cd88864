package etw

// ReadInStep makes r decompress every buffer when it reaches it, as
// without decompress-ahead, so that tests can compare both ways.
func ReadInStep(r *Reader) {
	r.start()
	r.ahead = false
}

// DecompressesAhead starts r and reports whether it decompresses ahead.
func DecompressesAhead(r *Reader) bool {
	r.start()
	return r.ahead
}
