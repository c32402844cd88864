// Package symstore finds PDB and executable image files along a Windows
// symbol path, in pure Go on any OS.
//
// Given a PDB identity (file name, GUID, age: [PDBKey]) or an image
// identity (file name, TimeDateStamp, SizeOfImage: [PEKey]), a [Store]
// returns a local path to the matching file, searching plain folders,
// symbol stores and HTTP(S) symbol servers named by a [Path] in
// _NT_SYMBOL_PATH syntax ([Parse], [FromEnv]).
//
// # Store layout
//
// A symbol store keeps each file at name/KEY/name under its root
// ("one-tier"); when the root holds a file called index2.txt, at
// na/name/KEY/name, with the first two characters of the file name as an
// extra folder ("two-tier"). KEY is [PDBKey.Dir] for PDBs (GUID in 32
// upper-case hex digits, then the age in upper-case hex without leading
// zeros) and [PEKey.Dir] for images (TimeDateStamp in 8 upper-case hex
// digits, then SizeOfImage in lower-case hex without leading zeros). The
// KEY folder may instead hold the CAB-compressed file (last character of
// the name replaced by '_', e.g. ntdll.pd_) or a file.ptr whose text is
// "PATH:<path>" (the file lives there), "MSG:<text>" (why it is not
// available) or a bare path. Names are compared case-insensitively: exact
// spelling first, then lower case, then (except on Windows) a
// case-insensitive scan of the folder.
//
// Compressed files are unpacked when the cabinet is stored or MSZIP
// (compress/flate decodes MSZIP blocks); LZX and Quantum cabinets, which
// symstore.exe /compress produces, give [ErrUnsupported], as do spanned
// cabinet sets.
//
// Plain folders are searched in store layout first, then flat (the file
// directly in the folder). A flat file is not identified by its key:
// [Options.Verify] lets the caller check it. The "symbols\dll" style
// subfolders dbghelp also tries are not searched.
//
// # HTTP
//
// For a chain ending in a URL, a Store GETs URL/name/KEY/name, then
// URL/name/KEY/name_ (compressed), then URL/name/KEY/file.ptr, with the
// User-Agent [UserAgent] (servers are always asked in the one-tier layout).
// 404 and 410 mean absent and are remembered for
// the Store's lifetime, so the same URL is never asked twice; any other
// status or a transport error is a warning, and the search goes on with
// the next path entry. Downloads are written atomically (temporary file,
// then rename) in store layout into every local store of the chain, and
// are capped by [Options.MaxDownload]. A Path without URL entries never
// causes network traffic.
//
// # Security
//
// Symbol paths, store contents and server answers are untrusted input.
// Names and keys are checked before they become path components (no
// separators, no "..", none of <>:"|?*, bounded length; see [ErrBadName]); a full
// path given as a name is reduced to its last element. Every download,
// copy and unpacked file is capped; file.ptr files are read up to 4 KiB;
// CAB headers are bounds-checked with counts capped before allocation.
// A file.ptr can send the lookup to any local or UNC path: one served
// over HTTP must name an absolute path to a regular file, and
// [Options.IgnoreRemotePointers] turns them off. Downloaded files are not
// checked against their key here: the PDB and PE parsers that open them
// must verify the GUID/age or timestamp/size and treat the content as
// hostile. The default HTTP client refuses redirects from https to http.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. Lookups of the same file in the
// same path entry are coalesced: one goroutine searches (and downloads),
// the others wait for its result; a waiter whose own context is live
// retries if the searching goroutine's context was cancelled. Different
// files are looked up in parallel. Several processes may share stores:
// files appear only complete, by rename.
package symstore
