// Package jsonpath selects one value of a JSON document with a small, strict
// subset of JSONPath, enough to point at a number in an API's answer:
//
//	$                      the whole document
//	$.data.ratio           member "ratio" of member "data"
//	$['error rate']        a member whose name is not an identifier ('' or "")
//	$.items[0].value       element 0 of an array (non-negative decimal index)
//
// A dotted name is [A-Za-z_][A-Za-z0-9_-]*. Nothing else is accepted:
// no wildcards (*), no recursive descent (..), no slices, unions, filters
// or negative indexes, because each would select several values or none,
// and a gate needs exactly one. A path that does not match the document (a
// missing key, an index past the end, a step into a number) is an error
// that says where it stopped.
package jsonpath

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxSteps bounds a path's length.
const MaxSteps = 64

// Path is a parsed path.
type Path struct {
	text  string
	steps []step
}

type step struct {
	key   string
	index int // >= 0 for an array index; -1 for a member
}

// Parse reads a path of the subset above.
func Parse(text string) (Path, error) {
	p := Path{text: text}
	if !strings.HasPrefix(text, "$") {
		return p, fmt.Errorf("%q must start with $ (for example $.data.value)", text)
	}
	rest := text[1:]
	for rest != "" {
		if len(p.steps) == MaxSteps {
			return p, fmt.Errorf("%q has more than %d steps", text, MaxSteps)
		}
		var s step
		var err error
		switch rest[0] {
		case '.':
			s, rest, err = parseName(rest[1:])
		case '[':
			s, rest, err = parseBracket(rest[1:])
		default:
			err = fmt.Errorf("unexpected %q", rest[0])
		}
		if err != nil {
			return p, fmt.Errorf("%q: %v at offset %d (supported: $.name, $['name'], $.list[0])", text, err, len(text)-len(rest))
		}
		p.steps = append(p.steps, s)
	}
	return p, nil
}

func parseName(s string) (step, string, error) {
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' ||
		n > 0 && (s[n] >= '0' && s[n] <= '9' || s[n] == '-')) {
		n++
	}
	if n == 0 {
		return step{}, s, fmt.Errorf("a name must follow '.'")
	}
	return step{key: s[:n], index: -1}, s[n:], nil
}

func parseBracket(s string) (step, string, error) {
	if s != "" && (s[0] == '\'' || s[0] == '"') {
		quote := s[0]
		end := strings.IndexByte(s[1:], quote)
		if end < 0 || !strings.HasPrefix(s[end+2:], "]") {
			return step{}, s, fmt.Errorf("unterminated quoted name")
		}
		name := s[1 : end+1]
		if strings.ContainsAny(name, `\'"`) {
			return step{}, s, fmt.Errorf("a quoted name may not contain quotes or backslashes")
		}
		return step{key: name, index: -1}, s[end+3:], nil
	}
	end := strings.IndexByte(s, ']')
	if end <= 0 {
		return step{}, s, fmt.Errorf("want an index or a quoted name in [ ]")
	}
	digits := s[:end]
	if strings.TrimLeft(digits, "0123456789") != "" || (len(digits) > 1 && digits[0] == '0') {
		return step{}, s, fmt.Errorf("%q is not a non-negative index", digits)
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i > 1<<30 {
		return step{}, s, fmt.Errorf("index %s is too large", digits)
	}
	return step{index: i}, s[end+1:], nil
}

// String returns the path as written.
func (p Path) String() string { return p.text }

// Select walks doc (as encoding/json decodes into any) and returns the one
// value the path names.
func (p Path) Select(doc any) (any, error) {
	cur := doc
	where := "$"
	for _, s := range p.steps {
		if s.index < 0 {
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s is %s, not an object, so it has no member %q", where, kind(cur), s.key)
			}
			next, ok := obj[s.key]
			if !ok {
				return nil, fmt.Errorf("%s has no member %q", where, s.key)
			}
			cur, where = next, where+"['"+s.key+"']"
			continue
		}
		arr, ok := cur.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is %s, not an array, so it has no element %d", where, kind(cur), s.index)
		}
		if s.index >= len(arr) {
			return nil, fmt.Errorf("%s has %d elements, so no element %d", where, len(arr), s.index)
		}
		cur, where = arr[s.index], where+"["+strconv.Itoa(s.index)+"]"
	}
	return cur, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
