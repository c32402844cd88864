package leak

import (
	"fmt"
	"os"

	"github.com/etwkit/etwkit/internal/symstore"
)

// SymbolPathWarnings returns one warning for each folder of a symbol path
// (in _NT_SYMBOL_PATH syntax) that does not exist: without it a mistyped
// folder is silent, since nothing is ever found there. Local stores in
// front of an HTTP server are left out (they are created as caches). A
// path that does not parse gives no warning here: the symbolizer reports
// it.
func SymbolPathWarnings(path string) []string {
	if path == "" {
		return nil
	}
	p, err := symstore.Parse(path)
	if err != nil {
		return nil
	}
	var out []string
	check := func(dir string) {
		if dir == "" {
			return
		}
		if _, err := os.Stat(dir); err != nil {
			out = append(out, fmt.Sprintf("symbol path: folder %s does not exist; no symbols will come from it", dir))
		}
	}
	for _, e := range p.Entries {
		switch {
		case e.Kind == symstore.KindFolder:
			check(e.Dir)
		case e.URL == "":
			for _, d := range e.Stores {
				check(d)
			}
		}
	}
	return out
}
