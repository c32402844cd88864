// Package guid is the Windows GUID shared by the ETL reader (as etw.GUID)
// and the PDB and PE parsers, which need it without importing etw.
package guid

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// GUID is a Windows GUID in its in-memory layout: Data1, Data2 and Data3 are
// little-endian in ETL files and Data4 is a plain byte array.
type GUID struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// String returns the GUID in canonical lowercase form without braces,
// e.g. "0268a8b6-74fd-4302-9dd0-6e8f1795c0cf".
func (g GUID) String() string {
	var b [36]byte
	g.appendTo(b[:0])
	return string(b[:])
}

// AppendText appends the canonical lowercase form of g to b.
func (g GUID) AppendText(b []byte) ([]byte, error) { return g.appendTo(b), nil }

// MarshalText implements [encoding.TextMarshaler] with the canonical form.
func (g GUID) MarshalText() ([]byte, error) { return g.appendTo(make([]byte, 0, 36)), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; see [Parse].
func (g *GUID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

const hexDigits = "0123456789abcdef"

func (g GUID) appendTo(b []byte) []byte {
	hex := func(b []byte, v uint64, n int) []byte {
		for i := n - 1; i >= 0; i-- {
			b = append(b, hexDigits[(v>>(uint(i)*4))&0xf])
		}
		return b
	}
	b = hex(b, uint64(g.Data1), 8)
	b = append(b, '-')
	b = hex(b, uint64(g.Data2), 4)
	b = append(b, '-')
	b = hex(b, uint64(g.Data3), 4)
	b = append(b, '-')
	for i, c := range g.Data4 {
		if i == 2 {
			b = append(b, '-')
		}
		b = hex(b, uint64(c), 2)
	}
	return b
}

// IsZero reports whether g is the all-zero GUID.
func (g GUID) IsZero() bool { return g == GUID{} }

// Bytes returns the 16-byte little-endian wire form of g, as it is stored in
// ETL records.
func (g GUID) Bytes() [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[0:], g.Data1)
	binary.LittleEndian.PutUint16(b[4:], g.Data2)
	binary.LittleEndian.PutUint16(b[6:], g.Data3)
	copy(b[8:], g.Data4[:])
	return b
}

// FromBytes decodes the 16-byte wire form of a GUID. It panics if b is
// shorter than 16 bytes.
func FromBytes(b []byte) GUID {
	_ = b[15]
	var g GUID
	g.Data1 = binary.LittleEndian.Uint32(b)
	g.Data2 = binary.LittleEndian.Uint16(b[4:])
	g.Data3 = binary.LittleEndian.Uint16(b[6:])
	copy(g.Data4[:], b[8:16])
	return g
}

// errBadGUID keeps the text it had when the type lived in package etw.
var errBadGUID = errors.New("etw: malformed GUID")

// Parse parses a GUID in canonical form, with or without braces, in
// either letter case.
func Parse(s string) (GUID, error) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return GUID{}, fmt.Errorf("%w: %q", errBadGUID, s)
	}
	var digits [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' && (i == 8 || i == 13 || i == 18 || i == 23) {
			continue
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return GUID{}, fmt.Errorf("%w: %q", errBadGUID, s)
		}
		digits[n] = v
		n++
	}
	num := func(from, count int) uint64 {
		var v uint64
		for _, d := range digits[from : from+count] {
			v = v<<4 | uint64(d)
		}
		return v
	}
	g := GUID{Data1: uint32(num(0, 8)), Data2: uint16(num(8, 4)), Data3: uint16(num(12, 4))}
	for i := range g.Data4 {
		g.Data4[i] = byte(num(16+2*i, 2))
	}
	return g, nil
}

// MustParse is like [Parse] but panics on malformed input. It is
// meant for package-level variables holding well-known GUIDs.
func MustParse(s string) GUID {
	g, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return g
}
