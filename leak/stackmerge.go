package leak

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/etwkit/etwkit/stacks"
)

// Stacks of the ledger that resolve to the same text (different stack
// walks through the same functions, or the same module in two processes)
// are merged into one Stack. They are compared by the identity of their
// resolved frames, the values stacks.Frame.String prints, without writing
// any text.

// frameIdent is what a frame's text is made of: its form (which case of
// stacks.Frame.String applies), the names it prints (strings the frame
// already holds) and the offset. Two frames have the same identity when
// they print the same text; the converse holds but for texts that
// coincide across forms (a module named "managed", a .NET namespace
// split at another dot), which stay apart.
type frameIdent struct {
	form        uint8
	name, name2 string
	off         uint64
}

// Forms of frameIdent, one per case of stacks.Frame.String.
const (
	formMarker = iota + 1
	formSymbol
	formModule
	formMethod
	formSpecial
	formAddr
)

// identOf returns the identity of f.
func identOf(f *stacks.Frame) frameIdent {
	switch {
	case f.Kind == stacks.Marker:
		return frameIdent{form: formMarker, name: f.Text}
	case f.Module != nil && f.Symbol != nil:
		return frameIdent{form: formSymbol, name: f.Module.Name, name2: f.Symbol.Name, off: f.Addr - f.Module.Base - f.Symbol.RVA}
	case f.Module != nil:
		return frameIdent{form: formModule, name: f.Module.Name, off: f.Addr - f.Module.Base}
	case f.Method != nil:
		return frameIdent{form: formMethod, name: f.Method.Namespace, name2: f.Method.Name, off: f.Addr - f.Method.Start}
	case f.Special != "":
		return frameIdent{form: formSpecial, name: f.Special}
	}
	return frameIdent{form: formAddr, off: f.Addr}
}

// stackMerger finds, among the Stacks kept so far, the one with the same
// tag, pool and frame identities as another.
type stackMerger struct {
	seed  maphash.Seed
	first map[uint64]int // hash → latest Stack with that hash
	prev  []int          // per Stack: the previous one with the same hash, or -1
}

func newStackMerger() *stackMerger {
	return &stackMerger{seed: maphash.MakeSeed(), first: map[uint64]int{}}
}

// hash returns the hash of st's tag, pool and frame identities.
func (m *stackMerger) hash(st *Stack) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(st.Tag)
	h.WriteByte(0)
	h.WriteString(st.Pool)
	var b [9]byte
	for i := range st.Resolved {
		id := identOf(&st.Resolved[i])
		b[0] = id.form
		binary.LittleEndian.PutUint64(b[1:], id.off)
		h.Write(b[:])
		h.WriteString(id.name)
		h.WriteByte(0)
		h.WriteString(id.name2)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// find returns the index in out of the Stack st merges into, or, when
// there is none, -1 after recording that st will be out[len(out)].
func (m *stackMerger) find(out []Stack, st *Stack) int {
	h := m.hash(st)
	first, ok := m.first[h]
	if !ok {
		first = -1
	}
	for i := first; i >= 0; i = m.prev[i] {
		if sameStack(&out[i], st) {
			return i
		}
	}
	m.first[h] = len(m.prev)
	m.prev = append(m.prev, first)
	return -1
}

// sameStack reports whether a and b have the same tag, pool and frame
// identities.
func sameStack(a, b *Stack) bool {
	if a.Tag != b.Tag || a.Pool != b.Pool || len(a.Resolved) != len(b.Resolved) {
		return false
	}
	for i := range a.Resolved {
		if identOf(&a.Resolved[i]) != identOf(&b.Resolved[i]) {
			return false
		}
	}
	return true
}
