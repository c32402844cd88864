package leak

import (
	"strconv"
	"strings"

	"github.com/etwkit/etwkit/pool"
)

// CloseMatches returns the tags of the trace that a -tag text which was
// not found may have meant (pool.SimilarTags over OtherTags), quoted and
// comma-separated, or "" when there are none.
func (r *Result) CloseMatches(tag string) string {
	close := pool.SimilarTags(tag, r.OtherTags)
	names := make([]string, len(close))
	for i, t := range close {
		names[i] = strconv.Quote(t.String())
	}
	return strings.Join(names, ", ")
}
