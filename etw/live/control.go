package live

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// This file holds the decisions of session control that do not need
// Windows, so they are tested on every system: the session name, which
// sessions are orphans, the StartTrace extension block and the order in
// which a session is started with less and less of it.

// NamePrefix starts every session name [Start] generates:
// NamePrefix + process id + "-" + 8 random hex digits, e.g.
// "etwkit-4242-1f2e3d4c". [StopOrphans] recognizes sessions by it.
const NamePrefix = DefaultName + "-"

// ErrSessionExists is returned by [Start] when a session of the requested
// name is already running. Start never stops another session: it may
// belong to a running program. [StopOrphans] stops the ones left by
// processes that died; `logman stop NAME -ets` stops one by hand.
var ErrSessionExists = errors.New("live: a trace session of this name is already running")

// ErrNotElevated is returned by [Start] when Windows refuses the session
// for lack of rights: kernel sessions need an elevated administrator.
var ErrNotElevated = errors.New("live: access denied (run elevated: kernel sessions need an administrator)")

// ErrNoSession is returned by [StopSession] when no session of that name
// runs (ERROR_WMI_INSTANCE_NOT_FOUND, 4201).
var ErrNoSession = errors.New("live: no trace session of this name")

// NewSessionName returns a session name unique to this process and call:
// NamePrefix, the process id, and 32 random bits in hex.
func NewSessionName() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported systems; a fixed suffix
		// still keeps the name unique per process.
		b = [4]byte{0, 0, 0, 1}
	}
	return fmt.Sprintf("%s%d-%08x", NamePrefix, os.Getpid(), binary.BigEndian.Uint32(b[:]))
}

// namePID returns the process id a generated session name carries.
func namePID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return 0, false
	}
	pid, suffix, ok := strings.Cut(rest, "-")
	if !ok || len(suffix) != 8 {
		return 0, false
	}
	if _, err := strconv.ParseUint(suffix, 16, 32); err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(pid, 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// orphans returns the names of sessions started by etwkit whose process
// is gone: generated names whose process id is neither self nor alive,
// and the fixed name earlier versions used (DefaultName), whose owner
// cannot be told. Names of other tools are never returned.
func orphans(names []string, self int, alive func(pid int) bool) []string {
	var out []string
	for _, n := range names {
		if n == DefaultName {
			out = append(out, n)
			continue
		}
		pid, ok := namePID(n)
		if !ok || pid == self || alive(pid) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// Win32 error codes the control logic tells apart (winerror.h). They are
// compared as syscall.Errno values, which exist on every system.
const (
	errAccessDenied        = syscall.Errno(5)    // ERROR_ACCESS_DENIED
	errAlreadyExists       = syscall.Errno(183)  // ERROR_ALREADY_EXISTS
	errNoSystemResources   = syscall.Errno(1450) // ERROR_NO_SYSTEM_RESOURCES (too many sessions)
	errWMIInstanceNotFound = syscall.Errno(4201) // ERROR_WMI_INSTANCE_NOT_FOUND: no such session
)

// StackWalkMode says how a session got its pool stack walks.
type StackWalkMode string

// Stack walk modes, in the order Start tries them.
const (
	// StackWalkNone: no stack walks (not asked for, or refused).
	StackWalkNone StackWalkMode = ""
	// StackWalkExtension: hook ids 0x0E20-0x0E23 in the StartTrace
	// extension (ETW_EXT_STACKWALK_FILTER), as xperf and PerfView pass them.
	StackWalkExtension StackWalkMode = "extension"
	// StackWalkSetInformation: TraceSetInformation(TraceStackTracingInfo)
	// with PoolTrace CLASSIC_EVENT_IDs after StartTrace.
	StackWalkSetInformation StackWalkMode = "TraceSetInformation"
)

// startAttempt is one way of calling StartTrace.
type startAttempt struct {
	ext      bool // an extension block with ENABLE_FLAGS (PERF_POOL)
	stackExt bool // ... and the pool stack walk hook ids
	tagExt   bool // ... and the pool tag filter
}

// startPlan lists the StartTrace attempts in order: everything in the
// extension block first (what xperf does), then without the pool tag
// filter (user mode filters anyway), then without the stack hooks (they
// are requested with TraceSetInformation after the start), then without
// any extension (PERF_POOL is then set with TraceSetInformation too). The
// next attempt is taken only when StartTrace refuses the previous one for
// a reason retryStart accepts.
func startPlan(stackWalk bool, tags int) []startAttempt {
	plan := []startAttempt{{ext: true, stackExt: stackWalk, tagExt: tags > 0}}
	add := func(a startAttempt) {
		if plan[len(plan)-1] != a {
			plan = append(plan, a)
		}
	}
	add(startAttempt{ext: true, stackExt: stackWalk})
	add(startAttempt{ext: true})
	add(startAttempt{})
	return plan
}

// retryStart reports whether a StartTrace error may go away with less in
// the extension block. Missing rights, a session that exists and the
// system's session limit do not.
func retryStart(err error) bool {
	for _, e := range []syscall.Errno{errAccessDenied, errAlreadyExists, errNoSystemResources} {
		if errors.Is(err, e) {
			return false
		}
	}
	return err != nil
}

// startError turns a StartTrace error into the error Start returns.
func startError(name string, err error) error {
	switch {
	case errors.Is(err, errAccessDenied):
		return fmt.Errorf("live: starting session %q: %w: %w", name, ErrNotElevated, err)
	case errors.Is(err, errAlreadyExists):
		return fmt.Errorf("live: starting session %q: %w (stop it with `logman stop \"%s\" -ets` if its program is gone): %w", name, ErrSessionExists, name, err)
	}
	return fmt.Errorf("live: starting session %q: %w", name, err)
}

// stopError maps the result of ControlTrace(STOP): a session someone else
// already stopped (4201) is not an error for Close.
func stopError(err error) error {
	if errors.Is(err, errWMIInstanceNotFound) {
		return nil
	}
	return err
}

// Extension block layout (EVENT_TRACE_PROPERTIES "EnableFlags extension",
// as PerfView's ETWKernelControl.cs writes it for StartTrace and xperf
// passes it): EnableFlags = 0x80FF0000 | byte offset of the block from the
// start of the properties; the block is a header ULONG (length of the
// block in ULONGs | item count << 16) and items, each led by a ULONG
// (item length in ULONGs, header included | item type << 16).
const (
	flagExtItems     = 0x80FF0000 // EVENT_TRACE_FLAG_EXTENSION, length 0xFF: "new structure"
	extEnableFlags   = 1          // ETW_EXT_ENABLE_FLAGS: 8 group masks (PERFINFO_GROUPMASK)
	extStackWalk     = 3          // ETW_EXT_STACKWALK_FILTER: hook ids, one per ULONG
	extPoolTagFilter = 4          // ETW_EXT_POOLTAG_FILTER: up to 4 tags, one per ULONG
	kernelFlags      = 0x1 | 0x2 | 0x4
	perfPoolMask1    = 0x40 // PERF_POOL 0x20000040: Masks[1]
)

// poolStackHooks are the hook ids (group << 8 | type) of PoolAlloc,
// PoolAllocSession, PoolFree and PoolFreeSession, as xperf -stackwalk
// PoolAlloc+PoolAllocSession+PoolFree+PoolFreeSession passes them.
var poolStackHooks = []uint32{0x0E20, 0x0E21, 0x0E22, 0x0E23}

// extensionBlock builds the extension block of attempt a.
func extensionBlock(a startAttempt, tags []uint32) []uint32 {
	if !a.ext {
		return nil
	}
	var body []uint32
	n := 0
	item := func(typ uint32, data ...uint32) {
		body = append(body, uint32(1+len(data))|typ<<16)
		body = append(body, data...)
		n++
	}
	item(extEnableFlags, kernelFlags, perfPoolMask1, 0, 0, 0, 0, 0, 0)
	if a.stackExt {
		item(extStackWalk, poolStackHooks...)
	}
	if a.tagExt && len(tags) > 0 {
		item(extPoolTagFilter, tags...)
	}
	return append([]uint32{uint32(1+len(body)) | uint32(n)<<16}, body...)
}

// needStackSetInfo reports whether stack walks must still be requested
// with TraceSetInformation after StartTrace accepted attempt a.
func needStackSetInfo(stackWalk bool, a startAttempt) bool {
	return stackWalk && !a.stackExt
}

// stackOutcome decides what a session that asked for stacks got: the
// extension's hook ids, else the result of TraceSetInformation (setErr).
// A refusal never fails the session: it runs without stacks and warns.
func stackOutcome(name string, stackWalk bool, a startAttempt, setErr error) (StackWalkMode, []string) {
	switch {
	case !stackWalk:
		return StackWalkNone, nil
	case a.stackExt:
		return StackWalkExtension, nil
	case setErr == nil:
		return StackWalkSetInformation, nil
	}
	return StackWalkNone, []string{fmt.Sprintf("session %q runs without stack walks: Windows refused them in the StartTrace extension and through TraceSetInformation (%v); pool events are recorded, stacks are not", name, setErr)}
}

// Orphans returns the sessions etwkit started in processes that are gone
// (see [StopOrphans]), without stopping them.
func Orphans() ([]string, error) {
	names, err := ListSessions()
	if err != nil {
		return nil, err
	}
	return orphans(names, os.Getpid(), processAlive), nil
}

// StopOrphans stops the sessions etwkit started in processes that are
// gone: a system logger session outlives a crashed process and keeps pool
// tracing on with its buffers. It recognizes them by [NamePrefix] and the
// process id in the name (and the fixed name [DefaultName] of earlier
// versions); sessions of other tools and of running processes are left
// alone. It returns the names it stopped; on other systems than Windows
// it returns [ErrNotSupported].
func StopOrphans() ([]string, error) {
	names, err := Orphans()
	if err != nil {
		return nil, err
	}
	var stopped []string
	var errs []error
	for _, n := range names {
		switch err := StopSession(n); {
		case err == nil:
			stopped = append(stopped, n)
		case errors.Is(err, ErrNoSession):
			// Gone meanwhile.
		default:
			errs = append(errs, err)
		}
	}
	return stopped, errors.Join(errs...)
}
