package symstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/etwkit/etwkit/etw"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	testGUID = etw.MustParseGUID("497b72f6-390a-44fc-878e-5a2d63b6cc4b")
	testPDB  = PDBKey{Name: "foo.pdb", GUID: testGUID, Age: 1}
	testPE   = PEKey{Name: "foo.dll", TimeDateStamp: 0x542d5742, SizeOfImage: 0x32000}
)

func TestKeyDir(t *testing.T) {
	tests := []struct{ got, want string }{
		// SSQP key conventions example GUID, upper-cased as symsrv writes it.
		{testPDB.Dir(), "497B72F6390A44FC878E5A2D63B6CC4B1"},
		{PDBKey{GUID: testGUID, Age: 0x1a}.Dir(), "497B72F6390A44FC878E5A2D63B6CC4B1A"},
		{PDBKey{GUID: testGUID, Age: 0}.Dir(), "497B72F6390A44FC878E5A2D63B6CC4B0"},
		{PDBKey{GUID: etw.GUID{Data1: 1, Data2: 2, Data3: 3, Data4: [8]byte{0, 1, 0xa, 0xb, 0, 0, 0, 0xff}}, Age: 0xffffffff}.Dir(),
			"00000001" + "0002" + "0003" + "00010A0B000000FF" + "FFFFFFFF"},
		// SSQP example: timestamp upper case, image size lower case.
		{testPE.Dir(), "542D574232000"},
		{PEKey{TimeDateStamp: 0x0134B6C1, SizeOfImage: 0x1f00}.Dir(), "0134B6C11f00"},
		{PEKey{TimeDateStamp: 0x7A04BFB2, SizeOfImage: 0x1046000}.Dir(), "7A04BFB21046000"},
		{PEKey{TimeDateStamp: 0x61015E74, SizeOfImage: 0x442b000}.Dir(), "61015E74442b000"},
		{PEKey{}.Dir(), "000000000"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.got)
	}
}

func TestNameHelpers(t *testing.T) {
	assert.Equal(t, "ntdll.pd_", compressedName("ntdll.pdb"))
	assert.Equal(t, "a_", compressedName("ab"))
	assert.Equal(t, "nt", tierPrefix("ntdll.pdb"))
	assert.Equal(t, "x", tierPrefix("x"))
	assert.Equal(t, "éa", tierPrefix("éa.pdb"))
	assert.Equal(t, "ntkrnlmp.pdb", baseName(`d:\os\obj\amd64\ntkrnlmp.pdb`))
	assert.Equal(t, "a.pdb", baseName("/x/a.pdb"))
	for _, bad := range []string{"", ".", "..", "a:b", "a*b", "a?b", "a<b", "a|b", `a"b`, "a\x00b", "a\nb", strings.Repeat("a", 256), "\xff.pdb"} {
		assert.ErrorIs(t, checkName(bad), ErrBadName, "%q", bad)
	}
	for _, bad := range []string{"", "ab/c", "..", "a.b", strings.Repeat("A", 129)} {
		assert.ErrorIs(t, checkKey(bad), ErrBadName, "%q", bad)
	}
	assert.NoError(t, checkKey("elf-buildid-sym-180a"))
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func mustParse(t testing.TB, s string) Path {
	t.Helper()
	p, err := Parse(s)
	require.NoError(t, err)
	return p
}

// noNet is an HTTP client that fails the test on any request.
func noNet(t *testing.T) *Options {
	return &Options{Client: clientFunc(func(r *http.Request) {
		t.Errorf("unexpected HTTP request %s", r.URL)
	}), Logf: t.Logf, DefaultStore: filepath.Join(t.TempDir(), "default")}
}

func readString(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestFindLayouts(t *testing.T) {
	ctx := context.Background()
	key := testPDB.Dir()

	t.Run("one-tier", func(t *testing.T) {
		dir := t.TempDir()
		want := writeFile(t, filepath.Join(dir, "foo.pdb", key, "foo.pdb"), "one")
		s := New(mustParse(t, dir), noNet(t))
		got, err := s.FindPDB(ctx, testPDB)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		// A full path as the name is reduced to its base name.
		got, err = s.FindPDB(ctx, PDBKey{Name: `C:\build\obj\foo.pdb`, GUID: testGUID, Age: 1})
		require.NoError(t, err)
		assert.Equal(t, want, got)
		// Another age is another file.
		_, err = s.FindPDB(ctx, PDBKey{Name: "foo.pdb", GUID: testGUID, Age: 2})
		assert.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("two-tier", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "index2.txt"), "")
		// The one-tier spot is not searched when index2.txt exists.
		writeFile(t, filepath.Join(dir, "foo.dll", testPE.Dir(), "foo.dll"), "wrong")
		want := writeFile(t, filepath.Join(dir, "fo", "foo.dll", testPE.Dir(), "foo.dll"), "two")
		s := New(mustParse(t, "srv*"+dir), noNet(t))
		got, err := s.FindPE(ctx, testPE)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})

	t.Run("flat", func(t *testing.T) {
		dir := t.TempDir()
		want := writeFile(t, filepath.Join(dir, "foo.pdb"), "flat")
		got, err := New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
		require.NoError(t, err)
		assert.Equal(t, want, got)

		// Verify rejects it: not found, with the reason.
		opts := noNet(t)
		var calls int
		opts.Verify = func(path, name, k string) error {
			calls++
			assert.Equal(t, want, path)
			assert.Equal(t, "foo.pdb", name)
			assert.Equal(t, key, k)
			return errors.New("GUID mismatch")
		}
		_, err = New(mustParse(t, dir), opts).FindPDB(ctx, testPDB)
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Contains(t, err.Error(), "GUID mismatch")
		assert.Equal(t, 1, calls)

		// A store-layout file wins over the flat one, and is not verified.
		want2 := writeFile(t, filepath.Join(dir, "FOO.PDB", key, "foo.pdb"), "stored")
		if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
			t.Skip("a file and a folder called foo.pdb/FOO.PDB cannot coexist here")
		}
		got, err = New(mustParse(t, dir), opts).FindPDB(ctx, testPDB)
		require.NoError(t, err)
		assert.Equal(t, want2, got)
	})

	t.Run("case-insensitive", func(t *testing.T) {
		dir := t.TempDir()
		want := writeFile(t, filepath.Join(dir, "FOO.PDB", strings.ToLower(key), "Foo.Pdb"), "case")
		got, err := New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
		require.NoError(t, err)
		assert.Equal(t, strings.ToLower(want), strings.ToLower(got))
		assert.Equal(t, "case", readString(t, got))
	})

	t.Run("lower-case name", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "ntdll.pdb", key, "ntdll.pdb"), "lower")
		got, err := New(mustParse(t, dir), noNet(t)).Find(ctx, "NTDLL.PDB", key)
		require.NoError(t, err)
		assert.Equal(t, "lower", readString(t, got))
	})

	t.Run("not found", func(t *testing.T) {
		dir := t.TempDir()
		s := New(mustParse(t, dir+";srv*"+t.TempDir()), noNet(t))
		_, err := s.FindPDB(ctx, testPDB)
		assert.ErrorIs(t, err, ErrNotFound)
		var le *LookupError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, "foo.pdb", le.Name)
		assert.Equal(t, key, le.Key)
		assert.Empty(t, le.Errs)
		_, err = New(Path{}, noNet(t)).FindPDB(ctx, testPDB)
		assert.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("bad names", func(t *testing.T) {
		s := New(mustParse(t, t.TempDir()), noNet(t))
		for _, tc := range [][2]string{{"..", key}, {"a:b", key}, {"", key}, {"foo.pdb", "../x"}, {"foo.pdb", ""}} {
			_, err := s.Find(ctx, tc[0], tc[1])
			assert.ErrorIs(t, err, ErrBadName, "%q", tc)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := New(mustParse(t, t.TempDir()), noNet(t)).FindPDB(cctx, testPDB)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestFindFilePtr(t *testing.T) {
	ctx := context.Background()
	key := testPDB.Dir()
	dir := t.TempDir()
	target := writeFile(t, filepath.Join(t.TempDir(), "elsewhere", "foo.pdb"), "pointed")
	keyDir := filepath.Join(dir, "foo.pdb", key)

	for _, content := range []string{"PATH:" + target, "PATH:" + target + "\r\n", target} {
		writeFile(t, filepath.Join(keyDir, "file.ptr"), content)
		got, err := New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
		require.NoError(t, err, "%q", content)
		assert.Equal(t, target, got)
	}

	// Relative paths are relative to the KEY folder.
	writeFile(t, filepath.Join(keyDir, "real.bin"), "relative")
	writeFile(t, filepath.Join(keyDir, "file.ptr"), "PATH:real.bin")
	got, err := New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, "relative", readString(t, got))

	// Through a downstream store, the pointee is copied.
	cache := t.TempDir()
	writeFile(t, filepath.Join(keyDir, "file.ptr"), "PATH:"+target)
	got, err = New(mustParse(t, "srv*"+cache+"*"+dir), noNet(t)).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "foo.pdb", key, "foo.pdb"), got)
	assert.Equal(t, "pointed", readString(t, got))

	// MSG: says why the file is missing.
	writeFile(t, filepath.Join(keyDir, "file.ptr"), "MSG: withheld by policy")
	_, err = New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, ErrStoreMessage)
	assert.Contains(t, err.Error(), "withheld by policy")

	// A pointer to nothing, and an empty pointer.
	writeFile(t, filepath.Join(keyDir, "file.ptr"), "PATH:"+filepath.Join(dir, "missing.pdb"))
	_, err = New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "missing.pdb")
	writeFile(t, filepath.Join(keyDir, "file.ptr"), "PATH:")
	_, err = New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrBadPointer)

	// An oversized file.ptr is not read.
	writeFile(t, filepath.Join(keyDir, "file.ptr"), "PATH:"+strings.Repeat("x", maxPtrFile))
	_, err = New(mustParse(t, dir), noNet(t)).FindPDB(ctx, testPDB)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestFindCascade(t *testing.T) {
	ctx := context.Background()
	key := testPDB.Dir()
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(b, "index2.txt"), "") // b is two-tier
	writeFile(t, filepath.Join(c, "foo.pdb", key, "foo.pdb"), "upstream")
	s := New(mustParse(t, fmt.Sprintf("srv*%s*%s*%s", a, b, c)), noNet(t))
	got, err := s.FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(a, "foo.pdb", key, "foo.pdb"), got)
	assert.Equal(t, "upstream", readString(t, got))
	assert.Equal(t, "upstream", readString(t, filepath.Join(b, "fo", "foo.pdb", key, "foo.pdb")))

	// cache* applies to later plain folders.
	d, cache := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(d, "foo.pdb", key, "foo.pdb"), "folder")
	got, err = New(mustParse(t, "cache*"+cache+";"+d), noNet(t)).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "foo.pdb", key, "foo.pdb"), got)
	assert.Equal(t, "folder", readString(t, got))

	// A flat file is not copied into the cache.
	e, cache2 := t.TempDir(), t.TempDir()
	want := writeFile(t, filepath.Join(e, "foo.pdb"), "flat")
	got, err = New(mustParse(t, "cache*"+cache2+";"+e), noNet(t)).FindPDB(ctx, testPDB)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.NoDirExists(t, filepath.Join(cache2, "foo.pdb"))

	// An unwritable downstream store: warn, use the upstream file.
	if runtime.GOOS != "windows" && os.Getuid() != 0 {
		ro, up := t.TempDir(), t.TempDir()
		require.NoError(t, os.Chmod(ro, 0o555))
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		want := writeFile(t, filepath.Join(up, "foo.pdb", key, "foo.pdb"), "up")
		got, err := New(mustParse(t, "srv*"+ro+"*"+up), noNet(t)).FindPDB(ctx, testPDB)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestFindCompressedLocal(t *testing.T) {
	ctx := context.Background()
	cab, err := os.ReadFile(filepath.Join("testdata", "sample.pd_"))
	require.NoError(t, err)
	k := PDBKey{Name: "sample.pdb", GUID: testGUID, Age: 3}
	key := k.Dir()

	// Upstream store holds the compressed file; it lands unpacked downstream.
	up, down := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(up, "sample.pdb", key, "sample.pd_"), string(cab))
	got, err := New(mustParse(t, "srv*"+down+"*"+up), noNet(t)).FindPDB(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(down, "sample.pdb", key, "sample.pdb"), got)
	assert.Equal(t, string(sampleContent()), readString(t, got))

	// A plain folder: unpacked beside the compressed file.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sample.pdb", key, "sample.pd_"), string(cab))
	got, err = New(mustParse(t, dir), noNet(t)).FindPDB(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "sample.pdb", key, "sample.pdb"), got)
	assert.Equal(t, string(sampleContent()), readString(t, got))

	// LZX: a clear error, no garbage file.
	lzx := buildCAB(t, cabCompNone, 0, testCABFile{"sample.pdb", []byte("x")})
	lzx[cabHeaderLen+6] = cabCompLZX
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "sample.pdb", key, "sample.pd_"), string(lzx))
	_, err = New(mustParse(t, dir), noNet(t)).FindPDB(ctx, k)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, ErrUnsupported)
	assert.Contains(t, err.Error(), "LZX")
	assert.NoFileExists(t, filepath.Join(dir, "sample.pdb", key, "sample.pdb"))
	ents, err := os.ReadDir(filepath.Join(dir, "sample.pdb", key))
	require.NoError(t, err)
	assert.Len(t, ents, 1, "temporary files left behind")
}

func TestFindConcurrentLocal(t *testing.T) {
	ctx := context.Background()
	key := testPDB.Dir()
	up, down := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(up, "foo.pdb", key, "foo.pdb"), strings.Repeat("z", 1<<16))
	s := New(mustParse(t, "srv*"+down+"*"+up), noNet(t))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			got, err := s.FindPDB(ctx, testPDB)
			assert.NoError(t, err)
			assert.Equal(t, filepath.Join(down, "foo.pdb", key, "foo.pdb"), got)
		})
	}
	wg.Wait()
	ents, err := os.ReadDir(filepath.Join(down, "foo.pdb", key))
	require.NoError(t, err)
	assert.Len(t, ents, 1)
}
