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
	var hookCounts [1 << 16]int64
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
			hookCounts[ev.Hook]++
		case etw.HeaderEvent32, etw.HeaderEvent64:
			c.Providers[ev.Provider.String()]++
		case etw.HeaderFull32, etw.HeaderFull64, etw.HeaderInstance32, etw.HeaderInstance64:
			c.ClassicProviders[ev.Provider.String()]++
		}
	}
	for t, n := range headerCounts {
		if n > 0 {
			c.HeaderTypes[etw.HeaderType(t).String()] = n
		}
	}
	for h, n := range hookCounts {
		if n > 0 {
			c.KernelHooks[etw.HookID(h).String()] = n
		}
	}
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
