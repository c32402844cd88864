package etw

// decompress decodes one compressed buffer's data into dst and returns the
// bytes written; on error, the bytes before the damage.
func decompress(format Compression, dst, src []byte) (int, error) {
	return 0, ErrUnsupportedCompression
}
