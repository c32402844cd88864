package export

import "errors"

// Errors returned by this package, wrapped with context; test them with
// errors.Is.
var (
	// ErrInvalidInput reports a Sample, Module, Meta or Options value that
	// cannot be exported: a frame outside its module, a module with
	// Start >= Limit or a malformed BuildID, a negative duration, an unknown
	// DefaultSampleType.
	ErrInvalidInput = errors.New("export: invalid input")
	// ErrIncompatible reports profiles that cannot be merged or diffed:
	// different sample types or period types.
	ErrIncompatible = errors.New("export: incompatible profiles")
	// ErrNoProfiles reports a Merge of zero profiles or of a nil profile.
	ErrNoProfiles = errors.New("export: no profile")
)
