package leak

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSymbolPathWarnings(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	assert.Empty(t, SymbolPathWarnings(""))
	assert.Empty(t, SymbolPathWarnings(dir))
	w := SymbolPathWarnings(dir + ";" + missing)
	assert.Len(t, w, 1)
	assert.Contains(t, w[0], missing)
	assert.Len(t, SymbolPathWarnings("srv*"+missing), 1, "a store without a server must exist")
	assert.Empty(t, SymbolPathWarnings("srv*"+missing+"*https://msdl.microsoft.com/download/symbols"), "a cache in front of a server is created")
}
