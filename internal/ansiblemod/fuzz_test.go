package ansiblemod

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Fuzz targets for everything that reads module arguments: the args file,
// validation against a spec, each type's conversion, the Python-literal
// parser. Seed corpora are in testdata/fuzz/<target>; `go test` replays
// them, `make fuzz` explores from them.

// fuzzSpec has an option of every type and every dependency rule, so that
// one fuzzed args file exercises all of validation.
var fuzzSpec = Spec{
	Options: map[string]Option{
		"s":    {Type: Str, Choices: []any{"a", "b", "yes"}, Aliases: []string{"s_alias"}},
		"i":    {Type: Int, Default: 3},
		"f":    {Type: Float},
		"b":    {Type: Bool, Default: false},
		"p":    {Type: Path},
		"l":    {Type: List, Elements: Int},
		"ls":   {Type: List, Elements: Str, Choices: []any{"x", "y"}},
		"d":    {Type: Dict},
		"r":    {Type: Raw},
		"tok":  {Type: Str, NoLog: true, EnvFallback: []string{"THREADER_FUZZ_UNSET_VAR"}},
		"need": {Type: Str},
		"sub": {Type: Dict, ApplyDefaults: true, Options: map[string]Option{
			"n":      {Type: Int, Default: 1},
			"secret": {Type: Str, NoLog: true},
			"kind":   {Type: Str, Choices: []any{"x", "y"}, Default: "x"},
		}, RequiredIf: []RequiredIf{{Key: "kind", Value: "y", Requirements: []string{"secret"}}}},
		"items": {Type: List, Elements: Dict, Options: map[string]Option{
			"name": {Type: Str, Required: true},
			"max":  {Type: Float},
			"min":  {Type: Float},
		}, RequiredOneOf: [][]string{{"max", "min"}}},
	},
	MutuallyExclusive: [][]string{{"s", "need"}},
	RequiredTogether:  [][]string{{"f", "p"}},
	RequiredBy:        map[string][]string{"tok": {"b"}},
	SupportsCheckMode: true,
}

// FuzzModuleArgs runs an args file through the whole runtime, as execute
// does: the result is always one JSON object that says whether it failed,
// the handler sees only well-typed values, and no no_log value leaks.
func FuzzModuleArgs(f *testing.F) {
	f.Add([]byte(`{"s": "a", "i": "42", "f": 1.5, "p": "/x", "l": "1,2", "d": "a=1 b=2", "tok": "hunter2"}`))
	f.Add([]byte(`{"sub": {"kind": "y", "secret": "s3cr3t"}, "items": [{"name": "n", "max": NaN}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &Module{Name: "fuzz", spec: fuzzSpec, masker: NewMasker()}
		var seen map[string]any
		handler := func(m *Module) (Result, error) { seen = m.params; return Result{"echo": m.params}, nil }
		res, failed := m.runArgs(data, handler)
		out, err := json.Marshal(res)
		if err != nil {
			t.Fatalf("result cannot be encoded: %v", err)
		}
		if res["failed"] != failed {
			t.Fatalf("failed = %v, result says %v", failed, res["failed"])
		}
		if msg, _ := res["msg"].(string); failed && msg == "" {
			t.Fatalf("a failure without a message: %s", out)
		}
		if seen != nil {
			checkTypes(t, fuzzSpec, seen)
		}
		for _, secret := range m.masker.secrets {
			// Short secrets and those the masks themselves hold would be
			// false alarms; map keys are kept, as in Ansible.
			if len(secret) >= 4 && !strings.Contains(secret, "*") && !strings.Contains(noLogPlaceholder, secret) && leaks(res, secret) {
				t.Fatalf("no_log value %q appears in the result %s", secret, out)
			}
		}
	})
}

// leaks reports whether secret is inside a string value of v.
func leaks(v any, secret string) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, secret)
	case []any:
		for _, e := range x {
			if leaks(e, secret) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if leaks(e, secret) {
				return true
			}
		}
	}
	return false
}

// runArgs is execute without the args file: decode, validate, handle,
// finish.
func (m *Module) runArgs(data []byte, handler Handler) (map[string]any, bool) {
	raw, err := decodeJSONObject(data)
	if err != nil {
		return m.finish(nil, err)
	}
	m.readInternal(raw)
	user := userParams(raw)
	v, err := validate(m.Name, m.spec, user, false)
	m.masker.Add(v.noLogValues...)
	if err != nil {
		m.failedArgs = user
		return m.finish(nil, err)
	}
	m.params, m.provided = v.params, v.provided
	result, err := handler(m)
	return m.finish(result, err)
}

// checkTypes asserts every validated value has its option's Go type.
func checkTypes(t *testing.T, spec Spec, params map[string]any) {
	t.Helper()
	for name, o := range spec.Options {
		v := params[name]
		if v == nil {
			continue
		}
		if o.hasSubOptions() {
			if o.typ() == Dict {
				checkTypes(t, o.subSpec(), v.(map[string]any))
				continue
			}
			for _, e := range v.([]any) {
				checkTypes(t, o.subSpec(), e.(map[string]any))
			}
			continue
		}
		checkType(t, name, o.typ(), v)
		if o.Elements != "" {
			for _, e := range v.([]any) {
				checkType(t, name+"[]", o.Elements, e)
			}
		}
	}
}

func checkType(t *testing.T, name string, typ Type, v any) {
	t.Helper()
	ok := false
	switch typ {
	case Str:
		_, ok = v.(string)
	case Path:
		s, isStr := v.(string)
		ok = isStr && !strings.ContainsRune(s, 0)
	case Int:
		_, ok = v.(int)
	case Float:
		f, isFloat := v.(float64)
		ok = isFloat && !math.IsNaN(f) && !math.IsInf(f, 0)
	case Bool:
		_, ok = v.(bool)
	case List:
		_, ok = v.([]any)
	case Dict:
		_, ok = v.(map[string]any)
	case Raw:
		ok = true
	}
	if !ok {
		t.Fatalf("option %s (%s) holds %T %#v", name, typ, v, v)
	}
}

// FuzzDecodeJSONObject: on JSON that encoding/json reads, the args decoder
// agrees with it; otherwise it may only add Python's NaN and Infinity.
func FuzzDecodeJSONObject(f *testing.F) {
	f.Add([]byte(`{"a": [1, "NaN", {"b": null}], "c": "\u0000"}`))
	f.Add([]byte(`{"a": -Infinity}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJSONObject(data)
		var want map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&want)
		// JSON whitespace only: Python's json.loads refuses "{}\v" too.
		if stdErr == nil && want != nil && len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) == 0 {
			if err != nil {
				t.Fatalf("encoding/json reads %q, decodeJSONObject fails: %v", data, err)
			}
			if !bytes.Contains(data, []byte(nonFiniteMark[1:])) {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%q decoded differently (-encoding/json +ours):\n%s", data, diff)
				}
			}
			return
		}
		if err == nil && !hasNonFiniteToken(data) {
			t.Fatalf("%q is no JSON object, yet decodes to %v", data, got)
		}
	})
}

func hasNonFiniteToken(data []byte) bool {
	return bytes.Contains(data, []byte("NaN")) || bytes.Contains(data, []byte("Infinity"))
}

// FuzzConvert converts a value, given as JSON text or as a plain string, to
// each type: no panic, the right Go type on success, a message on failure.
func FuzzConvert(f *testing.F) {
	for _, seed := range []string{"42", `"42.0"`, `"1e3"`, `"nan"`, `"-Infinity"`, "1e400", `"0x10"`, `"yes"`,
		`"a=1, b='x y'"`, `"{'a': [1, (2,)]}"`, `{"k": [1]}`, `"~/x/$HOME"`, `"/a\u0000b"`, "NaN", `"1_000"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		values := []any{text}
		if m, err := decodeJSONObject([]byte(`{"v": ` + text + `}`)); err == nil {
			values = append(values, m["v"])
		}
		for _, v := range values {
			for _, typ := range []Type{Str, Int, Float, Bool, List, Dict, Path, Raw} {
				got, err := Convert(typ, v)
				if err != nil {
					if err.Error() == "" {
						t.Fatalf("Convert(%s, %#v): empty error", typ, v)
					}
					continue
				}
				checkType(t, "v", typ, got)
				if _, err := plain(got); err != nil {
					t.Fatalf("Convert(%s, %#v) = %#v, which cannot be a result: %v", typ, v, got, err)
				}
			}
		}
	})
}

// FuzzWholeNumber compares the int conversion of decimal text with an exact
// computation in math/big (the implementation it replaced).
func FuzzWholeNumber(f *testing.F) {
	for _, seed := range []string{"42", " -7 ", "42.0", "1e3", "1_000", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "922337203685477580.7e1", "1000e-3", "100e-3", "0e99999", "+.5e1", "5.", ".", "1e-1000"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 200 {
			return // the reference is slow on long input
		}
		got, ok := wholeNumber(s)
		want, wantOK := wholeNumberBig(s)
		if ok != wantOK || got != want {
			t.Fatalf("wholeNumber(%q) = %d, %v; want %d, %v", s, got, ok, want, wantOK)
		}
	})
}

func wholeNumberBig(s string) (int, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	m := decimalText.FindStringSubmatch(s)
	if m == nil || m[2]+m[3] == "" {
		return 0, false
	}
	digits := strings.TrimLeft(m[2]+m[3], "0")
	if digits == "" {
		return 0, true
	}
	exp := 0
	if m[4] != "" {
		e, err := strconv.Atoi(m[4])
		if err != nil || e > 1000 || e < -1000 {
			return 0, false
		}
		exp = e
	}
	scale := exp - len(m[3])
	n, _ := new(big.Int).SetString(digits, 10)
	ten := big.NewInt(10)
	if scale >= 0 {
		n.Mul(n, new(big.Int).Exp(ten, big.NewInt(int64(scale)), nil))
	} else {
		var rem big.Int
		n.QuoRem(n, new(big.Int).Exp(ten, big.NewInt(int64(-scale)), nil), &rem)
		if rem.Sign() != 0 {
			return 0, false
		}
	}
	if m[1] == "-" {
		n.Neg(n)
	}
	if !n.IsInt64() {
		return 0, false
	}
	return int(n.Int64()), true
}

// FuzzPythonDict parses Python dict literals (a templated dict): no panic,
// and a parsed dict is JSON-shaped data that a result can carry.
func FuzzPythonDict(f *testing.F) {
	for _, seed := range []string{`{'a': 1, 'b': [True, None, (1,)], "c": {'d': -1.5e3}}`, `{'a': 'x' "y"}`,
		`{'\x41\u00e9\U0001F600': 0x1F}`, `{1: 'one', 2.0: 'two'}`, `{'a': (1)}`, `{'a': 017}`, `{'a': '\`,
		`{'a': 1e999}`, `{}`, `{'a': [1, 2,], }`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := parsePythonDict(s)
		if !ok {
			return
		}
		if m == nil {
			t.Fatalf("parsePythonDict(%q) succeeded with a nil map", s)
		}
		if _, err := plain(map[string]any(m)); err != nil {
			t.Fatalf("parsePythonDict(%q) = %#v, which cannot be a result: %v", s, m, err)
		}
		for k := range m {
			if !utf8.ValidString(k) && utf8.ValidString(s) {
				t.Fatalf("parsePythonDict(%q) made an invalid UTF-8 key %q", s, k)
			}
		}
		if !strings.HasPrefix(s, "{") {
			return // as in Python, only text that starts with { is read as a literal
		}
		again, err := Convert(Dict, s)
		if err != nil {
			t.Fatalf("Convert(dict, %q) fails (%v) although it parses", s, err)
		}
		if !isJSONObject([]byte(s)) {
			if diff := cmp.Diff(map[string]any(m), again, cmpopts.EquateNaNs()); diff != "" {
				t.Fatalf("Convert(dict, %q) differs from parsePythonDict (-parse +convert):\n%s", s, diff)
			}
		}
	})
}
