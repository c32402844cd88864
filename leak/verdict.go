package leak

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/internal/pooltag"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// Verdict is the answer of a run in one object: the tag that leaks, who
// holds it, whose code allocates it and who asks for it.
//
// The tag is the one of leak rank 1 (see pool.LeakScore) when its score is
// positive and it holds outstanding blocks; otherwise nothing leaks and
// there is no verdict. Owner and Caller come from the tag's top stack (the
// one holding most of its outstanding bytes):
//
//   - Owner is the first kernel frame outside ntoskrnl and hal: the driver
//     that asked the kernel for the memory or the IRP. When the whole
//     kernel part is the kernel's own, it is the first kernel frame outside
//     the pool allocator (export.AllocatorFrames); unsymbolized frames
//     cannot be told apart from the allocator, so it is then the innermost
//     kernel frame.
//   - Caller is the first user-mode frame outside the system DLLs (ntdll,
//     kernelbase, kernel32, win32u, wow64*); in a stack with 32-bit WOW64
//     frames, the first such 32-bit frame.
//
// Both are "" when the stack has no such frame (or no stack was recorded).
type Verdict struct {
	Tag              string  `json:"tag"`
	Pool             string  `json:"pool"`
	LeakRank         int     `json:"leak_rank"`
	OutstandingCount uint64  `json:"outstanding_count"`
	OutstandingBytes uint64  `json:"outstanding_bytes"`
	GrowthBytesPerS  float64 `json:"growth_bytes_per_s"`
	GrowthR2         float64 `json:"growth_r2"`
	// Processes hold the tag's outstanding bytes, largest first.
	Processes []VerdictProcess `json:"processes"`
	// Owner and Caller are frames as in Stack.Frames; OwnerLine and
	// CallerLine their "file:line" when known (the line of the call).
	Owner      string `json:"owner"`
	OwnerLine  string `json:"owner_line,omitempty"`
	Caller     string `json:"caller"`
	CallerLine string `json:"caller_line,omitempty"`
	// StackShare is the top stack's share of the tag's outstanding bytes,
	// in [0, 1]; 0 when no block has a stack.
	StackShare float64 `json:"stack_share"`
	// Description is what pooltag.txt says of the tag, when it was given
	// (Options.PoolTags) and knows it.
	Description string `json:"description,omitempty"`
	// TagInImages names the kernel modules of the tag's stacks whose image
	// file, found on the symbol path, holds the tag's four bytes as a
	// literal: the usual way to find an unknown tag's owner.
	TagInImages []string `json:"tag_in_images,omitempty"`

	// Stack is the top stack (nil when no block of the tag has one);
	// OwnerFrame and CallerFrame index its Resolved frames, -1 when unset.
	Stack       *Stack `json:"-"`
	OwnerFrame  int    `json:"-"`
	CallerFrame int    `json:"-"`
}

// VerdictProcess is one process holding the verdict's tag.
type VerdictProcess struct {
	PID              uint32 `json:"pid"`
	Name             string `json:"name"`
	OutstandingBytes uint64 `json:"outstanding_bytes"`
}

var allocatorRx = regexp.MustCompile(`^(?:` + export.AllocatorFrames + `)$`)

// verdict computes the verdict of a finished result (nil: nothing leaks).
func (p *Pipeline) verdict(res *Result) *Verdict {
	rep := res.Report
	// With a window, the tags, their growth and their ranks are those of
	// the window (the ledger stopped at its end, so the groups below hold
	// what was outstanding there).
	tags := rep.Tags
	if res.Window != nil {
		tags = res.Window.Tags
	}
	i := slices.IndexFunc(tags, func(t pool.TagStats) bool { return t.LeakRank == 1 })
	if i < 0 || tags[i].LeakScore <= 0 || tags[i].OutstandingBytes == 0 {
		return nil
	}
	t := &tags[i]
	v := &Verdict{Tag: t.Tag.String(), Pool: t.Pool.String(), LeakRank: t.LeakRank,
		OutstandingCount: t.OutstandingCount, OutstandingBytes: t.OutstandingBytes,
		GrowthBytesPerS: t.GrowthBytesPerS, GrowthR2: t.GrowthR2, Processes: []VerdictProcess{},
		OwnerFrame: -1, CallerFrame: -1}
	byPID := map[uint32]uint64{}
	for _, g := range rep.Groups {
		if g.Tag == t.Tag && g.Pool == t.Pool && g.OutstandingBytes > 0 {
			byPID[g.PID] += g.OutstandingBytes
		}
	}
	for pid, n := range byPID {
		vp := VerdictProcess{PID: pid, OutstandingBytes: n}
		if pr := p.mods.Process(etw.PID(pid)); pr != nil {
			vp.Name = pr.Name
		}
		v.Processes = append(v.Processes, vp)
	}
	slices.SortFunc(v.Processes, func(a, b VerdictProcess) int {
		return cmp.Or(cmp.Compare(b.OutstandingBytes, a.OutstandingBytes), cmp.Compare(a.PID, b.PID))
	})
	for j := range res.Stacks {
		// The top stack: allocations without one are not a stack.
		if s := &res.Stacks[j]; s.Tag == v.Tag && s.Pool == v.Pool && len(s.Frames) > 0 {
			v.Stack = s
			break
		}
	}
	if s := v.Stack; s != nil {
		v.StackShare = float64(s.OutstandingBytes) / float64(t.OutstandingBytes)
		if v.OwnerFrame = OwnerFrame(s.Resolved); v.OwnerFrame >= 0 {
			f := &s.Resolved[v.OwnerFrame]
			v.Owner, v.OwnerLine = f.String(), f.Line()
		}
		if v.CallerFrame = CallerFrame(s.Resolved); v.CallerFrame >= 0 {
			f := &s.Resolved[v.CallerFrame]
			v.Caller, v.CallerLine = f.String(), f.Line()
		}
	}
	v.Description = p.opts.PoolTags.Describe(v.Tag)
	v.TagInImages = p.tagInImages(res, v.Tag)
	return v
}

// isKernelCore reports whether a kernel module is the kernel itself or the
// HAL (the kernel's file names for each processor kind, and the HALs).
func isKernelCore(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "ntoskrnl") || strings.HasPrefix(n, "ntkr") || strings.HasPrefix(n, "hal")
}

// isSystemDLL reports whether a user-mode module is one of the DLLs a call
// passes through on its way to the kernel.
func isSystemDLL(name string) bool {
	switch n := strings.ToLower(name); n {
	case "ntdll.dll", "kernelbase.dll", "kernel32.dll", "win32u.dll":
		return true
	default:
		return strings.HasPrefix(n, "wow64")
	}
}

// OwnerFrame returns the index of the owner frame of a stack (innermost
// first), as Verdict.Owner defines it, or -1.
func OwnerFrame(frames []stacks.Frame) int {
	first, firstCore := -1, -1
	for i := range frames {
		f := &frames[i]
		if f.Kind != stacks.Kernel {
			continue
		}
		if first < 0 {
			first = i
		}
		if f.Module == nil {
			continue
		}
		if !isKernelCore(f.Module.Name) {
			return i
		}
		if firstCore < 0 && f.Symbol != nil && !allocatorRx.MatchString(f.Symbol.Name) {
			firstCore = i
		}
	}
	if firstCore >= 0 {
		return firstCore
	}
	return first
}

// CallerFrame returns the index of the caller frame of a stack (innermost
// first), as Verdict.Caller defines it, or -1.
func CallerFrame(frames []stacks.Frame) int {
	kind := stacks.User
	if slices.ContainsFunc(frames, func(f stacks.Frame) bool { return f.Kind == stacks.WOW64 }) {
		kind = stacks.WOW64
	}
	for i := range frames {
		f := &frames[i]
		if f.Kind == kind && (f.Module == nil || !isSystemDLL(f.Module.Name)) {
			return i
		}
	}
	return -1
}

// imageFinder is what the symbolizer offers to find image files.
type imageFinder interface {
	ImageFile(m *stacks.Module) string
}

// tagInImages returns the kernel modules of the tag's stacks whose image
// file, found through the symbolizer, contains the tag's four bytes.
func (p *Pipeline) tagInImages(res *Result, tag string) []string {
	find, ok := p.sym.(imageFinder)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for i := range res.Stacks {
		s := &res.Stacks[i]
		if s.Tag != tag {
			continue
		}
		for j := range s.Resolved {
			f := &s.Resolved[j]
			if f.Kind != stacks.Kernel || f.Module == nil || seen[strings.ToLower(f.Module.Name)] {
				continue
			}
			seen[strings.ToLower(f.Module.Name)] = true
			path := find.ImageFile(f.Module)
			if path == "" {
				continue
			}
			has, err := pooltag.Contains(path, tag)
			if err != nil {
				p.logf("%s: %v", path, err)
				continue
			}
			if has {
				out = append(out, f.Module.Name)
			}
		}
	}
	return out
}

func (p *Pipeline) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	}
}

// Lines says the verdict in words, one sentence a line, for the text and
// HTML reports. A nil verdict says that nothing leaks.
func (v *Verdict) Lines() []string {
	if v == nil {
		return []string{"No tag leaks: no tag that still holds blocks grows steadily."}
	}
	tag := fmt.Sprintf("%q", v.Tag)
	if v.Description != "" {
		tag += " (" + v.Description + ")"
	}
	out := []string{fmt.Sprintf("%s leaks %s pool: %d blocks, %d bytes outstanding, growing %.1f bytes/s (R² %.2f), leak rank %d.",
		tag, v.Pool, v.OutstandingCount, v.OutstandingBytes, v.GrowthBytesPerS, v.GrowthR2, v.LeakRank)}
	if len(v.Processes) > 0 {
		var ps []string
		for i, pr := range v.Processes {
			if i == 3 {
				ps = append(ps, fmt.Sprintf("%d more", len(v.Processes)-3))
				break
			}
			switch {
			case pr.PID == uint32(etw.NoPID):
				ps = append(ps, fmt.Sprintf("an unknown process (%d bytes)", pr.OutstandingBytes))
			case pr.Name == "":
				ps = append(ps, fmt.Sprintf("pid %d (%d bytes)", pr.PID, pr.OutstandingBytes))
			default:
				ps = append(ps, fmt.Sprintf("%s (pid %d, %d bytes)", pr.Name, pr.PID, pr.OutstandingBytes))
			}
		}
		out = append(out, "Held by "+strings.Join(ps, ", ")+".")
	}
	where := func(frame, line string) string {
		if line != "" {
			return frame + " at " + line
		}
		return frame
	}
	owner, caller := where(v.Owner, v.OwnerLine), where(v.Caller, v.CallerLine)
	if v.Stack != nil && v.OwnerFrame >= 0 {
		if f := &v.Stack.Resolved[v.OwnerFrame]; f.Module != nil && f.Symbol == nil && isKernelCore(f.Module.Name) {
			// Without symbols the allocator's frames cannot be skipped.
			owner = "the kernel itself (" + owner + ", unsymbolized)"
		}
	}
	switch {
	case v.Owner != "" && v.Caller != "":
		out = append(out, fmt.Sprintf("Allocated by %s, asked for by %s.", owner, caller))
	case v.Owner != "":
		out = append(out, fmt.Sprintf("Allocated by %s; no user-mode caller outside the system DLLs.", owner))
	case v.Caller != "":
		out = append(out, fmt.Sprintf("Asked for by %s.", caller))
	case v.Stack == nil:
		out = append(out, "No stack is known for its blocks: none was recorded (xperf -stackwalk PoolAlloc) or none matched its events.")
	}
	if v.Stack != nil {
		out = append(out, fmt.Sprintf("That stack holds %.0f%% of the tag's outstanding bytes.", 100*v.StackShare))
	}
	if len(v.TagInImages) > 0 {
		out = append(out, "The tag's four bytes appear in "+strings.Join(v.TagInImages, ", ")+".")
	}
	return out
}
