package ansiblemod

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// parsePythonDict reads a Python dict literal such as "{'a': 1, 'b': [True]}",
// the fallback check_type_dict uses (ast.literal_eval) when a string starting
// with "{" is not JSON. Such strings are what a dict becomes when it is
// templated into a string. Keys become their str() text; tuples become lists.
func parsePythonDict(s string) (map[string]any, bool) {
	p := &pyParser{src: s}
	v, ok := p.value()
	if !ok {
		return nil, false
	}
	p.space()
	m, isDict := v.(map[string]any)
	return m, isDict && p.pos == len(p.src)
}

type pyParser struct {
	src   string
	pos   int
	depth int // brackets open
}

// maxPyNesting is Python's limit on nested brackets (MAXLEVEL of its
// tokenizer): deeper text is a SyntaxError there. Without a limit, a long
// run of [ in a dict option recursed until the Go stack overflowed, a fatal
// error no recover() catches.
const maxPyNesting = 200

func (p *pyParser) space() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

// eat consumes c (after spaces) when it comes next.
func (p *pyParser) eat(c byte) bool {
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *pyParser) value() (any, bool) {
	p.space()
	if p.pos >= len(p.src) {
		return nil, false
	}
	switch c := p.src[p.pos]; {
	case c == '{' || c == '[' || c == '(':
		if p.depth == maxPyNesting {
			return nil, false
		}
		p.pos++
		p.depth++
		defer func() { p.depth-- }()
		switch c {
		case '{':
			return p.dict()
		case '[':
			return p.sequence(']')
		}
		return p.sequence(')')
	case c == '\'' || c == '"':
		return p.strings()
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for word, v := range map[string]any{"True": true, "False": false, "None": nil} {
		if strings.HasPrefix(p.src[p.pos:], word) {
			p.pos += len(word)
			return v, true
		}
	}
	return nil, false
}

func (p *pyParser) dict() (any, bool) {
	out := map[string]any{}
	for !p.eat('}') {
		k, ok := p.value()
		if !ok || !p.eat(':') {
			return nil, false
		}
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		out[pyStr(k)] = v
		if !p.eat(',') {
			return out, p.eat('}')
		}
	}
	return out, true
}

func (p *pyParser) sequence(end byte) (any, bool) {
	out := []any{}
	for !p.eat(end) {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if !p.eat(',') {
			if !p.eat(end) {
				return nil, false
			}
			if end == ')' && len(out) == 1 {
				return out[0], true // (x) is x, not a tuple
			}
			return out, true
		}
	}
	return out, true
}

// strings reads one or more adjacent string literals, which Python joins.
func (p *pyParser) strings() (any, bool) {
	var b strings.Builder
	for {
		p.space()
		if p.pos >= len(p.src) || (p.src[p.pos] != '\'' && p.src[p.pos] != '"') {
			return b.String(), true
		}
		s, ok := p.quoted()
		if !ok {
			return nil, false
		}
		b.WriteString(s)
	}
}

func (p *pyParser) quoted() (string, bool) {
	quote := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == quote:
			p.pos++
			return b.String(), true
		case c == '\n':
			return "", false
		case c == '\\':
			if !p.escape(&b) {
				return "", false
			}
		default:
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			b.WriteRune(r)
			p.pos += size
		}
	}
	return "", false
}

func (p *pyParser) escape(b *strings.Builder) bool {
	if p.pos+1 >= len(p.src) {
		return false
	}
	c := p.src[p.pos+1]
	p.pos += 2
	simple := map[byte]string{'\\': `\`, '\'': `'`, '"': `"`, 'n': "\n", 't': "\t", 'r': "\r", '0': "\x00", '\n': ""}
	if s, ok := simple[c]; ok {
		b.WriteString(s)
		return true
	}
	width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
	if width == 0 {
		b.WriteByte('\\') // Python keeps unknown escapes as written
		b.WriteByte(c)
		return true
	}
	if p.pos+width > len(p.src) {
		return false
	}
	n, err := strconv.ParseUint(p.src[p.pos:p.pos+width], 16, 32)
	if err != nil || !utf8.ValidRune(rune(n)) {
		return false
	}
	b.WriteRune(rune(n))
	p.pos += width
	return true
}

func (p *pyParser) number() (any, bool) {
	start := p.pos
	for p.pos < len(p.src) && strings.IndexByte("+-0123456789abcdefABCDEFoOxX._", p.src[p.pos]) >= 0 {
		// a sign only starts the number or follows an exponent
		if c := p.src[p.pos]; (c == '+' || c == '-') && p.pos > start && !strings.ContainsRune("eE", rune(p.src[p.pos-1])) {
			break
		}
		p.pos++
	}
	text := p.src[start:p.pos]
	unsigned := strings.TrimLeft(text, "+-")
	if len(text)-len(unsigned) > 1 || unsigned == "" {
		return nil, false
	}
	isDecimalInt := isIntLiteral(strings.ReplaceAll(unsigned, "_", ""))
	if isDecimalInt && len(unsigned) > 1 && unsigned[0] == '0' && strings.Trim(unsigned, "0_") != "" {
		return nil, false // Python 3 rejects 017
	}
	if i, err := strconv.ParseInt(text, 0, 64); err == nil {
		return int(i), true
	}
	if f, ok := pyParseFloat(text); ok {
		return f, true
	}
	return nil, false
}
