package etw

import guidpkg "github.com/etwkit/etwkit/internal/guid"

// GUID is a Windows GUID in its in-memory layout: Data1, Data2 and Data3
// are little-endian in ETL files and Data4 is a plain byte array. String
// (and MarshalText, AppendText) give the canonical lowercase form without
// braces, "0268a8b6-74fd-4302-9dd0-6e8f1795c0cf"; UnmarshalText accepts
// what [ParseGUID] accepts; IsZero reports the all-zero GUID; Bytes gives
// the 16-byte wire form stored in ETL records. (The type lives in an
// internal package that the PDB and PE parsers share without importing
// etw.)
type GUID = guidpkg.GUID

// GUIDFromBytes decodes the 16-byte wire form of a GUID. It panics if b is
// shorter than 16 bytes.
func GUIDFromBytes(b []byte) GUID { return guidpkg.FromBytes(b) }

// ParseGUID parses a GUID in canonical form, with or without braces, in
// either letter case.
func ParseGUID(s string) (GUID, error) { return guidpkg.Parse(s) }

// MustParseGUID is like [ParseGUID] but panics on malformed input. It is
// meant for package-level variables holding well-known GUIDs.
func MustParseGUID(s string) GUID { return guidpkg.MustParse(s) }

const hexDigits = "0123456789abcdef"
