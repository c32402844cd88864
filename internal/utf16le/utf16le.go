// Package utf16le turns the UTF-16LE text of ETW payloads (file names,
// command lines, method names, TDH strings) into UTF-8, the way
// string(utf16.Decode(units)) does, without that call's two intermediate
// copies: decoding text is much of what decoding those events costs.
package utf16le

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Text returns the length in bytes of the NUL-terminated text at the
// start of b, without its terminator (a 0 unit), and whether b holds the
// terminator; without it, n is len(b) rounded down to a whole unit.
func Text(b []byte) (n int, terminated bool) {
	for n+1 < len(b) {
		if b[n] == 0 && b[n+1] == 0 {
			return n, true
		}
		n += 2
	}
	return n, false
}

// Append appends the text of b, UTF-16LE bytes, to dst in UTF-8 and
// returns the extended slice: each unit as its rune, a surrogate pair as
// the one rune it encodes, and a surrogate without its other half as
// U+FFFD, as utf16.Decode gives them. An odd last byte is left out.
func Append(dst, b []byte) []byte {
	for i := 0; i+1 < len(b); i += 2 {
		u := rune(binary.LittleEndian.Uint16(b[i:]))
		switch {
		case u < utf8.RuneSelf:
			dst = append(dst, byte(u))
			continue
		case utf16.IsSurrogate(u):
			if i+3 < len(b) {
				// DecodeRune gives U+FFFD unless u and the next
				// unit make a pair, and a pair never encodes U+FFFD.
				if r := utf16.DecodeRune(u, rune(binary.LittleEndian.Uint16(b[i+2:]))); r != utf8.RuneError {
					dst = utf8.AppendRune(dst, r)
					i += 2
					continue
				}
			}
			u = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, u)
	}
	return dst
}

// String returns the text of b (see Append) as a string, with one
// allocation.
func String(b []byte) string {
	b = b[:len(b)&^1]
	i := 0 // the text is ASCII up to i
	for i < len(b) && b[i+1] == 0 && b[i] < utf8.RuneSelf {
		i += 2
	}
	if i == len(b) {
		if i == 0 {
			return ""
		}
		s := make([]byte, i/2)
		for k := range s {
			s[k] = b[2*k]
		}
		return unsafeString(s)
	}
	n := i / 2 // the length in UTF-8, at most: a pair's units count 3 bytes each
	for ; i < len(b); i += 2 {
		switch u := binary.LittleEndian.Uint16(b[i:]); {
		case u < utf8.RuneSelf:
			n++
		case u < 0x800:
			n += 2
		default:
			n += 3
		}
	}
	return unsafeString(Append(make([]byte, 0, n), b))
}

// unsafeString returns the bytes of s, which is new and written no more,
// as a string that shares them, as strings.Builder's strings do.
func unsafeString(s []byte) string {
	return unsafe.String(unsafe.SliceData(s), len(s))
}
