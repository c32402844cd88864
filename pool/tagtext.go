package pool

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrTagText is returned (wrapped) by [ParseTag] for text that is no pool
// tag.
var ErrTagText = errors.New("pool: not a pool tag")

// ParseTag returns the tag of text as people type it: one to four bytes,
// padded with spaces, so "Irp" is the tag "Irp " (tags are four bytes and
// short ones are logged space-padded). Matching is exact (tags are case
// sensitive). Empty text and text longer than four bytes are errors
// wrapping [ErrTagText]; [MakeTag], by contrast, pads and truncates.
func ParseTag(text string) (Tag, error) {
	if text == "" || len(text) > 4 {
		return 0, fmt.Errorf("%w: %q is %d bytes; a tag is 1 to 4 (shorter ones are padded with spaces)", ErrTagText, text, len(text))
	}
	return MakeTag(text), nil
}

// SimilarTags returns the tags of seen that text may have meant, sorted by
// their text form: those equal to it ignoring case and trailing spaces,
// and those of which it is a case-insensitive extension or prefix (so
// "irp" and "IrpLong" both find "Irp ").
func SimilarTags(text string, seen []Tag) []Tag {
	want := strings.ToLower(strings.TrimRight(text, " "))
	if want == "" {
		return nil
	}
	var out []Tag
	for _, t := range seen {
		s := strings.ToLower(strings.TrimRight(t.String(), " "))
		if s == "" {
			continue
		}
		if strings.HasPrefix(want, s) || strings.HasPrefix(s, want) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}
