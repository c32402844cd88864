package htmlreport

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// node is a minimal DOM for structural tests: the report is written as
// well-formed XHTML-compatible markup, so encoding/xml reads it once the
// script and style bodies (which are not markup) are removed.
type node struct {
	name     string
	attr     map[string]string
	children []*node
	text     string // for text nodes (name == "")
}

var rawBodies = regexp.MustCompile(`(?s)(<(script|style)[^>]*>).*?(</(script|style)>)`)

func parseDOM(html string) (*node, error) {
	html = rawBodies.ReplaceAllString(html, "$1$3")
	d := xml.NewDecoder(strings.NewReader(html))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	root := &node{name: "#root"}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attr: map[string]string{}}
			for _, a := range t.Attr {
				name := a.Name.Local
				if a.Name.Space != "" {
					name = a.Name.Space + ":" + name
				}
				n.attr[name] = a.Value
			}
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 1 {
				return nil, fmt.Errorf("unbalanced </%s>", t.Name.Local)
			}
			if top.name != t.Name.Local {
				return nil, fmt.Errorf("</%s> closes <%s>", t.Name.Local, top.name)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.children = append(top.children, &node{text: string(t)})
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("<%s> not closed", stack[len(stack)-1].name)
	}
	return root, nil
}

// Text is the node's text, whitespace collapsed.
func (n *node) Text() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		if m.name == "" {
			b.WriteString(m.text)
			return
		}
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// rawText keeps the whitespace (for <pre> and <code>).
func (n *node) rawText() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		if m.name == "" {
			b.WriteString(m.text)
			return
		}
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// all returns the descendants matching f, in document order.
func (n *node) all(f func(*node) bool) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		for _, c := range m.children {
			if c.name != "" && f(c) {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(n)
	return out
}

func (n *node) first(f func(*node) bool) *node {
	if r := n.all(f); len(r) > 0 {
		return r[0]
	}
	return nil
}

func tagIs(names ...string) func(*node) bool {
	return func(n *node) bool {
		for _, s := range names {
			if n.name == s {
				return true
			}
		}
		return false
	}
}

func hasClass(name, class string) func(*node) bool {
	return func(n *node) bool {
		if name != "" && n.name != name {
			return false
		}
		for _, c := range strings.Fields(n.attr["class"]) {
			if c == class {
				return true
			}
		}
		return false
	}
}

// summarize is the structural summary the golden files hold: headings,
// facts, chart series, ticks and legend, table rows, stack sections and
// their frames, anchors. Pixels and styling are not in it.
func summarize(root *node) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if t := root.first(tagIs("title")); t != nil {
		p("title: %s", t.Text())
	}
	body := root.first(tagIs("body"))
	if body == nil {
		p("no body")
		return b.String()
	}
	var walk func(*node)
	walk = func(n *node) {
		for _, c := range n.children {
			if c.name == "" {
				continue
			}
			switch {
			case c.name == "h1" || c.name == "h2" || c.name == "h3" || c.name == "h4":
				p("%s: %s", c.name, c.Text())
			case c.name == "nav":
				var hs []string
				for _, a := range c.all(tagIs("a")) {
					hs = append(hs, a.attr["href"])
				}
				p("nav: %s", strings.Join(hs, " "))
			case c.name == "dl":
				for i, dt := range c.children {
					if dt.name != "dt" {
						continue
					}
					for _, dd := range c.children[i+1:] {
						if dd.name == "dd" {
							p("fact: %s = %s", dt.Text(), dd.Text())
							break
						}
					}
				}
			case c.name == "section" && c.attr["id"] != "":
				p("section #%s%s", c.attr["id"], dataAttrs(c))
				walk(c)
			case c.name == "svg" && hasClass("svg", "chart")(c):
				summarizeChart(&b, c)
			case c.name == "table":
				summarizeTable(&b, c)
			case c.name == "p":
				p("p.%s: %s", c.attr["class"], c.Text())
			case c.name == "pre":
				p("pre: %q", c.rawText())
			default:
				walk(c)
			}
		}
	}
	walk(body)
	return b.String()
}

func dataAttrs(n *node) string {
	var s []string
	for _, k := range []string{"data-tag", "data-pool"} {
		if v, ok := n.attr[k]; ok {
			s = append(s, fmt.Sprintf("%s=%q", k, v))
		}
	}
	if len(s) == 0 {
		return ""
	}
	return " " + strings.Join(s, " ")
}

func summarizeChart(b *strings.Builder, svg *node) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("svg.chart series=%s points=%s ymax=%s xmax=%s bin=%s", svg.attr["data-series"], svg.attr["data-points"],
		svg.attr["data-ymax"], svg.attr["data-xmax"], svg.attr["data-bin-seconds"])
	var ys, xs []string
	for _, g := range svg.all(hasClass("g", "y-axis")) {
		for _, t := range g.all(hasClass("text", "tick")) {
			ys = append(ys, t.Text())
		}
	}
	for _, g := range svg.all(hasClass("g", "x-axis")) {
		for _, t := range g.all(hasClass("text", "tick")) {
			xs = append(xs, t.Text())
		}
	}
	p("  y ticks: %s", strings.Join(ys, " | "))
	p("  x ticks: %s", strings.Join(xs, " | "))
	for _, t := range svg.all(hasClass("text", "axis-title")) {
		p("  axis: %s", t.Text())
	}
	if w := svg.first(hasClass("rect", "window")); w != nil {
		p("  window band x=%s width=%s", w.attr["x"], w.attr["width"])
	}
	for _, s := range svg.all(hasClass("path", "series")) {
		p("  series rank=%s tag=%q pool=%q last=%s max=%s stroke=%s dash=%q vertices=%d",
			s.attr["data-rank"], s.attr["data-tag"], s.attr["data-pool"], s.attr["data-last"], s.attr["data-max"],
			s.attr["stroke"], s.attr["stroke-dasharray"], strings.Count(s.attr["d"], "L")+strings.Count(s.attr["d"], "M"))
	}
	p("  point markers: %d", len(svg.all(hasClass("circle", "pt"))))
	for _, e := range svg.all(hasClass("", "legend-entry")) {
		var texts []string
		for _, t := range e.all(tagIs("text")) {
			texts = append(texts, t.Text())
		}
		p("  legend %s: %s -> %q", e.name, strings.Join(texts, " | "), e.attr["href"])
	}
	if m := svg.first(hasClass("text", "legend-more")); m != nil {
		p("  legend more: %s", m.Text())
	}
}

func summarizeTable(b *strings.Builder, t *node) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("table.%s", t.attr["class"])
	if c := t.first(tagIs("caption")); c != nil {
		p("  caption: %s", c.Text())
	}
	for _, tr := range t.all(tagIs("tr")) {
		var cells []string
		for _, td := range tr.children {
			if td.name == "td" || td.name == "th" {
				txt := td.Text()
				if code := td.first(tagIs("code")); code != nil {
					txt = strings.Replace(txt, code.Text(), code.rawText(), 1)
				}
				cells = append(cells, txt)
			}
		}
		line := "  " + tr.attr["class"] + ": " + strings.Join(cells, " | ")
		if a := tr.first(tagIs("a")); a != nil {
			line += " -> " + a.attr["href"]
		}
		p("%s", strings.TrimRight(line, " "))
	}
}
