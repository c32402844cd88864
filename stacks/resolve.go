package stacks

import (
	"strconv"
	"strings"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/pool"
)

// FrameKind classifies a frame by the module that contains it. It is
// [export.FrameKind], so that a resolved frame's kind is a profile frame's
// kind without a mapping: one type and one set of values for both
// packages.
type FrameKind = export.FrameKind

// Frame kinds; see [export.FrameKind].
const (
	// Kernel is a kernel-space frame.
	Kernel = export.Kernel
	// User is a user-mode frame of native code: a 64-bit process, or the
	// 64-bit WOW64 layer (64-bit ntdll, wow64*.dll) of a WOW64 process.
	User = export.User
	// WOW64 is a frame of 32-bit code inside a WOW64 process.
	WOW64 = export.WOW64
	// Marker is a synthetic frame, such as a folded WOW64 transition.
	Marker = export.Marker
)

// Frame is one resolved stack frame.
type Frame struct {
	Addr uint64
	Kind FrameKind
	// Module contains Addr at the stack's time (nil when no module does;
	// see OtherTime).
	Module *Module
	// OtherTime is a module that contains Addr at another time of the
	// trace, when Module is nil: the image was loaded later or unloaded
	// earlier.
	OtherTime *Module
	// Method is the JIT-compiled .NET method containing Addr, for frames
	// outside every image.
	Method *Method
	// Symbol is the symbol containing Addr, when a Symbolizer found one.
	Symbol *Symbol
	// Text is a marker frame's text ("[wow64 transition]").
	Text string
	// Special names a kernel range that is not an image, such as the
	// Hyper-V hypercall page (Image record 0x1422), for a frame in it.
	Special string
}

// Resolved reports whether the frame lies in a module mapped at the
// stack's time (or, with counting methods, in a JIT-compiled method).
func (f *Frame) Resolved() bool { return f.Module != nil }

// ModuleName returns the module's file name, "managed" for JIT code, or "".
func (f *Frame) ModuleName() string {
	switch {
	case f.Module != nil:
		return f.Module.Name
	case f.Method != nil:
		return ManagedModule
	}
	return ""
}

// ManagedModule is the pseudo-module name of JIT-compiled .NET frames.
const ManagedModule = "managed"

// String formats the frame as poolleak and etwdump print it:
// "module!symbol+0xoffset" when symbolized, "module+0xoffset" when only the
// module is known, "managed!Namespace.Method+0xoffset" for JIT code, the
// marker text in square brackets, a named kernel range such as
// "[hypercall page]+0x3", or the bare address "0x...".
func (f *Frame) String() string {
	switch {
	case f.Kind == Marker:
		return f.Text
	case f.Module != nil && f.Symbol != nil:
		return f.Module.Name + "!" + f.Symbol.Name + "+0x" + strconv.FormatUint(f.Addr-f.Module.Base-f.Symbol.RVA, 16)
	case f.Module != nil:
		return f.Module.Name + "+0x" + strconv.FormatUint(f.Addr-f.Module.Base, 16)
	case f.Method != nil:
		return ManagedModule + "!" + f.Method.FullName() + "+0x" + strconv.FormatUint(f.Addr-f.Method.Start, 16)
	case f.Special != "":
		return f.Special
	}
	return "0x" + strconv.FormatUint(f.Addr, 16)
}

// Line returns "file:line" for a symbolized frame with line information,
// else "".
func (f *Frame) Line() string {
	if f.Symbol == nil || f.Symbol.File == "" {
		return ""
	}
	return f.Symbol.File + ":" + strconv.Itoa(f.Symbol.Line)
}

// Segments counts the frames of each kind: [pool.Segments], the type of
// the ledger's own (address-only) counts, so that both are one vocabulary.
type Segments = pool.Segments

// SegmentsOf counts frames by kind (markers are not counted).
func SegmentsOf(frames []Frame) Segments {
	var s Segments
	for i := range frames {
		switch frames[i].Kind {
		case Kernel:
			s.Kernel++
		case User:
			s.User++
		case WOW64:
			s.WOW64++
		}
	}
	return s
}

// HasWOW64Transition reports whether frames cross from the 64-bit WOW64
// layer into 32-bit code: a user frame in wow64cpu.dll, wow64.dll or
// xtajit.dll followed, further out, by a WOW64 frame.
func HasWOW64Transition(frames []Frame) bool {
	seen := false
	for i := range frames {
		f := &frames[i]
		if f.Kind == User && f.Module != nil && isWOW64Layer(f.Module.Name) {
			seen = true
		}
		if seen && f.Kind == WOW64 {
			return true
		}
	}
	return false
}

func isWOW64Layer(name string) bool {
	switch strings.ToLower(name) {
	case "wow64cpu.dll", "wow64.dll", "xtajit.dll", "xtajit64.dll":
		return true
	}
	return false
}

// hypercallPageSize is the size of the Hyper-V hypercall page.
const hypercallPageSize = 4096

// Resolver turns raw frame addresses into classified, module-relative and,
// with a Symbolizer, symbolized frames.
type Resolver struct {
	Modules *Modules
	// Methods, when set, names JIT-compiled .NET frames.
	Methods *Methods
	// Symbols, when set, symbolizes frames inside modules.
	Symbols Symbolizer
	// PointerSize of the trace, 4 or 8.
	PointerSize int
}

// Resolve classifies and resolves the frames (innermost first) of a stack
// of process pid taken at raw time ts.
//
// A kernel-space address is Kernel. A user address of a WOW64 process is
// WOW64 when the image containing it is 32-bit (see [ImageBits]); when no
// image contains it at ts, the bitness of an image containing it at
// another time is used, else it is WOW64 when it lies further out than the
// outermost frame in a 64-bit image (32-bit code calls into the 64-bit
// layer, never the reverse), else User. Everything else is User.
func (r *Resolver) Resolve(pid etw.PID, ts int64, addrs []uint64) []Frame {
	return r.AppendResolve(nil, pid, ts, addrs)
}

// AppendResolve is like Resolve but appends to dst.
func (r *Resolver) AppendResolve(dst []Frame, pid etw.PID, ts int64, addrs []uint64) []Frame {
	ptr := r.PointerSize
	if ptr == 0 {
		ptr = 8
	}
	start := len(dst)
	proc := r.Modules.Process(pid)
	wow := proc != nil && proc.WOW64
	outer64 := -1
	for i, a := range addrs {
		f := Frame{Addr: a}
		m, live := r.Modules.Lookup(pid, a, ts)
		if live {
			f.Module = m
		} else {
			f.OtherTime = m
		}
		switch {
		case IsKernelAddress(a, ptr):
			f.Kind = Kernel
		case wow && m != nil && m.Bits == 32:
			f.Kind = WOW64
		default:
			f.Kind = User
			if wow && m != nil && m.Bits == 64 {
				outer64 = i
			}
		}
		if f.Module == nil && f.Kind != Kernel && r.Methods != nil {
			f.Method = r.Methods.Lookup(pid, a)
		}
		if f.Module == nil && f.Kind == Kernel {
			if h := r.Modules.Hypercall; h != 0 && a >= h && a-h < hypercallPageSize {
				f.Special = "[hypercall page]+0x" + strconv.FormatUint(a-h, 16)
			}
		}
		dst = append(dst, f)
	}
	if wow {
		for i := range addrs {
			f := &dst[start+i]
			if f.Kind == User && f.Module == nil && f.OtherTime == nil && i > outer64 {
				f.Kind = WOW64
			}
		}
	}
	if r.Symbols != nil {
		for i := start; i < len(dst); i++ {
			f := &dst[i]
			if f.Module == nil {
				continue
			}
			rva := f.Addr - f.Module.Base
			if s, ok := r.Symbols.Symbolize(f.Module, rva); ok {
				if i > start {
					s.File, s.Line = callSiteLine(r.Symbols, f.Module, rva)
				}
				f.Symbol = &s
			}
		}
	}
	return dst
}

// LineSymbolizer is a Symbolizer that can look up the source line of an
// address without its symbol; [Resolver] uses it for call sites when the
// Symbolizer has it.
type LineSymbolizer interface {
	Symbolizer
	// Line returns the source file and line of rva, relative to the
	// module's base.
	Line(m *Module, rva uint64) (file string, line int, ok bool)
}

// callSiteLine returns the source line of the call instruction before the
// return address at rva: the line of rva-1, which lies inside the call.
// The return address itself often belongs to the next statement (the line
// after the call), which is what a debugger would not show.
func callSiteLine(s Symbolizer, m *Module, rva uint64) (string, int) {
	if rva == 0 {
		return "", 0
	}
	if ls, ok := s.(LineSymbolizer); ok {
		if file, line, ok := ls.Line(m, rva-1); ok {
			return file, line
		}
		return "", 0
	}
	if c, ok := s.Symbolize(m, rva-1); ok {
		return c.File, c.Line
	}
	return "", 0
}

// FoldWOW64 replaces each run of User frames of the 64-bit WOW64 layer
// that sits between kernel (or the stack's start) and 32-bit WOW64 frames
// by one marker frame "[wow64 transition]", keeping the 32-bit and kernel
// frames. Stacks without a transition are returned unchanged.
func FoldWOW64(frames []Frame) []Frame {
	if !HasWOW64Transition(frames) {
		return frames
	}
	out := make([]Frame, 0, len(frames))
	inRun := false
	for _, f := range frames {
		if f.Kind == User {
			if !inRun {
				out = append(out, Frame{Kind: Marker, Text: "[wow64 transition]"})
				inRun = true
			}
			continue
		}
		inRun = false
		out = append(out, f)
	}
	return out
}

// Symbol is what a Symbolizer knows of an address inside a module.
//
// In frames from [Resolver.Resolve], File and Line are those of the call
// site for every frame but the innermost: the line of the frame's address
// minus one, since those addresses are return addresses (debuggers and
// pprof show the same line).
type Symbol struct {
	Name      string // undecorated name
	Decorated string // name as stored (may equal Name)
	RVA       uint64 // start of the symbol, relative to the module base
	File      string // source file, "" when unknown
	Line      int
}

// Symbolizer finds the symbol containing an address of a module. rva is
// relative to the module's base. Implementations must be safe for use by
// one goroutine at a time at least, and should cache.
type Symbolizer interface {
	Symbolize(m *Module, rva uint64) (Symbol, bool)
}
