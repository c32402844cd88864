package leak

import (
	"fmt"
	"time"

	"github.com/google/pprof/profile"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/pool"
	"github.com/etwkit/etwkit/stacks"
)

// samples turns the ledger's allocation groups into export samples, each
// stack resolved once.
func (p *Pipeline) samples(rep *pool.Report) []export.Sample {
	var conv FrameExporter
	frames := map[uint64][]export.Frame{}
	out := make([]export.Sample, 0, len(rep.Groups))
	for _, g := range rep.Groups {
		fs, ok := frames[g.Key]
		if !ok {
			if cid := p.stackOfKey(g.Key); cid != stacks.NoStack {
				fs = conv.Frames(p.resolve(cid))
			}
			frames[g.Key] = fs
		}
		name := ""
		if pr := p.mods.Process(etw.PID(g.PID)); pr != nil {
			name = pr.Name
		}
		out = append(out, export.Sample{
			Frames: fs, Tag: g.Tag.String(), Pool: g.Pool.String(), Process: name, PID: g.PID,
			AllocObjects: int64(g.Allocs), AllocBytes: int64(g.BytesAllocated),
			InuseObjects: int64(g.OutstandingCount), InuseBytes: int64(g.OutstandingBytes),
			AllocatedMinusFreedBytes: int64(g.BytesAllocated) - int64(g.BytesFreed),
		})
	}
	return out
}

// FrameExporter turns resolved frames ([stacks.Frame]) into profile frames
// ([export.Frame]), with one [export.Module] per mapped image whose flags
// say how far its frames were symbolized. It is the adapter a custom
// analyzer needs between package stacks and package export. The zero value
// is ready to use; keep one per profile, so that frames of the same image
// share their module.
type FrameExporter struct {
	modules map[*stacks.Module]*export.Module
}

func (c *FrameExporter) module(m *stacks.Module) *export.Module {
	if em, ok := c.modules[m]; ok {
		return em
	}
	em := &export.Module{Path: m.Path, Start: m.Base, Limit: m.Base + m.Size}
	if m.Size == 0 {
		em.Limit = m.Base + 1
	}
	if m.PDB != nil {
		em.BuildID = m.PDB.BuildID()
	}
	if c.modules == nil {
		c.modules = map[*stacks.Module]*export.Module{}
	}
	c.modules[m] = em
	return em
}

// Frames returns the export frames of resolved frames, in the same order.
func (c *FrameExporter) Frames(in []stacks.Frame) []export.Frame {
	out := make([]export.Frame, 0, len(in))
	for i := range in {
		f := &in[i]
		ef := export.Frame{Address: f.Addr, Kind: f.Kind}
		if f.Kind == stacks.Marker {
			ef.Function = f.Text
		}
		switch {
		case f.Module != nil:
			em := c.module(f.Module)
			ef.Module = em
			if f.Symbol != nil {
				ef.Function = f.Symbol.Name
				if f.Symbol.Decorated != f.Symbol.Name {
					ef.SystemName = f.Symbol.Decorated
				}
				em.HasFunctions = true
				if f.Symbol.File != "" {
					ef.File, ef.Line = f.Symbol.File, f.Symbol.Line
					em.HasFilenames, em.HasLineNumbers = true, true
				}
			}
		case f.Method != nil:
			ef.Function = stacks.ManagedModule + "!" + f.Method.FullName()
		case f.Special != "":
			ef.Function = f.Special
		}
		out = append(out, ef)
	}
	return out
}

// Profile builds the pprof profile of a result: the heap-profile sample
// types over every allocation group of the trace (inuse = outstanding at
// the end of the trace, or of the window when one was given; alloc counts
// from the trace start), with the options of export.Build.
func (res *Result) Profile(trace string, opts export.Options) (*profile.Profile, error) {
	return export.Build(res.Samples, res.meta(trace), opts)
}

// GrowthProfile builds the growth view: bytes allocated minus bytes freed
// per stack.
func (res *Result) GrowthProfile(trace string, opts export.Options) (*profile.Profile, error) {
	return export.BuildGrowth(res.Samples, res.meta(trace), opts)
}

func (res *Result) meta(trace string) export.Meta {
	m := export.Meta{Trace: trace}
	if t := res.Report.Trace; !t.Start.IsZero() && t.DurationS >= 0 {
		m.Start = t.Start
		m.Duration = time.Duration(t.DurationS * float64(time.Second))
	}
	if res.Header != nil {
		m.Comments = append(m.Comments, fmt.Sprintf("kernel pool allocations; %d events lost, %d buffers lost",
			res.Header.EventsLost, res.Header.BuffersLost))
	}
	return m
}
