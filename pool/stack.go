package pool

// MaxStackFrames caps the frames kept per interned stack. Windows stack walks
// stop at 192 frames; longer input is truncated (and counted in
// [Anomalies.TruncatedStacks]) so hostile input cannot make one stack huge.
const MaxStackFrames = 256

// stackTable hash-conses stacks. A stack's identity is (pid, frames) where
// pid is 0 for kernel-only stacks: user addresses only mean something inside
// one process, kernel addresses are shared by all processes.
type stackTable struct {
	kernelMin uint64             // lowest kernel address for the trace's pointer size
	heads     map[uint64]StackID // hash → first stack with that hash
	recs      []stackRec         // index = StackID-1
	frames    []uint64           // arena holding every stack's frames once
	truncated uint64
}

type stackRec struct {
	hash   uint64
	pid    uint32
	off, n uint32
	next   StackID // next stack with the same hash
	user   uint16  // frames below kernelMin
}

func newStackTable(ptrSize int) *stackTable {
	st := &stackTable{heads: make(map[uint64]StackID)}
	if ptrSize == 4 {
		st.kernelMin = 0x80000000
	} else {
		st.kernelMin = 0x0000800000000000
	}
	return st
}

func (st *stackTable) isKernel(addr uint64) bool { return addr >= st.kernelMin }

func mix(h, x uint64) uint64 {
	h ^= x
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// intern returns the ID of (pid, frames), adding it if new. It allocates only
// when the stack is new (the frames arena may grow).
func (st *stackTable) intern(pid uint32, frames []uint64) StackID {
	if len(frames) == 0 {
		return NoStack
	}
	if len(frames) > MaxStackFrames {
		frames = frames[:MaxStackFrames]
		st.truncated++
	}
	user := 0
	for _, f := range frames {
		if !st.isKernel(f) {
			user++
		}
	}
	if user == 0 {
		pid = 0
	}
	h := mix(0x51ed270b27a5b5cf, uint64(pid)<<32|uint64(len(frames)))
	for _, f := range frames {
		h = mix(h, f)
	}
	for id := st.heads[h]; id != NoStack; id = st.recs[id-1].next {
		r := &st.recs[id-1]
		if r.hash == h && r.pid == pid && int(r.n) == len(frames) && equalFrames(st.frames[r.off:r.off+r.n], frames) {
			return id
		}
	}
	if uint64(len(st.recs)) >= 1<<32-2 || uint64(len(st.frames))+uint64(len(frames)) >= 1<<32-1 {
		return NoStack // table full: give up on identity rather than wrap IDs
	}
	off := uint32(len(st.frames))
	st.frames = append(st.frames, frames...)
	st.recs = append(st.recs, stackRec{hash: h, pid: pid, off: off, n: uint32(len(frames)), next: st.heads[h], user: uint16(user)})
	id := StackID(len(st.recs))
	st.heads[h] = id
	return id
}

func equalFrames(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (st *stackTable) valid(id StackID) bool { return id != NoStack && int(id) <= len(st.recs) }

// get returns the pid key and frames of id; the slice aliases the arena.
func (st *stackTable) get(id StackID) (uint32, []uint64) {
	if !st.valid(id) {
		return 0, nil
	}
	r := &st.recs[id-1]
	return r.pid, st.frames[r.off : r.off+r.n : r.off+r.n]
}
