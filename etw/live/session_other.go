//go:build !windows

package live

import "github.com/etwkit/etwkit/etw"

// stubSource stands in for the ETW session on systems without ETW. It is
// never started: openSource reports ErrNotSupported.
type stubSource struct{}

var _ source = (*stubSource)(nil)

func openSource(Options, []uint32) (source, error) { return nil, ErrNotSupported }

func (*stubSource) run(recordSink) error   { return ErrNotSupported }
func (*stubSource) stop() error            { return nil }
func (*stubSource) stats() sourceStats     { return sourceStats{} }
func (*stubSource) clock() *etw.Clock      { return nil }
func (*stubSource) pointerSize() int       { return 8 }
func (*stubSource) resolver() pathResolver { return pathResolver{} }
