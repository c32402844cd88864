package symstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/etwkit/etwkit/internal/alloclimit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	const ms = "https://msdl.microsoft.com/download/symbols"
	folder := func(dir string, cache ...string) Entry { return Entry{Kind: KindFolder, Dir: dir, Cache: cache} }
	server := func(url string, stores ...string) Entry { return Entry{Kind: KindServer, Stores: stores, URL: url} }
	tests := []struct {
		in   string
		want []Entry
	}{
		{"", nil},
		{" ; ;;", nil},
		{`C:\sym`, []Entry{folder(`C:\sym`)}},
		{`\\server\share\symbols`, []Entry{folder(`\\server\share\symbols`)}},
		{" /a ; /b ", []Entry{folder("/a"), folder("/b")}},
		{`srv*C:\cache*` + ms, []Entry{server(ms, `C:\cache`)}},
		{`SRV*C:\cache*` + ms, []Entry{server(ms, `C:\cache`)}},
		{"srv*" + ms, []Entry{server(ms)}},
		{"srv**" + ms, []Entry{server(ms, "")}},
		{`srv*\\server\share`, []Entry{server("", `\\server\share`)}},
		{"srv*/local/store", []Entry{server("", "/local/store")}},
		{"srv*/a*/b*/c", []Entry{server("", "/a", "/b", "/c")}},
		{"srv*/a*/b*http://h:8080/x/", []Entry{server("http://h:8080/x/", "/a", "/b")}},
		{"symsrv*symsrv.dll*/c*" + ms, []Entry{server(ms, "/c")}},
		{"symsrv*SymSrv.DLL*" + ms, []Entry{server(ms)}},
		{"srv * /c * " + ms + " ", []Entry{server(ms, "/c")}},
		{"cache*/c;srv*" + ms, []Entry{server(ms, "/c")}},
		{"cache*/c;srv*/c*" + ms, []Entry{server(ms, "/c")}},
		{"cache*/c;srv*/d*" + ms, []Entry{server(ms, "/c", "/d")}},
		{"/x;cache*/c;/y;srv*" + ms + ";cache*/e;/z", []Entry{
			folder("/x"), folder("/y", "/c"), server(ms, "/c"), folder("/z", "/e"),
		}},
		{"cache*;/y", []Entry{folder("/y", "")}},
		{"CACHE*/c;/y", []Entry{folder("/y", "/c")}},
		{"cache*/c", nil},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := Parse(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.Entries)
			q, err := Parse(p.String())
			require.NoError(t, err, "reparsing %q", p.String())
			assert.Equal(t, p, q, "round trip through %q", p.String())
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"srv*", "bare srv*"},
		{"SRV*", "bare srv*"},
		{"symsrv*symsrv.dll", "bare srv*"},
		{"symsrv*other.dll*/c*https://h/", "other.dll"},
		{"foo*/c", `unknown keyword "foo"`},
		{"*", `unknown keyword ""`},
		{"https://h/symbols", "srv*CACHE*URL"},
		{"srv*https://h/*/c", "must be the last"},
		{"srv*https://a/*https://b/", "must be the last"},
		{"srv*ftp://h/x", `scheme "ftp"`},
		{"srv*http:///x", "no host"},
		{"srv*https://h/x?q=1", "query"},
		{"srv*/c*", "empty last store"},
		{"cache*/a*/b", "one folder"},
		{"cache*https://h/", "must be a folder"},
		{"srv*1*2*3*4*5*6*7*8*9*10*11", "limit 10"},
		{"cache*/z;srv*1*2*3*4*5*6*7*8*9*https://h/", "more than 10"},
		{"/a\x00b", "NUL"},
		{strings.Repeat("a", MaxPathLen+1), "limit"},
		{strings.Repeat("/a;", MaxEntries+1), "more than"},
	}
	for _, tc := range tests {
		name := tc.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrSyntax), "%v", err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvVar, "")
	p, err := FromEnv()
	require.NoError(t, err)
	assert.True(t, p.IsEmpty())
	assert.False(t, p.HasURL())

	t.Setenv(EnvVar, "srv*/c*https://h/s;/d")
	p, err = FromEnv()
	require.NoError(t, err)
	assert.Len(t, p.Entries, 2)
	assert.True(t, p.HasURL())
	assert.Equal(t, "server", p.Entries[0].Kind.String())
	assert.Equal(t, "folder", p.Entries[1].Kind.String())

	t.Setenv(EnvVar, "srv*")
	_, err = FromEnv()
	assert.ErrorIs(t, err, ErrSyntax)
}

// FuzzParse checks that Parse never panics, that accepted paths respect
// the limits, and that String round-trips.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", `C:\sym`, `srv*C:\cache*https://msdl.microsoft.com/download/symbols`,
		"srv**https://h/x", "cache*/c;srv*/d*https://h/;/e", "symsrv*symsrv.dll*/c*http://h:1/",
		"srv*/a*/b*/c", "cache*;x", "srv*", "a*b", " ; ", "srv*https://h/*x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Path
		var err error
		alloclimit.Check(t, "FuzzParse run", 1<<20+64*uint64(len(s)), func() { p, err = Parse(s) })
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		if len(p.Entries) > MaxEntries {
			t.Fatalf("%d entries", len(p.Entries))
		}
		for _, e := range p.Entries {
			switch e.Kind {
			case KindFolder:
				if e.Dir == "" || len(e.Cache) > 1 || len(e.Stores) != 0 || e.URL != "" {
					t.Fatalf("bad folder entry %+v", e)
				}
			case KindServer:
				if len(e.Stores)+btoi(e.URL != "") > MaxTiers || len(e.Stores)+btoi(e.URL != "") == 0 || e.Dir != "" {
					t.Fatalf("bad server entry %+v", e)
				}
				if e.URL != "" && !looksLikeURL(e.URL) {
					t.Fatalf("bad URL in %+v", e)
				}
			default:
				t.Fatalf("bad kind in %+v", e)
			}
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("reparsing %q: %v", p.String(), err)
		}
		if q.String() != p.String() || len(q.Entries) != len(p.Entries) {
			t.Fatalf("round trip: %q -> %q", p.String(), q.String())
		}
	})
}
