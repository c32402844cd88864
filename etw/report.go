package etw

import (
	"errors"
	"fmt"
)

// ReadReport says how much of a trace was read: whether it was read whole,
// how many buffers were read of those the header says were written, and
// the damage reports met on the way. Its JSON keys are those of
// poolleak -json's "trace" object.
//
// A trace is read whole when the reader returned no error (no
// *[FormatError], no *[LimitError]), holds no damage found at open that it
// did not return ([Reader.PendingErrors]), and read at least as many
// buffers as the logfile header says were written (BuffersWritten counts
// the header buffer too). A file cut at a buffer boundary has no damaged
// record at all: only the buffer count shows it.
//
// Circular log files ([ModeCircular]) are the exception: whether their
// BuffersWritten counts the buffers in the file or every buffer written
// while the file wrapped is not verified, so for them the buffer count is
// reported but only read errors make a trace partial.
type ReadReport struct {
	// Complete is true when the trace was read whole.
	Complete bool `json:"complete"`
	// BuffersRead counts the buffers whose records were read, the header
	// buffer included.
	BuffersRead int `json:"buffers_read"`
	// BuffersWritten is the logfile header's BuffersWritten (0 when the
	// header does not say).
	BuffersWritten int `json:"buffers_written"`
	// ReadErrors are the damage reports of the reader, in the order seen.
	ReadErrors []ReadDamage `json:"read_errors"`

	circular bool        // a circular log file: BuffersWritten may not count the file's buffers
	limit    *LimitError // the resource limit that stopped reading, if any
}

// ReadDamage is one damage report of a [ReadReport]: the buffer (-1 when
// outside every buffer), the file offset (-1 when unknown) and the
// reader's message.
type ReadDamage struct {
	Buffer int    `json:"buffer"`
	Offset int64  `json:"offset"`
	Error  string `json:"error"`
}

// Report returns the report of a reader that has been read to its end (or
// stopped by a *[LimitError]), with errs, the errors its iteration
// returned, then the damage the reader still holds
// ([Reader.PendingErrors]). Errors that are neither *[FormatError] nor
// *[LimitError] are listed with buffer -1 and offset -1.
func (r *Reader) Report(errs []error) ReadReport {
	d := ReadReport{BuffersRead: r.Stats().BuffersRead, ReadErrors: []ReadDamage{}}
	if h := r.Header(); h != nil {
		d.BuffersWritten = int(h.BuffersWritten)
		d.circular = h.LogFileMode&ModeCircular != 0
	}
	d.add(errs)
	d.add(r.PendingErrors())
	d.Complete = len(d.ReadErrors) == 0 && !d.Missing()
	return d
}

// StoppedReport returns the report of a read of r that stopped early on
// purpose (a count limit was reached, as with etwdump -limit): errs, the
// errors seen, then the damage known from the start that the reader did
// not return (a corrupt zip member, a broken buffer walk), but not the
// buffers left unread.
func (r *Reader) StoppedReport(errs []error) ReadReport {
	d := ReadReport{ReadErrors: []ReadDamage{}}
	d.add(errs)
	d.add(r.PendingErrors())
	d.Complete = len(d.ReadErrors) == 0
	return d
}

func (d *ReadReport) add(errs []error) {
	for _, err := range errs {
		e := ReadDamage{Buffer: -1, Offset: -1, Error: err.Error()}
		var fe *FormatError
		var le *LimitError
		switch {
		case errors.As(err, &fe):
			e.Buffer, e.Offset = fe.Buffer, fe.Offset
		case errors.As(err, &le):
			if le.Buffer >= 0 {
				e.Buffer, e.Offset = le.Buffer, le.Offset
			}
			if d.limit == nil {
				d.limit = le
			}
		}
		d.ReadErrors = append(d.ReadErrors, e)
	}
}

// Limit returns the resource limit that stopped reading, or nil.
func (d *ReadReport) Limit() *LimitError { return d.limit }

// Missing reports whether fewer buffers were read than the header says
// were written (never for a circular log file: see [ReadReport]).
func (d *ReadReport) Missing() bool {
	return !d.circular && d.BuffersWritten > 0 && d.BuffersRead < d.BuffersWritten
}

// Partial says what is missing from a trace that was not read whole, as
// the tools' last warning says it without its prefix ("partial result:
// read 13 of the 41 buffers ..."), or returns "" for a complete trace.
// The tools also put it in the comments of the pprof profiles they write,
// so that a profile of a partial trace says so.
func (d *ReadReport) Partial() string {
	switch {
	case d.Complete:
		return ""
	case d.limit != nil:
		return fmt.Sprintf("partial result: reading stopped at a resource limit after %s (%s)",
			count(d.BuffersRead, "buffer"), count(len(d.ReadErrors), "read error"))
	case d.Missing():
		return fmt.Sprintf("partial result: read %d of the %d buffers the trace header says were written (%s)",
			d.BuffersRead, d.BuffersWritten, count(len(d.ReadErrors), "read error"))
	}
	return fmt.Sprintf("partial result: %s; the rest of each damaged buffer was skipped", count(len(d.ReadErrors), "read error"))
}

// count returns n and a noun, plural unless n is 1: "1 read error",
// "3 read errors", "0 buffers". The noun must take a plain "s".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
