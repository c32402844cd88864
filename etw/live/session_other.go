//go:build !windows

package live

import "github.com/etwkit/etwkit/etw"

// stubSource stands in for the ETW session on systems without ETW. It is
// never started: openSource reports ErrNotSupported.
type stubSource struct{}

var _ source = (*stubSource)(nil)

func openSource(Options, []tagPattern) (source, error) { return nil, ErrNotSupported }

func (*stubSource) run(recordSink) error   { return ErrNotSupported }
func (*stubSource) stop() error            { return nil }
func (*stubSource) abort()                 {}
func (*stubSource) release()               {}
func (*stubSource) stats() sourceStats     { return sourceStats{} }
func (*stubSource) clock() *etw.Clock      { return nil }
func (*stubSource) pointerSize() int       { return 8 }
func (*stubSource) resolver() pathResolver { return pathResolver{} }

// ListSessions returns ErrNotSupported: there are no ETW sessions here.
func ListSessions() ([]string, error) { return nil, ErrNotSupported }

// StopSession returns ErrNotSupported: there are no ETW sessions here.
func StopSession(string) error { return ErrNotSupported }

// processAlive is never asked on systems without ETW.
func processAlive(int) bool { return false }
