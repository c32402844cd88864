package symstore

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// EnvVar is the environment variable [FromEnv] reads.
const EnvVar = "_NT_SYMBOL_PATH"

// Limits on a symbol path. A longer or bigger path is rejected by [Parse].
const (
	// MaxPathLen is the longest symbol path string accepted, in bytes.
	MaxPathLen = 32 << 10
	// MaxEntries is the largest number of search entries in one path.
	MaxEntries = 256
	// MaxTiers is the largest number of stores (local and HTTP) in one
	// srv* chain; SymSrv documents "up to 10 symbol stores" after srv*.
	MaxTiers = 10
)

// ErrSyntax is wrapped by every error [Parse] returns.
var ErrSyntax = errors.New("symstore: bad symbol path")

// EntryKind says what a symbol path [Entry] searches.
type EntryKind uint8

const (
	// KindFolder is a plain folder entry: the folder is searched as a
	// symbol store (name/KEY/name, or the two-tier layout when it holds
	// index2.txt) and then flat (the file directly in the folder).
	KindFolder EntryKind = iota + 1
	// KindServer is a srv* or symsrv*symsrv.dll* chain of stores.
	KindServer
)

// String returns "folder" or "server".
func (k EntryKind) String() string {
	switch k {
	case KindFolder:
		return "folder"
	case KindServer:
		return "server"
	}
	return fmt.Sprintf("EntryKind(%d)", uint8(k))
}

// Entry is one search location of a [Path], in search order.
//
// A store named "" (in Cache or Stores) stands for the default downstream
// store: it comes from an empty field such as srv**URL or a bare cache*,
// and is resolved by [Options.DefaultStore].
type Entry struct {
	Kind EntryKind
	// Dir is the folder of a KindFolder entry.
	Dir string
	// Cache holds the folder of the cache* entry in effect for a
	// KindFolder entry (zero or one element). The cache is searched
	// before Dir, and files Dir holds in store layout are copied into it.
	Cache []string
	// Stores are the local stores of a KindServer entry, most downstream
	// first. The folder of a preceding cache* entry is prepended, unless
	// it is already the first store.
	Stores []string
	// URL is the HTTP(S) symbol server at the upstream end of a KindServer
	// entry, or "".
	URL string
}

// Path is a parsed symbol search path: the entries in search order.
// The zero Path is empty and finds nothing.
type Path struct {
	Entries []Entry
}

// IsEmpty reports whether p has no entries.
func (p Path) IsEmpty() bool { return len(p.Entries) == 0 }

// HasURL reports whether any entry of p names an HTTP(S) server. A Path
// without one never causes network traffic.
func (p Path) HasURL() bool {
	for _, e := range p.Entries {
		if e.URL != "" {
			return true
		}
	}
	return false
}

// String returns p in _NT_SYMBOL_PATH syntax. Parsing the result yields
// an equal Path.
func (p Path) String() string {
	var b strings.Builder
	var cache []string // cache* in effect in the text written so far
	sep := func() {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
	}
	for _, e := range p.Entries {
		switch e.Kind {
		case KindFolder:
			if len(e.Cache) > 0 && (len(cache) == 0 || cache[0] != e.Cache[0]) {
				sep()
				b.WriteString("cache*")
				b.WriteString(e.Cache[0])
				cache = e.Cache
			}
			sep()
			b.WriteString(e.Dir)
		case KindServer:
			sep()
			b.WriteString("srv")
			for _, s := range e.Stores {
				b.WriteByte('*')
				b.WriteString(s)
			}
			if e.URL != "" {
				b.WriteByte('*')
				b.WriteString(e.URL)
			}
		}
	}
	return b.String()
}

// FromEnv parses the _NT_SYMBOL_PATH environment variable. It returns an
// empty Path when the variable is unset or blank. _NT_ALT_SYMBOL_PATH is
// not read.
func FromEnv() (Path, error) {
	return Parse(os.Getenv(EnvVar))
}

// Parse parses a symbol path in _NT_SYMBOL_PATH syntax.
//
// Entries are separated by ';'; each is trimmed of surrounding white space
// and empty entries are ignored. Supported entry forms (keywords are
// case-insensitive):
//
//	folder                           plain folder (local, or a UNC path, which is just a folder)
//	cache*folder                     cache for every later entry
//	cache*                           same, using the default downstream store
//	srv*store                        one local store, searched in place
//	srv*down*...*up                  cascading local stores, most downstream first
//	srv*down*...*https://host/path   local stores, then an HTTP(S) server
//	srv*https://host/path            HTTP(S) server; downloads go to the cache* store or the default store
//	srv**https://host/path           empty field: the default downstream store
//	symsrv*symsrv.dll*...            same as srv*...
//
// Rejected with an error wrapping [ErrSyntax]: a bare "srv*" (dbghelp's
// implicit Microsoft server: write the URL instead), symsrv* with any
// DLL other than symsrv.dll, an unknown keyword before '*', a URL given
// as a plain folder, a URL that is not the last field of its chain, more
// than one URL in a chain, a URL scheme other than http or https, an empty
// last field (srv*C:\sym*), cache* with more than one field, and paths over
// [MaxPathLen], [MaxEntries] or [MaxTiers].
func Parse(s string) (Path, error) {
	if len(s) > MaxPathLen {
		return Path{}, fmt.Errorf("%w: %d bytes, limit %d", ErrSyntax, len(s), MaxPathLen)
	}
	var p Path
	var cache []string
	for i, raw := range strings.Split(s, ";") {
		field := strings.TrimSpace(raw)
		if field == "" {
			continue
		}
		if strings.IndexByte(field, 0) >= 0 {
			return Path{}, entryErr(i, field, "NUL character")
		}
		parts := strings.Split(field, "*")
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		if len(parts) == 1 {
			if looksLikeURL(field) {
				return Path{}, entryErr(i, field, "a URL must be written srv*CACHE*URL")
			}
			p.Entries = append(p.Entries, Entry{Kind: KindFolder, Dir: field, Cache: cache})
		} else {
			switch strings.ToLower(parts[0]) {
			case "cache":
				if len(parts) != 2 {
					return Path{}, entryErr(i, field, "cache* takes one folder")
				}
				if looksLikeURL(parts[1]) {
					return Path{}, entryErr(i, field, "a cache must be a folder")
				}
				cache = []string{parts[1]}
				continue
			case "srv":
				e, err := parseChain(i, field, parts[1:], cache)
				if err != nil {
					return Path{}, err
				}
				p.Entries = append(p.Entries, e)
			case "symsrv":
				if !strings.EqualFold(parts[1], "symsrv.dll") {
					return Path{}, entryErr(i, field, fmt.Sprintf("symbol server DLL %q is not supported (only symsrv.dll)", parts[1]))
				}
				e, err := parseChain(i, field, parts[2:], cache)
				if err != nil {
					return Path{}, err
				}
				p.Entries = append(p.Entries, e)
			default:
				return Path{}, entryErr(i, field, fmt.Sprintf("unknown keyword %q before '*'", parts[0]))
			}
		}
		if len(p.Entries) > MaxEntries {
			return Path{}, fmt.Errorf("%w: more than %d entries", ErrSyntax, MaxEntries)
		}
	}
	return p, nil
}

func parseChain(i int, field string, parts, cache []string) (Entry, error) {
	if len(parts) == 0 || (len(parts) == 1 && parts[0] == "") {
		return Entry{}, entryErr(i, field, "bare srv* (implicit Microsoft server) is not supported; write srv*CACHE*https://msdl.microsoft.com/download/symbols")
	}
	if len(parts) > MaxTiers {
		return Entry{}, entryErr(i, field, fmt.Sprintf("%d stores in one chain, limit %d", len(parts), MaxTiers))
	}
	e := Entry{Kind: KindServer}
	for j, part := range parts {
		last := j == len(parts)-1
		if looksLikeURL(part) {
			if !last {
				return Entry{}, entryErr(i, field, "an HTTP server must be the last store of its chain")
			}
			u, err := url.Parse(part)
			if err != nil {
				return Entry{}, entryErr(i, field, fmt.Sprintf("bad URL: %v", err))
			}
			if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" {
				return Entry{}, entryErr(i, field, fmt.Sprintf("URL scheme %q is not supported (http or https only)", u.Scheme))
			}
			if u.Host == "" {
				return Entry{}, entryErr(i, field, "URL has no host")
			}
			if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return Entry{}, entryErr(i, field, "URL must not have a query, fragment or user info")
			}
			e.URL = part
			continue
		}
		if last && part == "" {
			return Entry{}, entryErr(i, field, "empty last store")
		}
		e.Stores = append(e.Stores, part)
	}
	if len(cache) > 0 && (len(e.Stores) == 0 || e.Stores[0] != cache[0]) {
		if len(e.Stores)+1+btoi(e.URL != "") > MaxTiers {
			return Entry{}, entryErr(i, field, fmt.Sprintf("with the cache, more than %d stores in one chain", MaxTiers))
		}
		e.Stores = append([]string{cache[0]}, e.Stores...)
	}
	return e, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// looksLikeURL reports whether s has a "scheme://" prefix. Windows drive
// paths (C:\x, C:/x) do not.
func looksLikeURL(s string) bool {
	i := strings.Index(s, "://")
	if i <= 1 { // "" or a one-letter drive
		return false
	}
	for _, c := range s[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func entryErr(i int, field, msg string) error {
	return fmt.Errorf("%w: entry %d %q: %s", ErrSyntax, i+1, field, msg)
}
