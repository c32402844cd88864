package pdb

import (
	"strconv"
	"strings"
)

// Undecorate makes a decorated linkage name readable.
//
// 32-bit C decorations are stripped: "_f@8" (__stdcall), "@f@8"
// (__fastcall), "f@@8" (__vectorcall) and "_f" (__cdecl) all become "f".
// Names starting with two underscores are left alone, as they are
// compiler-reserved names ("__real@4000000000000000") rather than
// decorated ones.
//
// MSVC C++ names ("?Func@Class@ns@@QEAAXH@Z") become the qualified name
// without signature, as compilers record it for procedures
// ("ns::Class::Func"): namespaces and classes, constructors and
// destructors, operators, templates with common argument types
// ("Max<int>"), back-references and anonymous namespaces are understood.
// Names that cannot be parsed are returned unchanged.
//
// On x64 and ARM64, C names carry no decoration and a leading underscore is
// part of the name; use [File.Undecorate], which applies the C rules only
// to x86 PDBs.
func Undecorate(name string) string {
	if strings.HasPrefix(name, "?") {
		if s, ok := undecorateCPP(name); ok {
			return s
		}
		return name
	}
	return undecorateC(name)
}

// Undecorate is like the package-level [Undecorate] but applies the 32-bit
// C rules only when the PDB is for an x86 image (DBI machine 0x14c).
func (f *File) Undecorate(name string) string {
	if strings.HasPrefix(name, "?") || f.machine == 0x14c {
		return Undecorate(name)
	}
	return name
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func undecorateC(name string) string {
	if strings.HasPrefix(name, "__") {
		return name
	}
	if at := strings.LastIndexByte(name, '@'); at > 0 && allDigits(name[at+1:]) {
		switch {
		case name[0] == '@' && at > 1: // @f@8
			return name[1:at]
		case name[0] == '_' && at > 1 && !strings.ContainsRune(name[1:at], '@'): // _f@8
			return name[1:at]
		case at > 1 && name[at-1] == '@' && name[0] != '_' && name[0] != '@': // f@@8
			return name[:at-1]
		}
		return name
	}
	if len(name) > 1 && name[0] == '_' && !strings.ContainsRune(name, '@') {
		return name[1:]
	}
	return name
}

const (
	maxDemangleLen   = 4096
	maxDemangleDepth = 16
)

// msvcParser parses the name part of an MSVC decorated name.
type msvcParser struct {
	s     string
	names []string // name back-reference table (at most 10)
	types []string // type back-reference table in template argument lists
	depth int
	ok    bool
}

func undecorateCPP(name string) (string, bool) {
	if len(name) > maxDemangleLen {
		return "", false
	}
	p := &msvcParser{s: name[1:], ok: true}
	full := p.fullName(true)
	if !p.ok {
		return "", false
	}
	return full, true
}

func (p *msvcParser) fail() string {
	p.ok = false
	p.s = ""
	return ""
}

func (p *msvcParser) remember(n string) {
	if len(p.names) < 10 {
		p.names = append(p.names, n)
	}
}

// simpleName reads a name terminated by '@'.
func (p *msvcParser) simpleName() string {
	i := strings.IndexByte(p.s, '@')
	if i <= 0 {
		return p.fail()
	}
	n := p.s[:i]
	p.s = p.s[i+1:]
	return n
}

var operatorNames = map[byte]string{
	'2': "operator new", '3': "operator delete", '4': "operator=", '5': "operator>>",
	'6': "operator<<", '7': "operator!", '8': "operator==", '9': "operator!=",
	'A': "operator[]", 'C': "operator->", 'D': "operator*", 'E': "operator++",
	'F': "operator--", 'G': "operator-", 'H': "operator+", 'I': "operator&",
	'J': "operator->*", 'K': "operator/", 'L': "operator%", 'M': "operator<",
	'N': "operator<=", 'O': "operator>", 'P': "operator>=", 'Q': "operator,",
	'R': "operator()", 'S': "operator~", 'T': "operator^", 'U': "operator|",
	'V': "operator&&", 'W': "operator||", 'X': "operator*=", 'Y': "operator+=",
	'Z': "operator-=",
}

var operatorNames2 = map[byte]string{
	'0': "operator/=", '1': "operator%=", '2': "operator>>=", '3': "operator<<=",
	'4': "operator&=", '5': "operator|=", '6': "operator^=",
	'7': "`vftable'", '8': "`vbtable'", '9': "`vcall'", 'A': "`typeof'",
	'B': "`local static guard'", 'D': "`vbase destructor'",
	'E': "`vector deleting destructor'", 'F': "`default constructor closure'",
	'G': "`scalar deleting destructor'", 'U': "operator new[]", 'V': "operator delete[]",
}

// fullName parses an unqualified name followed by its scopes up to the
// terminating '@' and returns "scope::...::name".
func (p *msvcParser) fullName(top bool) string {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDemangleDepth {
		return p.fail()
	}
	var name string
	special := 0 // 1 constructor, 2 destructor
	switch {
	case top && strings.HasPrefix(p.s, "?$"):
		name = p.fragment()
	case top && strings.HasPrefix(p.s, "?"):
		p.s = p.s[1:]
		if p.s == "" {
			return p.fail()
		}
		c := p.s[0]
		p.s = p.s[1:]
		switch {
		case c == '0':
			special = 1
		case c == '1':
			special = 2
		case c == '_':
			if p.s == "" {
				return p.fail()
			}
			c2 := p.s[0]
			p.s = p.s[1:]
			if c2 == 'C' {
				return "`string'"
			}
			op, ok := operatorNames2[c2]
			if !ok {
				return p.fail()
			}
			name = op
		default:
			op, ok := operatorNames[c]
			if !ok {
				return p.fail() // conversion operators, local scopes, RTTI, ...
			}
			name = op
		}
	default:
		name = p.fragment()
	}
	var scopes []string
	for p.ok {
		if p.s == "" {
			return p.fail()
		}
		if p.s[0] == '@' {
			p.s = p.s[1:]
			break
		}
		scopes = append(scopes, p.fragment())
	}
	if !p.ok {
		return ""
	}
	if special != 0 {
		if len(scopes) == 0 {
			return p.fail()
		}
		cls := scopes[0]
		if i := strings.IndexByte(cls, '<'); i > 0 {
			cls = cls[:i]
		}
		name = cls
		if special == 2 {
			name = "~" + cls
		}
	}
	var b strings.Builder
	for i := len(scopes) - 1; i >= 0; i-- {
		b.WriteString(scopes[i])
		b.WriteString("::")
	}
	b.WriteString(name)
	return b.String()
}

// fragment parses one name fragment: a back-reference, a template
// instantiation, an anonymous namespace or a simple name.
func (p *msvcParser) fragment() string {
	if p.s == "" {
		return p.fail()
	}
	switch c := p.s[0]; {
	case c >= '0' && c <= '9':
		p.s = p.s[1:]
		if int(c-'0') >= len(p.names) {
			return p.fail()
		}
		return p.names[c-'0']
	case strings.HasPrefix(p.s, "?$"):
		p.s = p.s[2:]
		// Template argument lists have their own back-reference tables.
		outerNames, outerTypes := p.names, p.types
		p.names, p.types = nil, nil
		n := p.simpleName()
		p.remember(n)
		args := p.templateArgs()
		p.names, p.types = outerNames, outerTypes
		if !p.ok {
			return ""
		}
		full := n + "<" + args + ">"
		p.remember(full)
		return full
	case strings.HasPrefix(p.s, "?A0x"):
		p.simpleName()
		return "`anonymous namespace'"
	case c == '?':
		return p.fail() // local scopes and nested decorated names
	}
	n := p.simpleName()
	p.remember(n)
	return n
}

func (p *msvcParser) templateArgs() string {
	var args []string
	for p.ok {
		if p.s == "" {
			return p.fail()
		}
		if p.s[0] == '@' {
			p.s = p.s[1:]
			break
		}
		if len(args) > 64 {
			return p.fail()
		}
		start := len(p.s)
		t := p.typ()
		if start-len(p.s) > 1 && len(p.types) < 10 {
			p.types = append(p.types, t)
		}
		args = append(args, t)
	}
	return strings.Join(args, ",")
}

var basicTypes = map[byte]string{
	'C': "signed char", 'D': "char", 'E': "unsigned char", 'F': "short",
	'G': "unsigned short", 'H': "int", 'I': "unsigned int", 'J': "long",
	'K': "unsigned long", 'M': "float", 'N': "double", 'O': "long double",
	'X': "void",
}

var extTypes = map[byte]string{
	'J': "__int64", 'K': "unsigned __int64", 'N': "bool", 'W': "wchar_t",
	'S': "char16_t", 'U': "char32_t", 'Q': "char8_t", 'D': "__int8", 'E': "unsigned __int8",
	'F': "__int16", 'G': "unsigned __int16", 'H': "__int32", 'I': "unsigned __int32",
}

// typ parses a type in a template argument list.
func (p *msvcParser) typ() string {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDemangleDepth || p.s == "" {
		return p.fail()
	}
	c := p.s[0]
	p.s = p.s[1:]
	if c >= '0' && c <= '9' {
		if int(c-'0') >= len(p.types) {
			return p.fail()
		}
		return p.types[c-'0']
	}
	if t, ok := basicTypes[c]; ok {
		return t
	}
	switch c {
	case '_':
		if p.s == "" {
			return p.fail()
		}
		t, ok := extTypes[p.s[0]]
		if !ok {
			return p.fail()
		}
		p.s = p.s[1:]
		return t
	case 'V', 'U', 'T':
		return p.fullName(false)
	case 'W':
		if p.s == "" || p.s[0] != '4' {
			return p.fail()
		}
		p.s = p.s[1:]
		return p.fullName(false)
	case 'P', 'Q', 'R', 'S', 'A':
		ptr := " *"
		if c == 'A' {
			ptr = " &"
		}
		for strings.HasPrefix(p.s, "E") || strings.HasPrefix(p.s, "I") || strings.HasPrefix(p.s, "F") {
			p.s = p.s[1:] // __ptr64, __restrict, __unaligned
		}
		if p.s == "" {
			return p.fail()
		}
		cv := ""
		switch p.s[0] {
		case 'A':
		case 'B':
			cv = "const "
		case 'C':
			cv = "volatile "
		case 'D':
			cv = "const volatile "
		default:
			return p.fail() // function pointers, member pointers
		}
		p.s = p.s[1:]
		return cv + p.typ() + ptr
	case '$':
		if strings.HasPrefix(p.s, "0") {
			p.s = p.s[1:]
			return p.number()
		}
		return p.fail()
	}
	return p.fail()
}

// number parses an encoded integer: '?' for negative, a digit 0-9 for
// 1-10, or hex digits A-P terminated by '@'.
func (p *msvcParser) number() string {
	neg := false
	if strings.HasPrefix(p.s, "?") {
		neg = true
		p.s = p.s[1:]
	}
	if p.s == "" {
		return p.fail()
	}
	var v uint64
	if c := p.s[0]; c >= '0' && c <= '9' {
		v = uint64(c-'0') + 1
		p.s = p.s[1:]
	} else {
		i := 0
		for ; i < len(p.s) && p.s[i] != '@'; i++ {
			d := p.s[i]
			if d < 'A' || d > 'P' || i >= 16 {
				return p.fail()
			}
			v = v<<4 | uint64(d-'A')
		}
		if i == len(p.s) {
			return p.fail()
		}
		p.s = p.s[i+1:]
	}
	s := strconv.FormatUint(v, 10)
	if neg {
		s = "-" + s
	}
	return s
}
