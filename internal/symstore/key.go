package symstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/etwkit/etwkit/internal/guid"
)

// Limits on lookup names and keys.
const (
	// MaxNameLen is the longest file name accepted by a lookup, in bytes.
	MaxNameLen = 255
	// MaxKeyLen is the longest key (the KEY folder name) accepted.
	MaxKeyLen = 128
)

// ErrBadName is wrapped by lookups given a file name or key that cannot be
// a symbol store path component.
var ErrBadName = errors.New("symstore: bad file name or key")

// PDBKey identifies a PDB: its file name and the GUID and age from the
// image's CodeView (RSDS) record or the PDB's own info stream.
type PDBKey struct {
	// Name is the PDB file name, e.g. "ntkrnlmp.pdb". A full path (as in
	// an RSDS record) is reduced to its last element, after '\' or '/'.
	Name string
	GUID guid.GUID
	Age  uint32
}

// Dir returns the store key: the GUID as 32 upper-case hex digits (Data1,
// Data2, Data3 with leading zeros, then the eight Data4 bytes, in the
// canonical textual order, no dashes) followed by the age in upper-case
// hex without leading zeros, as symsrv writes it. Example:
// "1B72224D37B8179228200ED8994498B21".
func (k PDBKey) Dir() string {
	var b [32 + 8]byte
	out := appendHex(b[:0], uint64(k.GUID.Data1), 8, upperHex)
	out = appendHex(out, uint64(k.GUID.Data2), 4, upperHex)
	out = appendHex(out, uint64(k.GUID.Data3), 4, upperHex)
	for _, c := range k.GUID.Data4 {
		out = appendHex(out, uint64(c), 2, upperHex)
	}
	out = strconv.AppendUint(out, uint64(k.Age), 16)
	for i := 32; i < len(out); i++ {
		if c := out[i]; c >= 'a' && c <= 'f' {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// PEKey identifies an executable image (.exe, .dll, .sys) by the
// TimeDateStamp of its COFF file header and the SizeOfImage of its
// optional header, as in an Image/Load event.
type PEKey struct {
	// Name is the image file name, e.g. "ntoskrnl.exe". A full path is
	// reduced to its last element.
	Name          string
	TimeDateStamp uint32
	SizeOfImage   uint32
}

// Dir returns the store key: TimeDateStamp as exactly 8 upper-case hex
// digits followed by SizeOfImage in lower-case hex without leading zeros
// (symsrv's "%08X%x"). Example: "4A5BC6008e0000".
func (k PEKey) Dir() string {
	var b [16]byte
	out := appendHex(b[:0], uint64(k.TimeDateStamp), 8, upperHex)
	out = strconv.AppendUint(out, uint64(k.SizeOfImage), 16)
	return string(out)
}

const upperHex = "0123456789ABCDEF"

func appendHex(b []byte, v uint64, n int, digits string) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

// baseName reduces a Windows or slash path to its last element.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `\/`); i >= 0 {
		return name[i+1:]
	}
	return name
}

// checkName validates a file name used as a store path component: not
// empty, not "." or "..", valid UTF-8, no control characters, no path
// separator, none of the characters Windows forbids in names (<>:"|?*;
// ':' would also name a drive or an NTFS stream), at most MaxNameLen
// bytes.
func checkName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: name %q", ErrBadName, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name of %d bytes, limit %d", ErrBadName, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name %q is not UTF-8", ErrBadName, name)
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(`/\<>:"|?*`, c) {
			return fmt.Errorf("%w: name %q has character %q", ErrBadName, name, c)
		}
	}
	return nil
}

// checkKey validates a KEY folder name: 1..MaxKeyLen characters from
// [0-9A-Za-z_-].
func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key %q", ErrBadName, key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("%w: key %q has character %q", ErrBadName, key, c)
		}
	}
	return nil
}

// compressedName returns the name of the CAB-compressed form of a stored
// file: the last character replaced by '_' ("ntdll.pdb" -> "ntdll.pd_").
func compressedName(name string) string {
	_, size := utf8.DecodeLastRuneInString(name)
	return name[:len(name)-size] + "_"
}

// tierPrefix returns the intermediate folder of the two-tier layout: the
// first two characters of the file name.
func tierPrefix(name string) string {
	n := 0
	for i := range name {
		if n == 2 {
			return name[:i]
		}
		n++
	}
	return name
}
