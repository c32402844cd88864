package pooltag

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample is a small file in pooltag.txt's format, written for these tests.
const sample = "\ufeff// a comment line\r\n" +
	"rem another comment\r\n" +
	"\r\n" +
	"Irp  - <unknown> - Io, IRP packets\r\n" +
	"Etwk - driver.sys - etwkit test driver contexts\r\n" +
	"Ntf0 - ntfs.sys   - general allocation\r\n" +
	"Ab   - nt!xyz\r\n" +
	"Etwk - other.sys - a later duplicate\r\n"

func TestParse(t *testing.T) {
	tb, err := Parse(strings.NewReader(sample))
	require.NoError(t, err)
	assert.Equal(t, 4, tb.Len())
	e, ok := tb.Lookup("Irp ")
	require.True(t, ok)
	assert.Equal(t, Entry{Tag: "Irp ", Binary: "<unknown>", Description: "Io, IRP packets"}, e)
	assert.Equal(t, "Io, IRP packets", e.String())
	e, ok = tb.Lookup("Irp") // trailing spaces optional
	require.True(t, ok)
	assert.Equal(t, "Irp ", e.Tag)
	assert.Equal(t, "etwkit test driver contexts (driver.sys)", tb.Describe("Etwk"))
	assert.Equal(t, "general allocation (ntfs.sys)", tb.Describe("Ntf0"))
	assert.Equal(t, "nt!xyz", tb.Describe("Ab"))
	assert.Equal(t, "", tb.Describe("irp ")) // case sensitive
	assert.Equal(t, "", (*Table)(nil).Describe("Irp "))
}

func TestParseRejectsGarbage(t *testing.T) {
	_, err := Parse(strings.NewReader("Irp  - <unknown> - Io\nthis is not a tag line\n"))
	require.ErrorIs(t, err, ErrFormat)
	assert.Contains(t, err.Error(), "line 2")
	_, err = Parse(strings.NewReader(strings.Repeat("x", MaxLine+10)))
	require.Error(t, err)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pooltag.txt")
	require.NoError(t, os.WriteFile(p, []byte(sample), 0o644))
	t.Setenv(Env, "")
	tb, err := Load(p)
	require.NoError(t, err)
	assert.Equal(t, p, tb.Path)
	t.Setenv(Env, p)
	tb, err = Load("")
	require.NoError(t, err)
	assert.Equal(t, 4, tb.Len())
	t.Setenv(Env, filepath.Join(dir, "missing.txt"))
	_, err = Load("")
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), Env)
	_, err = Load(filepath.Join(dir, "missing.txt"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestReaderContains(t *testing.T) {
	// A match straddling the chunk boundary, one inside a chunk, none.
	data := bytes.Repeat([]byte{0xcc}, 3*chunk)
	copy(data[chunk-2:], "Etwk")
	ok, err := ReaderContains(bytes.NewReader(data), "Etwk")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = ReaderContains(bytes.NewReader(data), "Irp")
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = ReaderContains(strings.NewReader("xxIrp yy"), "Irp")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = ReaderContains(strings.NewReader("Et"), "Etwk")
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = ReaderContains(strings.NewReader(""), "toolong")
	require.Error(t, err)
	_, err = ReaderContains(errReader{}, "Etwk")
	require.ErrorIs(t, err, errBoom)
}

var errBoom = errors.New("boom")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

func TestContainsDriverImage(t *testing.T) {
	// driver.c stores 'Etwk' as a literal in its data.
	ok, err := Contains(filepath.Join("..", "..", "testdata", "symbols", "driver.sys"), "Etwk")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = Contains(filepath.Join("..", "..", "testdata", "symbols", "x64dll.dll"), "Etwk")
	require.NoError(t, err)
	assert.False(t, ok)
}
