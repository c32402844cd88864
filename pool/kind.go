package pool

import (
	"encoding/json"
	"fmt"
)

// Type is the POOL_TYPE value logged with a pool event, possibly with the
// big-pool bit OR-ed in by the kernel. The bit names follow the WDK
// (wdm.h) and ntwmi.h. Package etw decodes it as etw.PoolType, the same
// type.
type Type uint32

// Pool type bits.
const (
	// TypePaged is bit 0 of the base type (Type & 7): PagedPool 1 and
	// PagedPoolCacheAligned 5 are paged; 0, 2, 4, 6 are nonpaged.
	TypePaged Type = 0x1
	// TypeMustSucceed marks the ...MustSucceed variants.
	TypeMustSucceed Type = 0x2
	// TypeCacheAligned marks the ...CacheAligned variants.
	TypeCacheAligned Type = 0x4
	// TypeSession is the session bit (NonPagedPoolSession = 32).
	TypeSession Type = 0x20
	// TypeNX marks no-execute nonpaged pool (NonPagedPoolNx = 512,
	// POOL_NX_ALLOCATION). NX pool is reported as nonpaged.
	TypeNX Type = 0x200
	// TypeBigPool (ETW_POOLTRACE_BIGPOOL_MASK) is OR-ed into Type by the
	// kernel for big-pool allocations. The ledger masks it off and counts
	// it per tag.
	TypeBigPool Type = 0x10000000
)

// Base returns the pool type with the big-pool bit masked off.
func (t Type) Base() Type { return t &^ TypeBigPool }

// IsBigPool reports whether the big-pool bit is set.
func (t Type) IsBigPool() bool { return t&TypeBigPool != 0 }

// IsPaged reports paged pool (PagedPool, PagedPoolCacheAligned and their
// session variants).
func (t Type) IsPaged() bool { return t&TypePaged != 0 }

// IsNX reports non-executable nonpaged pool (NonPagedPoolNx and variants).
func (t Type) IsNX() bool { return t&TypeNX != 0 }

// IsSession reports session pool.
func (t Type) IsSession() bool { return t&TypeSession != 0 }

// Kind returns the pool kind of the type; see [KindOf], which also takes
// the event's opcode into account.
func (t Type) Kind() Kind { return KindOf(uint32(t), false) }

// Kind is the pool an allocation came from, as WPA groups them.
type Kind uint8

// Pool kinds. The zero value is [NonPaged].
const (
	NonPaged        Kind = iota // nonpaged pool, including NX pool
	Paged                       // paged pool
	NonPagedSession             // nonpaged session pool
	PagedSession                // paged session pool
	numKinds
)

var kindNames = [numKinds]string{"nonpaged", "paged", "nonpaged-session", "paged-session"}

// KindOf returns the pool kind of a raw POOL_TYPE value. session is true for
// the session opcodes (ALLOCATEPOOL_SESSION, FREEPOOL_SESSION); the 0x20 bit
// in typ also makes the kind a session kind. The big-pool bit and the caller
// modifier flags (NX, cache-aligned, must-succeed, quota, zero, cold) do not
// change the kind.
func KindOf(typ uint32, session bool) Kind {
	t := Type(typ)
	k := NonPaged
	if t.IsPaged() {
		k = Paged
	}
	if session || t.IsSession() {
		k += NonPagedSession
	}
	return k
}

// Session reports whether k is a session pool kind.
func (k Kind) Session() bool { return k == NonPagedSession || k == PagedSession }

// String returns "nonpaged", "paged", "nonpaged-session" or "paged-session",
// or "kind(N)" for a value outside that set.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText implements [encoding.TextMarshaler] with the names of [Kind.String].
func (k Kind) MarshalText() ([]byte, error) {
	if k >= numKinds {
		return nil, fmt.Errorf("pool: invalid kind %d", uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]; it accepts the names of
// [Kind.String].
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if string(b) == n {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("pool: unknown pool kind %q", b)
}

// Tag is a pool tag as logged: a little-endian u32 whose least significant
// byte is the first character (ExAllocatePoolWithTag's 'Irp ' is logged as
// 0x20707249). Package etw decodes it as etw.PoolTag, the same type.
type Tag uint32

// MakeTag builds a Tag from its text form, first character first. Missing
// characters are padded with spaces; characters past the fourth are ignored.
// [ParseTag] refuses empty and longer text.
func MakeTag(s string) Tag {
	var t Tag
	for i := range 4 {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		t |= Tag(c) << (8 * i)
	}
	return t
}

// String returns the four characters of the tag in memory order, keeping
// trailing spaces ("Irp "). A byte outside printable ASCII (0x20–0x7E), and
// the backslash, is written as \xNN, so every tag has a distinct,
// reversible text form.
func (t Tag) String() string {
	var b [16]byte
	return string(t.appendTo(b[:0]))
}

const hexDigits = "0123456789abcdef"

func (t Tag) appendTo(b []byte) []byte {
	for i := range 4 {
		c := byte(t >> (8 * i))
		if c < 0x20 || c > 0x7E || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// AppendText appends the tag's String form to b.
func (t Tag) AppendText(b []byte) ([]byte, error) { return t.appendTo(b), nil }

// MarshalText implements [encoding.TextMarshaler] with the String form.
func (t Tag) MarshalText() ([]byte, error) { return t.appendTo(nil), nil }

// MarshalJSON writes the tag as a JSON string in the form of [Tag.String].
func (t Tag) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalText implements [encoding.TextUnmarshaler]: it reads the form
// of [Tag.String] (its \xNN escapes included) of up to four characters,
// padding shorter text with spaces, so a report's JSON decodes back.
func (t *Tag) UnmarshalText(text []byte) error {
	var v Tag
	n := 0
	for i := 0; i < len(text); i++ {
		if n == 4 {
			return fmt.Errorf("%w: %q is longer than four characters", ErrTagText, text)
		}
		c := text[i]
		if c == '\\' && i+3 < len(text) && text[i+1] == 'x' {
			hi, ok1 := unhex(text[i+2])
			lo, ok2 := unhex(text[i+3])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 3
			}
		}
		v |= Tag(c) << (8 * n)
		n++
	}
	for ; n < 4; n++ {
		v |= Tag(' ') << (8 * n)
	}
	*t = v
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
