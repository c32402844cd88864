// Package census computes the structural census of an ETL trace that
// examples/etlstat prints and the corpus tests compare with the expected
// files: buffers, compression, records per header type, kernel hook ids,
// providers and the logfile header.
package census

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/etwkit/etwkit/etw"
)

// Census is the JSON object etlstat -json prints for one trace. Its keys are
// those of the corpus's expected *.census.json files.
type Census struct {
	File              string           `json:"file"`
	Buffers           int              `json:"buffers"`
	CompressedBuffers int              `json:"compressed_buffers"`
	Compression       string           `json:"compression"`
	Events            int64            `json:"events"`
	HeaderTypes       map[string]int64 `json:"header_types"`
	KernelHooks       map[string]int64 `json:"kernel_hooks"`
	Providers         map[string]int64 `json:"providers"`
	ClassicProviders  map[string]int64 `json:"classic_providers"`
	Logfile           Logfile          `json:"logfile"`
	Errors            []string         `json:"errors"`
	// Damage says whether the trace was read whole (not part of the
	// census JSON, whose keys are the expected files').
	Damage etw.ReadReport `json:"-"`
}

// Logfile holds the TRACE_LOGFILE_HEADER fields of the census.
type Logfile struct {
	BootTime           int64  `json:"BootTime"`
	BuffersLost        uint32 `json:"BuffersLost"`
	BuffersWritten     uint32 `json:"BuffersWritten"`
	CPUSpeedInMHz      uint32 `json:"CpuSpeedInMHz"`
	EndTime            int64  `json:"EndTime"`
	EventsLost         uint32 `json:"EventsLost"`
	LogFileMode        string `json:"LogFileMode"`
	LoggerName         string `json:"LoggerName"`
	NumberOfProcessors uint32 `json:"NumberOfProcessors"`
	OSBuild            uint32 `json:"OSBuild"`
	PerfFreq           int64  `json:"PerfFreq"`
	PointerSize        uint32 `json:"PointerSize"`
	ReservedFlags      uint32 `json:"ReservedFlags"`
	StartTime          int64  `json:"StartTime"`
	TimerResolution    uint32 `json:"TimerResolution"`
}

// DisplayName returns the census name of a path: its base name, or
// "zip!member" for a zip member.
func DisplayName(path string) string {
	if i := strings.Index(strings.ToLower(path), ".zip!"); i >= 0 {
		return filepath.Base(path[:i+4]) + "!" + path[i+5:]
	}
	return filepath.Base(path)
}

// Of reads the trace at path (as etw.Open accepts it) in file order and
// returns its census. An error is returned only when the input is not a
// trace at all; damage inside the trace is listed in Census.Errors.
func Of(path string) (*Census, error) { return OfLimited(path, etw.Limits{}) }

// OfLimited is [Of] with the reader's resource limits: a *etw.LimitError
// ends the census, which is that of the part read, the error last in
// Census.Errors and Census.Damage.
func OfLimited(path string, lim etw.Limits) (*Census, error) {
	r, err := etw.OpenLimited(path, lim)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	name := DisplayName(path)
	if r.Name() != "" && strings.HasSuffix(strings.ToLower(path), ".zip") {
		name = filepath.Base(path)
	}
	return FromReader(r, name)
}

// FromReader computes the census of an open reader, which must not have
// been read yet.
func FromReader(r *etw.Reader, name string) (*Census, error) {
	if err := r.SetOrder(etw.FileOrder); err != nil {
		return nil, err
	}
	c := &Census{
		File:             name,
		HeaderTypes:      map[string]int64{},
		KernelHooks:      map[string]int64{},
		Providers:        map[string]int64{},
		ClassicProviders: map[string]int64{},
		Errors:           []string{},
	}
	var errs []error
	var headerCounts [256]int64
	var hooks hookCounter
	providers, classic := newGUIDCounter(), newGUIDCounter()
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Errors = append(c.Errors, err.Error())
			errs = append(errs, err)
			var fe *etw.FormatError
			if !errors.As(err, &fe) {
				break
			}
			continue
		}
		c.Events++
		headerCounts[ev.Header]++
		switch ev.Header {
		case etw.HeaderSystem32, etw.HeaderSystem64, etw.HeaderCompact32, etw.HeaderCompact64, etw.HeaderPerfInfo32, etw.HeaderPerfInfo64:
			hooks.add(ev.Hook)
		case etw.HeaderEvent32, etw.HeaderEvent64:
			providers.add(ev.Provider)
		case etw.HeaderFull32, etw.HeaderFull64, etw.HeaderInstance32, etw.HeaderInstance64:
			classic.add(ev.Provider)
		}
	}
	providers.into(c.Providers)
	classic.into(c.ClassicProviders)
	for t, n := range headerCounts {
		if n > 0 {
			c.HeaderTypes[etw.HeaderType(t).String()] = n
		}
	}
	hooks.into(c.KernelHooks)
	c.Damage = r.Report(errs)
	st := r.Stats()
	c.Buffers = st.Buffers
	c.CompressedBuffers = st.CompressedBuffers
	if r.Header().Compressed() {
		c.Compression = r.Compression().String()
	} else {
		c.Compression = etw.CompressionNone.String()
	}
	h := r.Header()
	c.Logfile = Logfile{
		BootTime:           h.BootTime,
		BuffersLost:        h.BuffersLost,
		BuffersWritten:     h.BuffersWritten,
		CPUSpeedInMHz:      h.CPUSpeedMHz,
		EndTime:            h.EndTime,
		EventsLost:         h.EventsLost,
		LogFileMode:        fmt.Sprintf("0x%x", h.LogFileMode),
		LoggerName:         h.LoggerName,
		NumberOfProcessors: h.NumberOfProcessors,
		OSBuild:            h.ProviderVersion,
		PerfFreq:           h.PerfFreq,
		PointerSize:        h.PointerSize,
		ReservedFlags:      h.ReservedFlags,
		StartTime:          h.StartTime,
		TimerResolution:    h.TimerResolution,
	}
	return c, nil
}

// guidCounter counts events per GUID without allocating per event: the
// counts are kept by GUID value and named once at the end. Events of one
// provider come in runs, so the last GUID's count is kept at hand.
type guidCounter struct {
	m    map[etw.GUID]*int64
	last etw.GUID
	n    *int64
}

func newGUIDCounter() guidCounter { return guidCounter{m: map[etw.GUID]*int64{}} }

func (g *guidCounter) add(id etw.GUID) {
	if g.n == nil || id != g.last {
		n := g.m[id]
		if n == nil {
			n = new(int64)
			g.m[id] = n
		}
		g.last, g.n = id, n
	}
	*g.n++
}

// into adds the counts to m under the GUIDs' string form.
func (g *guidCounter) into(m map[string]int64) {
	for id, n := range g.m {
		m[id.String()] += *n
	}
}

// hookCounter counts events per kernel hook id in a table of 256 groups
// of 256 types, a group's row made when its first event comes: a flat
// table of every hook id would be 512 KiB to clear for a few dozen ids.
type hookCounter struct {
	rows [256]*[256]int64
}

func (h *hookCounter) add(id etw.HookID) {
	row := h.rows[id>>8]
	if row == nil {
		row = new([256]int64)
		h.rows[id>>8] = row
	}
	row[id&0xFF]++
}

// into adds the nonzero counts to m under the hook ids' string form.
func (h *hookCounter) into(m map[string]int64) {
	for g, row := range h.rows {
		if row == nil {
			continue
		}
		for t, n := range row {
			if n > 0 {
				m[etw.HookID(g<<8|t).String()] += n
			}
		}
	}
}
