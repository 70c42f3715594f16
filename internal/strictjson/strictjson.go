// Package strictjson refuses JSON that encoding/json would read ambiguously.
//
// encoding/json matches object keys to struct fields case-insensitively and
// lets the last of several equal keys win, so {"status":"error",
// "Status":"success"} decodes as a success and {"expires":1,"expires":9} as
// 9. A reader that must fail closed (a lock file, a monitoring answer that
// decides a deployment) cannot trust either: two writers, or an attacker
// between them, may disagree about what the document says.
//
// The rules:
//
//   - Within one object, no two keys may be equal after Unicode case folding
//     (the folding encoding/json uses: bytes.EqualFold), at any depth.
//   - The document must be one well-formed JSON value (encoding/json's own
//     syntax rules), nested at most MaxDepth deep.
//
// Check only inspects; Unmarshal checks and then decodes with encoding/json.
// CheckWith relaxes the case rule for maps whose keys are data, not field
// names (Prometheus label sets, where "job" and "Job" are two labels):
// exact duplicates are still refused there.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// MaxDepth bounds the nesting of arrays and objects. The documents this
// collection reads are a few levels deep; a deeper one is an attack on the
// reader's memory, not data.
const MaxDepth = 256

// DuplicateKeyError is an object holding two keys that encoding/json would
// treat as one.
type DuplicateKeyError struct {
	// Path is where the object is, in JSONPath-like form: $, $.data,
	// $.data.result[0].metric.
	Path string
	// First and Second are the two keys as written (equal, or differing
	// only in case).
	First, Second string
}

func (e *DuplicateKeyError) Error() string {
	if e.First == e.Second {
		return fmt.Sprintf("duplicate key %q in the object at %s", e.First, e.Path)
	}
	return fmt.Sprintf("keys %q and %q in the object at %s differ only in case", e.First, e.Second, e.Path)
}

// ErrTooDeep is returned for documents nested deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)

// Check reports whether data is one JSON value without duplicate or
// case-variant keys. Syntax errors are returned as encoding/json reports them.
func Check(data []byte) error { return CheckWith(data, Options{}) }

// Options relax Check.
type Options struct {
	// CaseSensitiveUnder names keys whose object value is a map decoded
	// into a Go map (case-sensitive): in those objects only exact
	// duplicates are refused. For example "metric" and "stream".
	CaseSensitiveUnder []string
}

// CheckWith is Check with opts.
func CheckWith(data []byte, opts Options) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, exact: map[string]bool{}}
	for _, k := range opts.CaseSensitiveUnder {
		w.exact[k] = true
	}
	if err := w.value("$", "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return errors.New("invalid JSON: more than one value")
		}
		return err
	}
	return nil
}

// Unmarshal is Check followed by json.Unmarshal.
func Unmarshal(data []byte, v any) error {
	if err := Check(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

type walker struct {
	dec   *json.Decoder
	exact map[string]bool
}

// value reads one value whose path is path, the value of key in its object.
func (w walker) value(path, key string, depth int) error {
	tok, err := w.dec.Token()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	if depth >= MaxDepth {
		return ErrTooDeep
	}
	switch delim {
	case '{':
		return w.object(path, w.exact[key], depth+1)
	case '[':
		return w.array(path, depth+1)
	}
	return fmt.Errorf("invalid JSON: unexpected %q at %s", delim, path)
}

func (w walker) object(path string, exact bool, depth int) error {
	seen := map[string]string{} // folded key → key as written
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder only yields strings here
		folded := key
		if !exact {
			folded = Fold(key)
		}
		if first, dup := seen[folded]; dup {
			return &DuplicateKeyError{Path: path, First: first, Second: key}
		}
		seen[folded] = key
		if err := w.value(childPath(path, key), key, depth); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

// array reads an array; its elements are nobody's key.
func (w walker) array(path string, depth int) error {
	for i := 0; w.dec.More(); i++ {
		if err := w.value(path+"["+strconv.Itoa(i)+"]", "", depth); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // ']'
	return err
}

func childPath(path, key string) string {
	if key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
	}) < 0 {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// Fold maps s to a key that is equal for two strings exactly when
// bytes.EqualFold (and so encoding/json's field matching) calls them equal:
// each rune is replaced by the smallest rune of its simple case-folding orbit
// (K, k and the Kelvin sign U+212A all become K).
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
