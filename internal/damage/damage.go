// Package damage is how the example tools say that they could not read a
// whole trace: the warnings they print on stderr, the facts poolleak -json
// puts in its "trace" object, and the exit codes they share.
//
// A trace is read whole when the reader returned no error (no
// *etw.FormatError, no *etw.LimitError), holds no damage found at open
// that it did not return (etw.Reader.PendingErrors), and read at least as
// many buffers as the logfile header says were written (BuffersWritten
// counts the header buffer too). A file cut at a buffer
// boundary has no damaged record at all: only the buffer count shows it.
//
// Circular log files (EVENT_TRACE_FILE_MODE_CIRCULAR) are the exception:
// whether their BuffersWritten counts the buffers in the file or every
// buffer written while the file wrapped is not verified, so for them the
// buffer count is reported but only read errors make a trace partial.
package damage

import (
	"errors"
	"fmt"
	"io"

	"github.com/etwkit/etwkit/etw"
)

// Exit codes of the example tools.
const (
	// ExitOK: the result was printed from a trace read whole.
	ExitOK = 0
	// ExitUnreadable: the input could not be read at all (not a trace, no
	// such file, an I/O error), or an output could not be written.
	ExitUnreadable = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
	// ExitPartial: a result was printed from a trace that could not be
	// read whole (see [Report]).
	ExitPartial = 3
)

// Report says how much of a trace was read. Its JSON keys are those of
// poolleak -json's "trace" object.
type Report struct {
	// Complete is true when the trace was read whole.
	Complete bool `json:"complete"`
	// BuffersRead counts the buffers whose records were read, the header
	// buffer included.
	BuffersRead int `json:"buffers_read"`
	// BuffersWritten is the logfile header's BuffersWritten (0 when the
	// header does not say).
	BuffersWritten int `json:"buffers_written"`
	// ReadErrors are the damage reports of the reader, in the order seen.
	ReadErrors []ReadError `json:"read_errors"`

	circular bool            // a circular log file: BuffersWritten may not count the file's buffers
	limit    *etw.LimitError // the resource limit that stopped reading, if any
}

// modeCircular is EVENT_TRACE_FILE_MODE_CIRCULAR.
const modeCircular = 0x2

// ReadError is one damage report: the buffer (-1 when outside every
// buffer), the file offset and the reader's message.
type ReadError struct {
	Buffer int    `json:"buffer"`
	Offset int64  `json:"offset"`
	Error  string `json:"error"`
}

// Of returns the report of a reader that has been read to its end (or
// stopped by a *etw.LimitError), with the errors its iteration returned,
// then the damage the reader still holds ([etw.Reader.PendingErrors]).
// Errors that are neither *etw.FormatError nor *etw.LimitError are listed
// with buffer -1 and offset -1.
func Of(r *etw.Reader, errs []error) Report {
	d := Report{BuffersRead: r.Stats().BuffersRead, ReadErrors: []ReadError{}}
	if h := r.Header(); h != nil {
		d.BuffersWritten = int(h.BuffersWritten)
		d.circular = h.LogFileMode&modeCircular != 0
	}
	d.add(errs)
	d.add(r.PendingErrors())
	d.Complete = len(d.ReadErrors) == 0 && !d.Missing()
	return d
}

// OfErrors returns the report of a read that stopped early on purpose (a
// limit was reached): only the errors seen count, not the buffers left
// unread. Use [OfStopped] when the reader is at hand.
func OfErrors(errs []error) Report {
	d := Report{ReadErrors: []ReadError{}}
	d.add(errs)
	d.Complete = len(d.ReadErrors) == 0
	return d
}

// OfStopped returns the report of a read of r that stopped early on
// purpose (e.g. etwdump -limit): the errors seen, then the damage known
// from the start that the reader did not return (a corrupt zip member, a
// broken buffer walk), but not the buffers left unread.
func OfStopped(r *etw.Reader, errs []error) Report {
	return OfErrors(append(errs[:len(errs):len(errs)], r.PendingErrors()...))
}

func (d *Report) add(errs []error) {
	for _, err := range errs {
		e := ReadError{Buffer: -1, Offset: -1, Error: err.Error()}
		var fe *etw.FormatError
		var le *etw.LimitError
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
func (d *Report) Limit() *etw.LimitError { return d.limit }

// Missing reports whether fewer buffers were read than the header says
// were written (never for a circular log file: see the package comment).
func (d *Report) Missing() bool {
	return !d.circular && d.BuffersWritten > 0 && d.BuffersRead < d.BuffersWritten
}

// Warn prints on w, one line each prefixed by "tool: warning: ", the read
// errors (at most maxListed of them, then how many more) and, when the
// trace was not read whole, what is missing. It prints nothing for a
// complete trace.
func (d *Report) Warn(w io.Writer, tool string) {
	if d.Complete {
		return
	}
	for i, e := range d.ReadErrors {
		if i == maxListed {
			fmt.Fprintf(w, "%s: warning: %d more read errors\n", tool, len(d.ReadErrors)-maxListed)
			break
		}
		fmt.Fprintf(w, "%s: warning: %s\n", tool, e.Error)
	}
	d.Summarize(w, tool)
}

// Summarize prints on w only the last line of [Report.Warn], what is
// missing, for tools that printed each read error as it came. It prints
// nothing for a complete trace.
func (d *Report) Summarize(w io.Writer, tool string) {
	if d.Complete {
		return
	}
	switch {
	case d.limit != nil:
		fmt.Fprintf(w, "%s: warning: partial result: reading stopped at a resource limit after %d buffers (%d read errors)\n",
			tool, d.BuffersRead, len(d.ReadErrors))
		if a := LimitAdvice(d.limit); a != "" {
			fmt.Fprintf(w, "%s: warning: %s\n", tool, a)
		}
	case d.Missing():
		fmt.Fprintf(w, "%s: warning: partial result: read %d of the %d buffers the trace header says were written (%d read errors)\n",
			tool, d.BuffersRead, d.BuffersWritten, len(d.ReadErrors))
	default:
		fmt.Fprintf(w, "%s: warning: partial result: %d read errors; the rest of each damaged buffer was skipped\n", tool, len(d.ReadErrors))
	}
}

// maxListed bounds the read errors Warn prints one by one.
const maxListed = 20

// ExitCode is [ExitOK] for a complete trace and [ExitPartial] otherwise.
func (d *Report) ExitCode() int {
	if d.Complete {
		return ExitOK
	}
	return ExitPartial
}
