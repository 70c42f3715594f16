package ansiblemod

import (
	"fmt"
	"math"
	"os"
	"os/user"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNoLogStructuredValues(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"keys":    {Type: List, NoLog: true},
		"headers": {Type: Dict, NoLog: true},
		"enabled": {Type: Bool, NoLog: true},
		"port":    {Type: Int, NoLog: true, Default: 8443},
		"note":    {},
	}}
	res, _ := invoke(t, spec, `{"keys": ["k-one", 77123], "headers": {"Authorization": "Bearer zz-tok"}, "enabled": true, "note": "x"}`,
		func(m *Module) (Result, error) {
			return Result{"out": "k-one Bearer zz-tok 77123 8443 True", "n": 77123, "flag": m.Bool("enabled"), "echo": m.Masker().String("k-one")}, nil
		})
	want := map[string]any{
		"out":  stars + " " + stars + " " + stars + " " + stars + " True", // booleans are not secrets
		"n":    placeholder,
		"flag": true,
		"echo": placeholder,
	}
	for k, v := range want {
		if !cmp.Equal(res[k], v) {
			t.Errorf("%s = %#v, want %#v", k, res[k], v)
		}
	}
	args := res["invocation"].(map[string]any)["module_args"]
	wantArgs := map[string]any{"keys": placeholder, "headers": placeholder, "enabled": placeholder, "port": placeholder, "note": "x"}
	if diff := cmp.Diff(wantArgs, args); diff != "" {
		t.Errorf("module_args (-want +got):\n%s", diff)
	}
}

func TestPyEqual(t *testing.T) {
	for _, c := range []struct {
		a, b any
		want bool
	}{
		{1, 1.0, true}, {true, 1, true}, {false, 0.0, true}, {int64(3), 3, true}, {float32(0.5), 0.5, true},
		{"1", 1, false}, {"True", true, false}, {nil, nil, true}, {nil, "", false}, {"a", "a", true},
		{[]any{1, "a"}, []string{"1", "a"}, false}, {[]any{1, "a"}, []any{1.0, "a"}, true}, {[]any{1}, []any{1, 2}, false},
		{[]string{"a"}, []any{"a"}, true}, {map[string]any{"a": 1}, map[string]int{"a": 1}, true},
		{map[string]any{"a": 1}, map[string]any{"b": 1}, false}, {map[string]any{"a": 1}, map[string]any{"a": 2}, false},
		{map[string]any{"a": 1}, []any{"a"}, false}, {[]any{}, map[string]any{}, false}, {math.NaN(), math.NaN(), false},
	} {
		if got := pyEqual(c.a, c.b); got != c.want {
			t.Errorf("pyEqual(%#v, %#v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestRequiredIfWithListValue(t *testing.T) {
	spec := Spec{
		Options:    map[string]Option{"modes": {Type: List}, "why": {}},
		RequiredIf: []RequiredIf{{Key: "modes", Value: []string{"a", "b"}, Requirements: []string{"why"}}},
	}
	if got, want := failure(t, spec, `{"modes": "a,b"}`), "modes is ['a', 'b'] but all of the following are missing: why"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	validParams(t, spec, `{"modes": "a"}`)
}

func TestPythonDictLiterals(t *testing.T) {
	for in, want := range map[string]map[string]any{
		`{}`:            {},
		`{ 'a' : 1 , }`: {"a": 1},
		`{'esc': 'tab\there\nnl \x41\u00e9\U0001F600 \\ \' \q', "d": "x"}`: {"esc": "tab\there\nnl Aé\U0001F600 \\ ' \\q", "d": "x"},
		`{'cat': 'a' "b" 'c'}`: {"cat": "abc"},
		`{'n': [0x10, 1_000, -2, +3, 1e3, .5, 0, -0.0, 0o17, 0b11]}`: {"n": []any{16, 1000, -2, 3, 1000.0, 0.5, 0, math.Copysign(0, -1), 15, 3}},
		`{1: 'int key', None: 'none key', True: 'x'}`:                {"1": "int key", "None": "none key", "True": "x"},
		`{'t': (), 'u': (1, 2), 'g': (3)}`:                           {"t": []any{}, "u": []any{1, 2}, "g": 3},
		`{'nested': {'l': [[], {}]}}`:                                {"nested": map[string]any{"l": []any{[]any{}, map[string]any{}}}},
	} {
		got, ok := parsePythonDict(in)
		if !ok {
			t.Errorf("parsePythonDict(%s) failed", in)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parsePythonDict(%s) (-want +got):\n%s", in, diff)
		}
	}
	for _, bad := range []string{
		`{`, `{'a'}`, `{'a': }`, `{'a': 1 'b': 2}`, `{'a': 017}`, `{'a': 1} x`, `{'a': 'unterminated}`,
		`{'a': 'x\y'`, `{'a': '\x4'}`, `{'a': '\ud800'}`, `{'a': --1}`, `{'a': 1..2}`, `{'a': nan}`,
		`{'a': [1, 2}`, `{'a': (1 2)}`, `{'a': 'line` + "\n" + `break'}`, `['not', 'a', 'dict']`, `{'a': Truth}`,
	} {
		if got, ok := parsePythonDict(bad); ok {
			t.Errorf("parsePythonDict(%s) = %v, want a failure", bad, got)
		}
	}
}

func TestExpandUserWithoutHome(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", "")
	os.Unsetenv("HOME") // Python then asks the password database
	if got := expandPath("~/x"); got != me.HomeDir+"/x" {
		t.Errorf(`expandPath("~/x") without $HOME = %q, want %q`, got, me.HomeDir+"/x")
	}
	t.Setenv("HOME", "/")
	if got := expandPath("~"); got != "/" {
		t.Errorf(`expandPath("~") with HOME=/ is %q, want /`, got)
	}
}

func TestConvertGoTypedValues(t *testing.T) {
	// Values from specs (defaults) and Go callers, not only decoded JSON.
	for _, c := range []struct {
		typ  Type
		in   any
		want any
	}{
		{Int, int64(7), 7}, {Int, 7.0, 7}, {Int, math.Inf(1), nil}, {Int, math.NaN(), nil}, {Int, 1e300, nil},
		{Float, int64(2), 2.0}, {Float, 3, 3.0}, {Bool, int64(1), true}, {Bool, 0.0, false},
		{Str, int64(9), "9"}, {List, int64(9), []any{"9"}},
	} {
		got, err := Convert(c.typ, c.in)
		if c.want == nil {
			if err == nil {
				t.Errorf("Convert(%s, %#v) = %#v, want an error", c.typ, c.in, got)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, c.want) {
			t.Errorf("Convert(%s, %#v) = %#v, %v; want %#v", c.typ, c.in, got, err, c.want)
		}
	}
}

// NoLogValues (retry_command's env, issue 10 item 14): the keys stay, each
// value is masked in invocation, and values of MinSecretLen bytes or more
// are masked everywhere, also when validation fails.
func TestNoLogValuesKeepKeysAndMaskValues(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"env":   {Type: Dict, NoLogValues: true},
		"count": {Type: Int},
	}}
	res, _ := invoke(t, spec, `{"env": {"API_TOKEN": "tok-9f8e7d", "DEBUG": "1", "N": 12}, "count": 1}`,
		func(m *Module) (Result, error) {
			return Result{"out": "token tok-9f8e7d, debug 1, n 12", "rc": 1, "n": 12}, fmt.Errorf("failed with tok-9f8e7d")
		})
	want := map[string]any{"out": "token " + stars + ", debug 1, n 12", "rc": 1, "n": 12, "msg": "failed with " + stars}
	for k, v := range want {
		if !cmp.Equal(res[k], v) {
			t.Errorf("%s = %#v, want %#v", k, res[k], v)
		}
	}
	args := res["invocation"].(map[string]any)["module_args"]
	wantArgs := map[string]any{"env": map[string]any{"API_TOKEN": placeholder, "DEBUG": placeholder, "N": placeholder}, "count": 1}
	if diff := cmp.Diff(wantArgs, args); diff != "" {
		t.Errorf("module_args (-want +got):\n%s", diff)
	}

	// Validation fails on another option: the values are still masked.
	res, _ = invoke(t, spec, `{"env": {"API_TOKEN": "tok-9f8e7d"}, "count": "many"}`, nil)
	if args := res["invocation"].(map[string]any)["module_args"].(map[string]any); !cmp.Equal(args["env"], map[string]any{"API_TOKEN": placeholder}) {
		t.Errorf("module_args after a validation failure: %#v", args)
	}
	// A value that is not a dict yet is masked whole.
	res, _ = invoke(t, spec, `{"env": "API_TOKEN=tok-9f8e7d", "count": "many"}`, nil)
	if args := res["invocation"].(map[string]any)["module_args"].(map[string]any); args["env"] != placeholder {
		t.Errorf("raw env in module_args: %#v", args)
	}
}

// Nesting is bounded as in Python (200 brackets): a dict option holding a
// long run of [ used to recurse until the Go stack overflowed, a fatal error
// that kills the module with a goroutine dump instead of a message.
func TestPythonDictNestingLimit(t *testing.T) {
	nested := func(n int) string { return "{'a': " + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}" }
	if _, ok := parsePythonDict(nested(200)); !ok {
		t.Error("200 nested brackets are refused; Python reads them")
	}
	if m, ok := parsePythonDict(nested(201)); ok {
		t.Errorf("201 nested brackets parse (%v); Python refuses them", m)
	}
	deep := "{'a': " + strings.Repeat("(", 5_000_000)
	if _, err := Convert(Dict, deep); err == nil {
		t.Error("5 million open brackets convert to a dict")
	}
}

// NoLog and NoLogValues sub-options (slo_check's checks[].body and
// checks[].headers) are masked in invocation as top-level ones are. Before,
// invocation masked only top-level options, so a header value shorter than
// MinSecretLen, which the result-wide masking leaves alone, was shown there.
func TestNoLogSubOptionsAreMaskedInInvocation(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"checks": {Type: List, Elements: Dict, Options: map[string]Option{
			"name":    {Type: Str},
			"headers": {Type: Dict, NoLogValues: true},
			"body":    {Type: Str, NoLog: true},
		}},
		"one": {Type: Dict, Options: map[string]Option{"key": {Type: Str, NoLog: true}, "n": {Type: Int}}},
	}}
	args := `{"checks": [{"name": "web", "headers": {"X-K": "k9z"}, "body": "{}"}], "one": {"key": "a1", "n": 2}}`
	res, _ := invoke(t, spec, args, func(m *Module) (Result, error) { return Result{}, nil })
	want := map[string]any{
		"checks": []any{map[string]any{"name": "web", "headers": map[string]any{"X-K": placeholder}, "body": placeholder}},
		"one":    map[string]any{"key": placeholder, "n": 2},
	}
	if diff := cmp.Diff(want, res["invocation"].(map[string]any)["module_args"]); diff != "" {
		t.Errorf("module_args (-want +got):\n%s", diff)
	}
	// Validation fails on another option: still masked, and a sub-option
	// value that is not a dict yet is masked whole.
	res, _ = invoke(t, spec, `{"checks": [{"name": "web", "headers": {"X-K": "k9z"}}, "name=x body=b2"], "one": {"n": "many"}}`, nil)
	got := res["invocation"].(map[string]any)["module_args"].(map[string]any)
	if diff := cmp.Diff([]any{map[string]any{"name": "web", "headers": map[string]any{"X-K": placeholder}}, placeholder}, got["checks"]); diff != "" {
		t.Errorf("checks after a validation failure (-want +got):\n%s", diff)
	}
}
