package export

import (
	"fmt"

	"github.com/google/pprof/profile"
)

// Merge returns one profile holding the samples of all ps, for example the
// profiles of several traces: samples with the same stack and labels are
// summed. All ps must have the same sample types (name and unit) and
// period type; unlike [profile.Merge], the sample types may be in different
// orders (values are reordered to the first profile's order). Same-named
// modules with the same build ID and size but loaded at different
// addresses (ASLR) become one mapping, as pprof merges them. The result
// has the first non-empty default sample type, the earliest non-zero start
// time, the sum of the durations and every distinct comment. The inputs are not
// modified.
func Merge(ps ...*profile.Profile) (*profile.Profile, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w to merge", ErrNoProfiles)
	}
	srcs := make([]*profile.Profile, len(ps))
	for i, p := range ps {
		if p == nil {
			return nil, fmt.Errorf("%w: merge: profile %d is nil", ErrNoProfiles, i)
		}
		q, err := align(ps[0], p)
		if err != nil {
			return nil, fmt.Errorf("merge: profile %d: %w", i, err)
		}
		srcs[i] = q
	}
	m, err := profile.Merge(srcs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncompatible, err)
	}
	// profile.Merge lets a profile without a start time reset it to 0.
	m.TimeNanos = 0
	for _, p := range ps {
		if p.TimeNanos != 0 && (m.TimeNanos == 0 || p.TimeNanos < m.TimeNanos) {
			m.TimeNanos = p.TimeNanos
		}
	}
	if err := m.CheckValid(); err != nil {
		return nil, fmt.Errorf("export: merge produced an invalid profile: %w", err)
	}
	return m, nil
}

// Diff returns cur minus base as one profile: every sample of base is
// negated and merged into cur, so stacks that grew have positive values,
// stacks that shrank negative ones, and unchanged ones disappear. Use it to
// compare two windows of one trace or two traces when a single file is
// wanted (flame graphs, sharing). Keeping the two profiles and running
// `go tool pprof -diff_base=base.pb.gz cur.pb.gz` shows the same values,
// with percentages relative to the base. The result carries cur's time,
// duration, default sample type and comments, followed by base's comments
// prefixed with "base: ". The inputs are not modified.
func Diff(base, cur *profile.Profile) (*profile.Profile, error) {
	if base == nil || cur == nil {
		return nil, fmt.Errorf("%w: diff of a nil profile", ErrNoProfiles)
	}
	nb, err := align(cur, base)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	if nb == base {
		nb = base.Copy()
	}
	for _, s := range nb.Sample {
		for i := range s.Value {
			s.Value[i] = -s.Value[i]
		}
	}
	d, err := profile.Merge([]*profile.Profile{cur, nb})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncompatible, err)
	}
	d.TimeNanos, d.DurationNanos = cur.TimeNanos, cur.DurationNanos
	d.DefaultSampleType = cur.DefaultSampleType
	d.Comments = append([]string(nil), cur.Comments...)
	for _, c := range base.Comments {
		d.Comments = append(d.Comments, "base: "+c)
	}
	if err := d.CheckValid(); err != nil {
		return nil, fmt.Errorf("export: diff produced an invalid profile: %w", err)
	}
	return d, nil
}

// align returns p with its sample values in the order of ref's sample
// types: p itself when they already are, otherwise a reordered copy.
// Invalid profiles and profiles without a period type (which
// [profile.Merge] would dereference) are rejected.
func align(ref, p *profile.Profile) (*profile.Profile, error) {
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncompatible, err)
	}
	if ref.PeriodType == nil || p.PeriodType == nil {
		return nil, fmt.Errorf("%w: profile without period type", ErrIncompatible)
	}
	if !sameValueType(ref.PeriodType, p.PeriodType) {
		return nil, fmt.Errorf("%w: period type %s vs %s", ErrIncompatible, valueTypeString(p.PeriodType), valueTypeString(ref.PeriodType))
	}
	if len(ref.SampleType) != len(p.SampleType) {
		return nil, fmt.Errorf("%w: sample types %s vs %s", ErrIncompatible, typesString(p.SampleType), typesString(ref.SampleType))
	}
	perm := make([]int, len(ref.SampleType)) // perm[i]: index in p of ref's type i
	identity := true
	for i, rt := range ref.SampleType {
		perm[i] = -1
		for j, pt := range p.SampleType {
			if sameValueType(rt, pt) {
				perm[i] = j
				break
			}
		}
		if perm[i] < 0 {
			return nil, fmt.Errorf("%w: sample types %s vs %s", ErrIncompatible, typesString(p.SampleType), typesString(ref.SampleType))
		}
		identity = identity && perm[i] == i
	}
	if identity {
		return p, nil
	}
	q := p.Copy()
	for _, s := range q.Sample {
		if len(s.Value) != len(perm) {
			return nil, fmt.Errorf("%w: sample has %d values for %d types", ErrIncompatible, len(s.Value), len(perm))
		}
		v := make([]int64, len(perm))
		for i, j := range perm {
			v[i] = s.Value[j]
		}
		s.Value = v
	}
	q.SampleType = make([]*profile.ValueType, len(ref.SampleType))
	for i, t := range ref.SampleType {
		q.SampleType[i] = &profile.ValueType{Type: t.Type, Unit: t.Unit}
	}
	return q, nil
}

func sameValueType(a, b *profile.ValueType) bool {
	if a == nil || b == nil {
		return false
	}
	return a.Type == b.Type && a.Unit == b.Unit
}

func valueTypeString(t *profile.ValueType) string {
	if t == nil {
		return "none"
	}
	return t.Type + "/" + t.Unit
}

func typesString(ts []*profile.ValueType) string {
	s := "["
	for i, t := range ts {
		if i > 0 {
			s += " "
		}
		s += valueTypeString(t)
	}
	return s + "]"
}
