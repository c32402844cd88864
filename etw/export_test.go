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

// FollowZip turns the following of zip members being inflated on or off,
// so that tests can compare both ways, and returns the previous setting.
func FollowZip(on bool) bool {
	old := followZip
	followZip = on
	return old
}

// Follows reports whether r follows a zip member still being inflated.
func Follows(r *Reader) bool { return r.size < 0 }
