// Package htmlreport renders the pool-leak report of an [leak.Result]
// as one self-contained HTML file: the trace's span, events, lost events
// and processes; a multi-line SVG chart of outstanding bytes over time for
// the top tags (the rest summed into an "other" series) with axes in
// seconds from the trace start and wall clock, byte units and a legend;
// the tag table of poolleak's text output with the growth rate; and, for
// each leaking tag, its top allocation stacks with kernel, user and WOW64
// frames marked and symbols where they were resolved. Every legend entry
// and tag row of a leaking tag links to its stacks.
//
// The file needs nothing but a browser: the CSS, the SVG and a small
// self-check script are inline, there are no fonts, images or external
// scripts, and it works offline and from an e-mail attachment.
//
// # Security
//
// Every string taken from the trace (tags, pool kinds, process and module
// names, symbols, source paths) goes through [html/template] and is
// escaped for its context; anchors are built from the tag's bytes with
// everything but letters and digits hex-escaped. The page carries a
// Content-Security-Policy that forbids every fetch (default-src 'none')
// and allows only the report's own script and style, by their SHA-256
// hashes, so even a mistake in escaping could not run injected script or
// load anything from the network. Output size is bounded: at most
// [MaxTopTags] series of at most a fixed number of vertices, at most
// [MaxTopStacks] stacks per tag of at most [MaxFrames] frames, and one
// table row per tag of the report.
//
// # Concurrency
//
// [Render] only reads its result and may be called from several
// goroutines at once, on the same result too.
package htmlreport
