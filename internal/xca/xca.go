package xca

import (
	"errors"
	"fmt"
	"strconv"
)

// Format is a Windows COMPRESSION_FORMAT_* value naming one of the MS-XCA
// formats. ETL files store it in the low 16 bits of the first buffer's State
// field when the logger ran in compressed mode.
type Format uint16

// The MS-XCA formats, numbered as COMPRESSION_FORMAT_* in the Windows SDK.
const (
	FormatLZNT1         Format = 2 // COMPRESSION_FORMAT_LZNT1 ([MS-XCA] §2.5)
	FormatXpress        Format = 3 // COMPRESSION_FORMAT_XPRESS: plain LZ77 ([MS-XCA] §2.3, §2.4)
	FormatXpressHuffman Format = 4 // COMPRESSION_FORMAT_XPRESS_HUFF: LZ77+Huffman ([MS-XCA] §2.1, §2.2)
)

// String returns "LZNT1", "XPRESS(LZ77)", "XPRESS_HUFF", or "Format(n)" for
// other values.
func (f Format) String() string {
	switch f {
	case FormatLZNT1:
		return "LZNT1"
	case FormatXpress:
		return "XPRESS(LZ77)"
	case FormatXpressHuffman:
		return "XPRESS_HUFF"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Sentinel errors. Errors returned by this package wrap one of them and say
// at which input offset the problem was found.
var (
	// ErrCorrupt reports malformed compressed input.
	ErrCorrupt = errors.New("xca: corrupt compressed data")
	// ErrOutputTooLarge reports that the decompressed data would not fit in
	// the destination buffer.
	ErrOutputTooLarge = errors.New("xca: decompressed data exceeds destination buffer")
	// ErrUnsupported reports a Format this package does not implement.
	ErrUnsupported = errors.New("xca: unsupported compression format")
)

// corrupt returns an error wrapping ErrCorrupt.
func corrupt(f Format, off int, what string) error {
	return fmt.Errorf("%w: %v: %s at input offset %d", ErrCorrupt, f, what, off)
}

// tooLarge returns an error wrapping ErrOutputTooLarge.
func tooLarge(f Format, off, out, capacity int) error {
	return fmt.Errorf("%w: %v: output of %d-byte buffer full at input offset %d (output offset %d)",
		ErrOutputTooLarge, f, capacity, off, out)
}

// Decompress decompresses src in format f into dst (len(dst) is the maximum
// output) and returns the number of bytes written. An unknown format gives
// an error wrapping ErrUnsupported.
func Decompress(f Format, dst, src []byte) (int, error) {
	switch f {
	case FormatLZNT1:
		return DecompressLZNT1(dst, src)
	case FormatXpress:
		return DecompressLZ77(dst, src)
	case FormatXpressHuffman:
		return DecompressHuffman(dst, src)
	}
	return 0, fmt.Errorf("%w: %v", ErrUnsupported, f)
}

// AppendCompress appends the compressed form of src in format f to dst. An
// unknown format gives an error wrapping ErrUnsupported.
func AppendCompress(f Format, dst, src []byte) ([]byte, error) {
	switch f {
	case FormatLZNT1:
		return AppendCompressLZNT1(dst, src), nil
	case FormatXpress:
		return AppendCompressLZ77(dst, src), nil
	case FormatXpressHuffman:
		return AppendCompressHuffman(dst, src), nil
	}
	return dst, fmt.Errorf("%w: %v", ErrUnsupported, f)
}

// copyMatch copies length bytes from dst[out-dist:] to dst[out:], byte by
// byte in effect, so that an overlapping match (dist < length) repeats its
// pattern. The caller has checked 1 <= dist <= out and out+length <= len(dst).
func copyMatch(dst []byte, out, dist, length int) {
	if dist >= length {
		copy(dst[out:out+length], dst[out-dist:])
		return
	}
	if dist == 1 {
		b := dst[out-1]
		s := dst[out : out+length]
		for i := range s {
			s[i] = b
		}
		return
	}
	// Each round copies the whole period written so far, doubling it.
	end := out + length
	for out < end {
		out += copy(dst[out:end], dst[out-dist:out])
		dist *= 2
	}
}
