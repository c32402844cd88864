package main

import (
	"fmt"
	"os"
	"time"

	"github.com/etwkit/etwkit/export"
	"github.com/etwkit/etwkit/internal/analysis"
	"github.com/etwkit/etwkit/stacks"
)

// writeProfile writes the outstanding allocations of res as a pprof
// profile: inuse_objects/inuse_space per stack, tag, pool kind and process,
// and alloc_objects (allocations made from the stack, freed or not). The
// ledger keeps no per-stack allocated bytes, so alloc_space is 0.
func writeProfile(name, trace string, res *analysis.Result) error {
	meta := export.Meta{Trace: trace, Comments: []string{"recorded by poolwatch"}}
	if t := res.Report.Trace; !t.Start.IsZero() {
		meta.Start = t.Start
		meta.Duration = time.Duration(t.DurationS * float64(time.Second))
	}
	p, err := export.Build(samples(res), meta, export.Options{})
	if err != nil {
		return err
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := export.Write(f, p); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}

// samples adapts the pipeline's resolved stacks to the export model.
func samples(res *analysis.Result) []export.Sample {
	mods := map[*stacks.Module]*export.Module{}
	module := func(m *stacks.Module) *export.Module {
		if em, ok := mods[m]; ok {
			return em
		}
		em := &export.Module{Path: m.Path, Start: m.Base, Limit: m.Base + m.Size}
		if em.Limit <= em.Start {
			em.Limit = em.Start + 1
		}
		if m.PDB != nil {
			em.BuildID = m.PDB.BuildID()
		}
		mods[m] = em
		return em
	}
	out := make([]export.Sample, 0, len(res.Stacks))
	for i := range res.Stacks {
		st := &res.Stacks[i]
		s := export.Sample{
			Tag: st.Tag, Pool: st.Pool, Process: st.Process, PID: st.PID,
			AllocObjects: int64(st.Allocs),
			InuseObjects: int64(st.OutstandingCount), InuseBytes: int64(st.OutstandingBytes),
		}
		for j := range st.Resolved {
			f := &st.Resolved[j]
			ef := export.Frame{Address: f.Addr, Kind: frameKind(f)}
			switch {
			case f.Kind == stacks.Marker:
				ef.Function = f.Text
			case f.Module != nil:
				ef.Module = module(f.Module)
				if f.Symbol != nil {
					ef.Function, ef.File, ef.Line = f.Symbol.Name, f.Symbol.File, f.Symbol.Line
					if f.Symbol.Decorated != f.Symbol.Name {
						ef.SystemName = f.Symbol.Decorated
					}
					ef.Module.HasFunctions = true
					ef.Module.HasFilenames = ef.Module.HasFilenames || f.Symbol.File != ""
					ef.Module.HasLineNumbers = ef.Module.HasLineNumbers || f.Symbol.Line > 0
				}
			case f.Method != nil:
				ef.Function = f.Method.FullName()
			case f.Special != "":
				ef.Function = f.Special
			}
			s.Frames = append(s.Frames, ef)
		}
		out = append(out, s)
	}
	return out
}

func frameKind(f *stacks.Frame) export.FrameKind {
	switch f.Kind {
	case stacks.Kernel:
		return export.Kernel
	case stacks.WOW64:
		return export.WOW64
	case stacks.Marker:
		return export.Marker
	}
	return export.User
}
