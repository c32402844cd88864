package live

import (
	"encoding/binary"
	"errors"
	"fmt"

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

// parsePoolTags validates a tag list.
func parsePoolTags(tags []string) ([]uint32, error) {
	if len(tags) > MaxPoolTags {
		return nil, fmt.Errorf("%w: %d tags given, at most %d", ErrBadPoolTag, len(tags), MaxPoolTags)
	}
	out := make([]uint32, 0, len(tags))
	for _, s := range tags {
		v, err := ParsePoolTag(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
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
	tags []uint32
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
			if tag == t&^protectedTagBit {
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
