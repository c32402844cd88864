package etw

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// frameList is a run of pointer-sized return addresses aliasing a payload.
// Frame 0 is the innermost frame (the instruction pointer at event time).
type frameList struct {
	b    []byte
	size int // 4 or 8
}

// Len returns the number of frames.
func (f frameList) Len() int {
	if f.size == 0 {
		return 0
	}
	return len(f.b) / f.size
}

// Frame returns frame i (0 = innermost), zero-extended to 64 bits. It
// panics if i is out of range, like a slice index.
func (f frameList) Frame(i int) uint64 {
	if f.size == 4 {
		return uint64(binary.LittleEndian.Uint32(f.b[4*i:]))
	}
	return binary.LittleEndian.Uint64(f.b[8*i:])
}

// AppendFrames appends the frames, innermost first, to dst and returns it.
func (f frameList) AppendFrames(dst []uint64) []uint64 {
	n := f.Len()
	for i := range n {
		dst = append(dst, f.Frame(i))
	}
	return dst
}

// Frames iterates over the frames, innermost first.
func (f frameList) Frames() iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		n := f.Len()
		for i := range n {
			if !yield(f.Frame(i)) {
				return
			}
		}
	}
}

// PointerSize returns the size of one frame in the payload (4 or 8).
func (f frameList) PointerSize() int { return f.size }

// StackWalk event types: the opcodes of the StackWalk group (hooks
// 0x1820 to 0x1826), as [Event.Opcode] holds them.
const (
	StackWalkStack          uint8 = 32 // Stack: the frames of one stack walk
	StackWalkKeyCreate      uint8 = 34 // KeyCreate: a cached stack's frames
	StackWalkKeyDelete      uint8 = 35 // KeyDelete: a cached stack's frames, on eviction
	StackWalkKeyRundown     uint8 = 36 // KeyRundown: a cached stack's frames, at the end of the trace
	StackWalkStackKeyKernel uint8 = 37 // StackKeyKernel: a reference to a cached kernel-mode stack
	StackWalkStackKeyUser   uint8 = 38 // StackKeyUser: a reference to a cached user-mode stack
)

// Stack is a StackWalk Stack event (opcode 32, STACK_WALK_EVENT_DATA): the
// stack of the event logged by thread Thread of process Process at raw
// timestamp EventTimeStamp. Its frames alias the event's payload and are
// valid as long as the event is.
type Stack struct {
	EventTimeStamp int64
	Process        PID
	Thread         TID
	frameList
}

// StackKey is a StackWalk StackKeyKernel (37) or StackKeyUser (38) event: a
// reference to a cached stack whose frames arrive later in a KeyDelete or
// KeyRundown event with the same key (see [DecodeStackKeyDef]).
type StackKey struct {
	EventTimeStamp int64
	Process        PID
	Thread         TID
	Key            uint64
	// Kernel is true for StackKeyKernel, false for StackKeyUser.
	Kernel bool
}

// StackKeyDef is a StackWalk KeyCreate (34), KeyDelete (35) or KeyRundown
// (36) event: the frames of a cached stack. Its frames alias the payload.
type StackKeyDef struct {
	// Opcode is 34, 35 or 36.
	Opcode uint8
	Key    uint64
	frameList
}

func isStackWalk(ev *Event) (uint8, bool) {
	c, op := classOf(ev)
	return op, c != nil && c.group == int(GroupStackWalk)
}

func errNotA(what string, ev *Event) error {
	return fmt.Errorf("%w: %s is not a %s event", ErrUnknownEvent, eventDesc(ev), what)
}

// DecodeStack decodes a StackWalk Stack event (hook 0x1820) of either
// pointer size. It does not allocate unless it returns an error.
func DecodeStack(ev *Event) (Stack, error) {
	op, ok := isStackWalk(ev)
	if !ok || op != opStack {
		return Stack{}, errNotA("StackWalk/Stack", ev)
	}
	p := ev.Payload
	size := ev.PointerSize()
	if len(p) < 16 || size == 0 {
		return Stack{}, stackErr(ev, op)
	}
	n := (len(p) - 16) / size
	return Stack{
		EventTimeStamp: int64(binary.LittleEndian.Uint64(p)),
		Process:        PID(binary.LittleEndian.Uint32(p[8:])),
		Thread:         TID(binary.LittleEndian.Uint32(p[12:])),
		frameList:      frameList{b: p[16 : 16+n*size : 16+n*size], size: size},
	}, nil
}

// DecodeStackKey decodes a StackKeyKernel (0x1825) or StackKeyUser (0x1826)
// event. It does not allocate unless it returns an error.
func DecodeStackKey(ev *Event) (StackKey, error) {
	var k StackKey
	err := k.Decode(ev)
	return k, err
}

// Decode is [DecodeStackKey] writing into k, for loops over millions of
// events (see [PoolEvent.Decode]). On error k is zero.
func (k *StackKey) Decode(ev *Event) error {
	op, ok := isStackWalk(ev)
	if !ok || (op != opStackKeyKernel && op != opStackKeyUser) {
		*k = StackKey{}
		return errNotA("StackWalk stack key", ev)
	}
	p := ev.Payload
	size := ev.PointerSize()
	if size == 0 || len(p) < 16+size {
		*k = StackKey{}
		return stackErr(ev, op)
	}
	k.EventTimeStamp = int64(binary.LittleEndian.Uint64(p))
	k.Process = PID(binary.LittleEndian.Uint32(p[8:]))
	k.Thread = TID(binary.LittleEndian.Uint32(p[12:]))
	if size == 4 {
		k.Key = uint64(binary.LittleEndian.Uint32(p[16:]))
	} else {
		k.Key = binary.LittleEndian.Uint64(p[16:])
	}
	k.Kernel = op == opStackKeyKernel
	return nil
}

// DecodeStackKeyDef decodes a KeyCreate (0x1822), KeyDelete (0x1823) or
// KeyRundown (0x1824) event. It does not allocate unless it returns an
// error.
func DecodeStackKeyDef(ev *Event) (StackKeyDef, error) {
	op, ok := isStackWalk(ev)
	if !ok || op < opKeyCreate || op > opKeyRundown {
		return StackKeyDef{}, errNotA("StackWalk key definition", ev)
	}
	p := ev.Payload
	size := ev.PointerSize()
	if size == 0 || len(p) < size {
		return StackKeyDef{}, stackErr(ev, op)
	}
	d := StackKeyDef{Opcode: op}
	if size == 4 {
		d.Key = uint64(binary.LittleEndian.Uint32(p))
	} else {
		d.Key = binary.LittleEndian.Uint64(p)
	}
	n := (len(p) - size) / size
	d.frameList = frameList{b: p[size : size+n*size : size+n*size], size: size}
	return d, nil
}

func stackErr(ev *Event, op uint8) error {
	if ev.PointerSize() == 0 {
		return errNoPointerSize(ev)
	}
	return layoutError(ev, classByGroup[GroupStackWalk].find(op, ev.Version))
}

// ExtStack is a stack carried in the extended data of an EVENT_HEADER
// record: an EVENT_EXTENDED_ITEM_STACK_TRACE32/64 (frames) or
// STACK_KEY32/64 (a key into the stack cache, resolved like [StackKey]).
// Frames alias the event.
type ExtStack struct {
	// MatchID links separate kernel-mode and user-mode captures of one
	// event; 0 when both were captured together.
	MatchID uint64
	// IsKey reports a STACK_KEY item: Key is set and there are no frames.
	IsKey bool
	Key   uint64
	frameList
}

// ExtStack returns the first stack item (STACK_TRACE32/64 or
// STACK_KEY32/64) of the event's extended data. The frame size follows the
// item type, not the header: 64-bit stacks occur on EVENT_HEADER32 records.
func (e *Event) ExtStack() (ExtStack, bool) {
	for it := range e.ExtendedData() {
		b := it.Data
		switch it.Type {
		case ExtStackTrace32, ExtStackTrace64:
			if len(b) < 8 {
				continue
			}
			size := 8
			if it.Type == ExtStackTrace32 {
				size = 4
			}
			n := (len(b) - 8) / size
			return ExtStack{
				MatchID:   binary.LittleEndian.Uint64(b),
				frameList: frameList{b: b[8 : 8+n*size : 8+n*size], size: size},
			}, true
		case ExtStackKey32:
			if len(b) < 12 {
				continue
			}
			return ExtStack{MatchID: binary.LittleEndian.Uint64(b), IsKey: true,
				Key: uint64(binary.LittleEndian.Uint32(b[8:])), frameList: frameList{size: 4}}, true
		case ExtStackKey64:
			if len(b) < 16 {
				continue
			}
			return ExtStack{MatchID: binary.LittleEndian.Uint64(b), IsKey: true,
				Key: binary.LittleEndian.Uint64(b[8:]), frameList: frameList{size: 8}}, true
		}
	}
	return ExtStack{}, false
}
