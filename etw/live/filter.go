package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/etwkit/etwkit/etw"
)

// MaxPoolTags is the most pool tags a session filters on
// (ETW_MAX_POOLTAG_FILTER).
const MaxPoolTags = 4

// ErrBadPoolTag reports an invalid entry of [Options.PoolTags].
var ErrBadPoolTag = errors.New("live: invalid pool tag")

// ParsePoolTag converts a pool tag as people write it ("Irp", "NDnd") to the
// 32-bit value events carry: the characters in memory order, padded with
// spaces to four. Tags are 1 to 4 printable ASCII characters.
func ParsePoolTag(s string) (uint32, error) {
	if len(s) == 0 || len(s) > 4 {
		return 0, fmt.Errorf("%w %q: a tag has 1 to 4 characters", ErrBadPoolTag, s)
	}
	b := [4]byte{' ', ' ', ' ', ' '}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7E {
			return 0, fmt.Errorf("%w %q: character %d is not printable ASCII", ErrBadPoolTag, s, i)
		}
		b[i] = c
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// tagPattern is one entry of [Options.PoolTags]: the tag value the kernel
// filter receives and a mask of the bytes that must match (a wildcard
// byte has a zero mask).
type tagPattern struct {
	value, mask uint32
}

// match reports whether tag (protected bit cleared) matches the pattern.
func (p tagPattern) match(tag uint32) bool {
	return tag&p.mask == p.value&p.mask
}

// parseTagPattern parses a pool tag that may hold wildcards: '?' stands
// for any one character and a trailing '*' for any characters up to the
// fourth, the conventions of the kernel debugger's !poolfind and of the
// kernel's pool tag filter. A pattern without '*' is padded with spaces
// like a plain tag ("Nt?" is "Nt? "); "Nt*" is sent to the kernel as
// "Nt**", which means the same whether the kernel reads '*' as "any
// byte" or as "any rest". How the kernel compares is not documented
// (unverified): a '*' that is not last has no single meaning and is
// refused, so the user-mode filter never disagrees with the kernel's.
func parseTagPattern(s string) (tagPattern, error) {
	star := strings.IndexByte(s, '*')
	if star >= 0 && star != len(s)-1 {
		return tagPattern{}, fmt.Errorf("%w %q: '*' may only end a tag (\"Nt*\"); use '?' for one character", ErrBadPoolTag, s)
	}
	body := s
	if star >= 0 {
		body = s[:star]
	}
	if len(body) > 4 || (star < 0 && len(s) == 0) {
		return tagPattern{}, fmt.Errorf("%w %q: a tag has 1 to 4 characters", ErrBadPoolTag, s)
	}
	pad := byte(' ')
	if star >= 0 {
		pad = '*'
	}
	b := [4]byte{pad, pad, pad, pad}
	m := [4]byte{0xFF, 0xFF, 0xFF, 0xFF}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c < 0x20 || c > 0x7E {
			return tagPattern{}, fmt.Errorf("%w %q: character %d is not printable ASCII", ErrBadPoolTag, s, i)
		}
		b[i] = c
		if c == '?' {
			m[i] = 0
		}
	}
	if star >= 0 {
		for i := len(body); i < 4; i++ {
			m[i] = 0
		}
	}
	le := binary.LittleEndian
	return tagPattern{value: le.Uint32(b[:]), mask: le.Uint32(m[:]) &^ protectedTagBit}, nil
}

// HasWildcard reports whether a pool tag as given in [Options.PoolTags]
// holds a wildcard ('?' or '*'), so it selects several tags.
func HasWildcard(tag string) bool { return strings.ContainsAny(tag, "*?") }

// parsePoolTags validates a tag list.
func parsePoolTags(tags []string) ([]tagPattern, error) {
	if len(tags) > MaxPoolTags {
		return nil, fmt.Errorf("%w: %d tags given, at most %d", ErrBadPoolTag, len(tags), MaxPoolTags)
	}
	out := make([]tagPattern, 0, len(tags))
	for _, s := range tags {
		p, err := parseTagPattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// tagValues returns the values the kernel filter receives.
func tagValues(tags []tagPattern) []uint32 {
	out := make([]uint32, len(tags))
	for i, t := range tags {
		out[i] = t.value
	}
	return out
}

// protectedTagBit is set in the tags of protected pool allocations
// (PROTECTED_POOL); the filter ignores it.
const protectedTagBit = 0x80000000

// dropRingSize is how many dropped pool events the filter remembers to
// drop their stack walks too.
const dropRingSize = 256

// tagFilter drops pool allocation and free events whose tag is not listed,
// and the stack walks of the events it dropped. It runs in the consumer
// callback, so it must not allocate.
type tagFilter struct {
	tags []tagPattern
	ring [dropRingSize]dropped
	next int
}

type dropped struct {
	ts  int64
	tid uint32
}

// keep reports whether a record passes the filter. h is the record header
// and user its payload.
func (f *tagFilter) keep(h *etw.RecordHeader, user []byte) bool {
	if len(f.tags) == 0 || h.Flags&etw.EventHeaderFlagClassicHeader == 0 {
		return true
	}
	switch h.ProviderID {
	case etw.PoolGUID:
		op := h.Descriptor.Opcode
		if op < 0x20 || op > 0x23 || len(user) < 8 {
			return true
		}
		tag := binary.LittleEndian.Uint32(user[4:]) &^ protectedTagBit
		for _, t := range f.tags {
			if t.match(tag) {
				return true
			}
		}
		f.ring[f.next] = dropped{ts: h.TimeStamp, tid: h.ThreadID}
		f.next = (f.next + 1) % dropRingSize
		return false
	case etw.StackWalkGUID:
		if h.Descriptor.Opcode != 0x20 || len(user) < 16 {
			return true
		}
		ts := int64(binary.LittleEndian.Uint64(user))
		tid := binary.LittleEndian.Uint32(user[12:])
		for i := range f.ring {
			if d := f.ring[i]; d.ts == ts && d.tid == tid && ts != 0 {
				f.ring[i] = dropped{}
				return false
			}
		}
	}
	return true
}

// CheckPoolTags reports whether tags are valid for [Options.PoolTags]
// (at most four; each 1 to 4 printable ASCII characters, '?' for any one
// character, a trailing '*' for any rest). The error wraps
// [ErrBadPoolTag]. It lets a program refuse a bad tag as a usage error
// before it starts anything.
func CheckPoolTags(tags []string) error {
	_, err := parsePoolTags(tags)
	return err
}
