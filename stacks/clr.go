package stacks

import (
	"encoding/binary"
	"slices"
	"unicode/utf16"

	"github.com/etwkit/etwkit/etw"
)

// CLR providers whose method events give the code ranges of JIT-compiled
// .NET methods, which have no image.
var (
	// CLRRuntimeGUID is Microsoft-Windows-DotNETRuntime: MethodLoadVerbose
	// (143) and MethodUnloadVerbose (144).
	CLRRuntimeGUID = etw.MustParseGUID("e13c0d23-ccbc-4e12-931b-d9cc2eee27e4")
	// CLRRundownGUID is Microsoft-Windows-DotNETRuntimeRundown:
	// MethodDCStartVerbose (143) and MethodDCEndVerbose (144).
	CLRRundownGUID = etw.MustParseGUID("a669021c-c450-4609-a035-5af59af4df18")
)

// Method is the code range of a JIT-compiled method.
type Method struct {
	Start     uint64
	Size      uint32
	Namespace string // declaring type, e.g. "System.IO.FileStream"
	Name      string // method name, e.g. "Read"
}

// FullName returns "Namespace.Name", the way PerfView shows managed frames.
func (m *Method) FullName() string {
	if m.Namespace == "" {
		return m.Name
	}
	return m.Namespace + "." + m.Name
}

// Methods keeps the JIT-compiled method ranges of every process from the
// CLR's MethodLoad / MethodUnload (Verbose) and rundown MethodDCStart /
// MethodDCEnd (Verbose) events. Ranges are kept for the whole trace:
// JIT code is rarely freed, and a rundown at the end of a trace describes
// methods that ran before it.
type Methods struct {
	procs map[etw.PID]*methodSpace
	// Events counts the method events used, by "runtime/143",
	// "rundown/144" and so on.
	Events map[string]int
}

type methodSpace struct {
	list   []*Method
	sorted bool
	seen   map[uint64]bool
}

// NewMethods returns an empty method map.
func NewMethods() *Methods {
	return &Methods{procs: map[etw.PID]*methodSpace{}, Events: map[string]int{}}
}

// Event takes one event; others than the CLR method events are ignored.
func (ms *Methods) Event(ev *etw.Event) {
	if !ms.Uses(ev) {
		return
	}
	src := "runtime/"
	if ev.Provider == CLRRundownGUID {
		src = "rundown/"
	}
	m, ok := decodeMethodVerbose(ev.Payload)
	if !ok {
		return
	}
	if ev.ID == 143 {
		ms.Events[src+"143"]++
	} else {
		ms.Events[src+"144"]++
	}
	sp := ms.procs[ev.PID]
	if sp == nil {
		sp = &methodSpace{seen: map[uint64]bool{}}
		ms.procs[ev.PID] = sp
	}
	if sp.seen[m.Start] {
		return
	}
	sp.seen[m.Start] = true
	sp.list = append(sp.list, m)
	sp.sorted = false
}

// Uses reports whether [Methods.Event] would use ev (the CLR runtime and
// rundown MethodLoadVerbose / MethodDCStartVerbose events, ids 143 and
// 144). It reads nothing but ev.
func (ms *Methods) Uses(ev *etw.Event) bool {
	return (ev.Header == etw.HeaderEvent32 || ev.Header == etw.HeaderEvent64) &&
		(ev.Provider == CLRRuntimeGUID || ev.Provider == CLRRundownGUID) &&
		(ev.ID == 143 || ev.ID == 144)
}

// decodeMethodVerbose decodes MethodLoadVerbose / MethodDCStartVerbose
// payloads: u64 MethodID, u64 ModuleID, u64 MethodStartAddress, u32
// MethodSize, u32 MethodToken, u32 MethodFlags, then the UTF-16 namespace,
// name and signature (the address fields are 64-bit in every process).
func decodeMethodVerbose(p []byte) (*Method, bool) {
	if len(p) < 36 {
		return nil, false
	}
	m := &Method{Start: binary.LittleEndian.Uint64(p[16:]), Size: binary.LittleEndian.Uint32(p[24:])}
	rest := p[36:]
	var ok bool
	if m.Namespace, rest, ok = utf16z(rest); !ok {
		return nil, false
	}
	if m.Name, _, ok = utf16z(rest); !ok {
		return nil, false
	}
	return m, m.Size > 0
}

func utf16z(b []byte) (string, []byte, bool) {
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			u := make([]uint16, i/2)
			for j := range u {
				u[j] = binary.LittleEndian.Uint16(b[2*j:])
			}
			return string(utf16.Decode(u)), b[i+2:], true
		}
	}
	return "", nil, false
}

// Lookup returns the method of process pid whose code contains addr.
func (ms *Methods) Lookup(pid etw.PID, addr uint64) *Method {
	sp := ms.procs[pid]
	if sp == nil {
		return nil
	}
	if !sp.sorted {
		slices.SortFunc(sp.list, func(a, b *Method) int {
			switch {
			case a.Start < b.Start:
				return -1
			case a.Start > b.Start:
				return 1
			}
			return 0
		})
		sp.sorted = true
	}
	i, _ := slices.BinarySearchFunc(sp.list, addr+1, func(m *Method, t uint64) int {
		if m.Start < t {
			return -1
		}
		return 1
	})
	// Ranges do not overlap in practice; look at a few candidates below.
	for j := i - 1; j >= 0 && j >= i-4; j-- {
		m := sp.list[j]
		if addr >= m.Start && addr-m.Start < uint64(m.Size) {
			return m
		}
	}
	return nil
}
