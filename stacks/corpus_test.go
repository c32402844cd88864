package stacks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/etwkit/etwkit/internal/corpus"
	"github.com/etwkit/etwkit/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type expectedStacks struct {
	StackRecords  map[string]int64 `json:"stack_records"`
	KeyResolution struct {
		KeyReferences int64 `json:"key_references"`
		Resolved      int64 `json:"resolved"`
	} `json:"key_resolution"`
	Stacks      int `json:"stacks"`
	EventStacks struct {
		Count           int64 `json:"count"`
		WOW64Transition int   `json:"wow64_transition"`
	} `json:"event_stacks"`
	Frames struct {
		Total              int `json:"total"`
		Kernel             int `json:"kernel"`
		UserNative         int `json:"user_native"`
		UserWOW64          int `json:"user_wow64"`
		Resolved           int `json:"resolved"`
		ResolvedKernel     int `json:"resolved_kernel"`
		ResolvedUserNative int `json:"resolved_user_native"`
		ResolvedUserWOW64  int `json:"resolved_user_wow64"`
		ZeroAddress        int `json:"zero_address"`
	} `json:"frames"`
	UserResolution struct {
		UserFrames              int     `json:"user_frames"`
		Resolved                int     `json:"resolved"`
		RatioCountingCLRMethods float64 `json:"ratio_counting_clr_methods"`
	} `json:"user_resolution"`
	CLR struct {
		Unresolved int            `json:"unresolved_user_frames"`
		Inside     int            `json:"inside_clr_method"`
		Events     map[string]int `json:"clr_method_events"`
	} `json:"unresolved_user_frames_in_clr_methods"`
	WOW64TransitionStacks int `json:"wow64_transition_stacks"`
	FirstStacks           []struct {
		Record          string          `json:"record"`
		Timestamp       int64           `json:"timestamp"`
		RecordTimestamp int64           `json:"record_timestamp"`
		PID             etw.PID         `json:"pid"`
		TID             etw.TID         `json:"tid"`
		Frames          []string        `json:"frames"`
		Segments        stacks.Segments `json:"segments"`
		Transition      bool            `json:"wow64_transition"`
	} `json:"first_stacks"`
}

// TestCorpusStacks checks stack attachment, key resolution, module maps,
// frame classes and WOW64 transitions against the independent stack
// reader's figures in expected/*.stacks.json.
func TestCorpusStacks(t *testing.T) {
	for _, tr := range corpus.Traces(t) {
		data, err := os.ReadFile(tr.Expected + ".stacks.json")
		if err != nil {
			continue
		}
		t.Run(tr.Name, func(t *testing.T) {
			var want expectedStacks
			require.NoError(t, json.Unmarshal(data, &want))

			r, err := etw.Open(tr.Path)
			require.NoError(t, err)
			defer r.Close()
			ptr := r.PointerSize()
			mods := stacks.NewModules(ptr)
			methods := stacks.NewMethods()
			withStack := int64(0)
			c := stacks.NewCorrelator(stacks.Options{
				PointerSize: ptr,
				KeepRecords: true,
				Wait:        1 << 62, // hold every event: the figures count every fragment
				Emit: func(ev *etw.Event, id stacks.StackID) {
					// The expected figure counts events with StackWalk
					// records; EVENT_HEADER extended-data stacks are
					// attached too but not counted there.
					if _, ext := ev.ExtStack(); id != stacks.NoStack && !ext {
						withStack++
					}
				},
			})
			for ev, err := range r.All() {
				require.NoError(t, err)
				mods.Event(ev)
				methods.Event(ev)
				c.Event(ev)
			}
			c.Finish()
			mods.Finish()

			st := c.Stats()
			assert.Equal(t, want.StackRecords["Stack"], st.StackRecords)
			assert.Equal(t, want.StackRecords["StackKeyKernel"]+want.StackRecords["StackKeyUser"], st.KeyReferences)
			assert.Zero(t, st.Unattached, "stack records without their event")
			assert.Equal(t, want.EventStacks.Count, withStack, "events with a stack")

			res := &stacks.Resolver{Modules: mods, PointerSize: ptr}
			recs := c.Records()
			var keyRefs, keyResolved int64
			type frameCounts struct{ total, kernel, userNative, userWOW64, resolved, rKernel, rNative, rWOW64, zero int }
			var fc frameCounts
			stacksWithFrames, transitions := 0, 0
			userFrames, userResolved, inMethod := 0, 0, 0
			sort.SliceStable(recs, func(i, j int) bool { return recs[i].RecordTimestamp < recs[j].RecordTimestamp })
			first := 0
			for _, rec := range recs {
				if rec.Opcode != 32 {
					keyRefs++
					if rec.Resolved {
						keyResolved++
					}
				}
				if len(rec.Frames) == 0 {
					continue
				}
				stacksWithFrames++
				frames := res.Resolve(rec.PID, rec.EventTimeStamp, rec.Frames)
				for i := range frames {
					f := &frames[i]
					fc.total++
					if f.Addr == 0 {
						fc.zero++
					}
					ok := f.Resolved()
					if ok {
						fc.resolved++
					}
					switch f.Kind {
					case stacks.Kernel:
						fc.kernel++
						if ok {
							fc.rKernel++
						}
					case stacks.User:
						fc.userNative++
						if ok {
							fc.rNative++
						}
					case stacks.WOW64:
						fc.userWOW64++
						if ok {
							fc.rWOW64++
						}
					}
					if f.Kind != stacks.Kernel {
						userFrames++
						if ok {
							userResolved++
						} else if methods.Lookup(rec.PID, f.Addr) != nil {
							inMethod++
						}
					}
				}
				tr := stacks.HasWOW64Transition(frames)
				if tr {
					transitions++
				}
				if first < len(want.FirstStacks) {
					w := want.FirstStacks[first]
					got := make([]string, len(frames))
					for i := range frames {
						got[i] = frames[i].String()
						if frames[i].Special != "" {
							// The independent reader leaves named
							// kernel ranges as addresses.
							assert.Contains(t, got[i], "[hypercall page]+0x")
							got[i] = fmt.Sprintf("0x%x", frames[i].Addr)
						}
					}
					assert.Equal(t, w.Timestamp, rec.EventTimeStamp, "first_stacks[%d]", first)
					assert.Equal(t, w.PID, rec.PID, "first_stacks[%d]", first)
					assert.Equal(t, w.Frames, got, "first_stacks[%d]", first)
					assert.Equal(t, w.Segments, stacks.SegmentsOf(frames), "first_stacks[%d]", first)
					assert.Equal(t, w.Transition, tr, "first_stacks[%d]", first)
					first++
				}
			}
			assert.Equal(t, want.KeyResolution.KeyReferences, keyRefs)
			assert.Equal(t, want.KeyResolution.Resolved, keyResolved)
			assert.Equal(t, want.Stacks, stacksWithFrames)
			assert.Equal(t, want.WOW64TransitionStacks, transitions)
			assert.Equal(t, want.Frames.Total, fc.total)
			assert.Equal(t, want.Frames.Kernel, fc.kernel)
			assert.Equal(t, want.Frames.UserNative, fc.userNative)
			assert.Equal(t, want.Frames.UserWOW64, fc.userWOW64)
			assert.Equal(t, want.Frames.Resolved, fc.resolved)
			assert.Equal(t, want.Frames.ResolvedKernel, fc.rKernel)
			assert.Equal(t, want.Frames.ResolvedUserNative, fc.rNative)
			assert.Equal(t, want.Frames.ResolvedUserWOW64, fc.rWOW64)
			assert.Equal(t, want.Frames.ZeroAddress, fc.zero)
			assert.Equal(t, want.CLR.Events, methods.Events)
			assert.Equal(t, want.CLR.Inside, inMethod, "unresolved user frames inside CLR methods")
			ratio := float64(userResolved+inMethod) / float64(userFrames)
			t.Logf("user frames %d, resolved %d, in CLR methods %d: %.4f", userFrames, userResolved, inMethod, ratio)
			assert.GreaterOrEqual(t, ratio, 0.998)
		})
	}
}
