package pool

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Bits of the POOL_TYPE value carried in PoolTrace events that the ledger
// interprets. The names follow the WDK (wdm.h) and ntwmi.h.
const (
	// POOL_TYPE_PAGED is bit 0 of the base type (Type & 7): PagedPool 1 and
	// PagedPoolCacheAligned 5 are paged; 0, 2, 4, 6 are nonpaged.
	POOL_TYPE_PAGED = 0x1
	// POOL_TYPE_SESSION is the session bit (NonPagedPoolSession = 32).
	POOL_TYPE_SESSION = 0x20
	// POOL_NX_ALLOCATION marks no-execute nonpaged pool (NonPagedPoolNx = 512).
	// NX pool is reported as nonpaged.
	POOL_NX_ALLOCATION = 0x200
	// ETW_POOLTRACE_BIGPOOL_MASK is OR-ed into Type by the kernel for big-pool
	// allocations. The ledger masks it off and counts it per tag.
	ETW_POOLTRACE_BIGPOOL_MASK = 0x10000000
)

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
	typ &^= ETW_POOLTRACE_BIGPOOL_MASK
	k := NonPaged
	if typ&7&POOL_TYPE_PAGED != 0 {
		k = Paged
	}
	if session || typ&POOL_TYPE_SESSION != 0 {
		k += NonPagedSession
	}
	return k
}

// IsBigPool reports whether a raw POOL_TYPE value carries the big-pool bit
// ([ETW_POOLTRACE_BIGPOOL_MASK]).
func IsBigPool(typ uint32) bool { return typ&ETW_POOLTRACE_BIGPOOL_MASK != 0 }

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
// byte is the first character (a driver's 'Irp ' is logged as 0x20707249).
type Tag uint32

// MakeTag builds a Tag from its text form, first character first. Missing
// characters are padded with spaces; characters past the fourth are ignored.
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
// trailing spaces ("Irp "). A byte outside printable ASCII (0x20–0x7E) is
// written as \xNN, so every tag has a distinct, reversible text form.
func (t Tag) String() string {
	var sb strings.Builder
	for i := range 4 {
		c := byte(t >> (8 * i))
		if c >= 0x20 && c <= 0x7e && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	return sb.String()
}

// MarshalJSON writes the tag as a JSON string in the form of [Tag.String].
func (t Tag) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }
