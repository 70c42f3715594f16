package ansiblemod

import (
	"math"
	"os/user"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jsonValue decodes JSON text the way args files are decoded (numbers as
// json.Number), so conversions see exactly what Ansible sends.
func jsonValue(t *testing.T, text string) any {
	t.Helper()
	m, err := decodeJSONObject([]byte(`{"v": ` + text + `}`))
	if err != nil {
		t.Fatalf("test input %s is not JSON: %v", text, err)
	}
	return m["v"]
}

type convertCase struct {
	in      string // JSON text of the value
	want    any
	wantErr string
}

func runConvertCases(t *testing.T, typ Type, cases []convertCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(string(typ)+" "+c.in, func(t *testing.T) {
			got, err := Convert(typ, jsonValue(t, c.in))
			if c.wantErr != "" {
				if err == nil || err.Error() != c.wantErr {
					t.Fatalf("Convert(%s, %s) = %#v, %v; want error %q", typ, c.in, got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert(%s, %s): unexpected error %v", typ, c.in, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("Convert(%s, %s) mismatch (-want +got):\n%s", typ, c.in, diff)
			}
		})
	}
}

func TestConvertStr(t *testing.T) {
	runConvertCases(t, Str, []convertCase{
		{`"x"`, "x", ""},
		{`" padded "`, " padded ", ""},
		{`""`, "", ""},
		{`true`, "True", ""},
		{`false`, "False", ""},
		{`15`, "15", ""},
		{`-3`, "-3", ""},
		{`1.0`, "1.0", ""},
		{`1.5`, "1.5", ""},
		{`1e3`, "1000.0", ""},
		{`1e16`, "1e+16", ""},
		{`0.00001`, "1e-05", ""},
		{`12345678901234567890`, "12345678901234567890", ""},
		{`["a"]`, "['a']", ""},
		{`["a", 1, true, null, 2.5]`, "['a', 1, True, None, 2.5]", ""},
		{`["it's"]`, `["it's"]`, ""},
		{`["a\nb"]`, `['a\nb']`, ""},
		{`{"b": 1, "a": "x"}`, "{'a': 'x', 'b': 1}", ""},
		{`null`, nil, "'None' is not a string and conversion is not allowed"},
	})
}

func TestConvertInt(t *testing.T) {
	const strErr = "<class 'str'> cannot be converted to an int"
	runConvertCases(t, Int, []convertCase{
		{`15`, 15, ""},
		{`"15"`, 15, ""},
		{`" 42 "`, 42, ""},
		{`"\t42\n"`, 42, ""},
		{`"+7"`, 7, ""},
		{`"-7"`, -7, ""},
		{`"017"`, 17, ""},
		{`"42.0"`, 42, ""},
		{`42.0`, 42, ""},
		{`"1e3"`, 1000, ""},
		{`"1E+3"`, 1000, ""},
		{`1e3`, 1000, ""},
		{`"1_000"`, 1000, ""},
		{`"0e999999999"`, 0, ""},
		{`"-0"`, 0, ""},
		{`true`, 1, ""},
		{`false`, 0, ""},
		{`"9223372036854775807"`, math.MaxInt64, ""},
		{`"-9223372036854775808"`, math.MinInt64, ""},
		{`"922337203685477580.7e1"`, math.MaxInt64, ""},
		{`"92233720368547758070e-1"`, math.MaxInt64, ""},
		{`"1000e-3"`, 1, ""},
		{`"12.3400e2"`, 1234, ""},
		{`"1e18"`, 1_000_000_000_000_000_000, ""},
		{`"1e19"`, nil, strErr},
		{`"100e-3"`, nil, strErr},
		{`"1e-1000"`, nil, strErr},
		{`NaN`, nil, "<class 'float'> cannot be converted to an int"},
		{`-Infinity`, nil, "<class 'float'> cannot be converted to an int"},
		{`42.5`, nil, "<class 'float'> cannot be converted to an int"},
		{`"42.5"`, nil, strErr},
		{`"0x10"`, nil, strErr},
		{`"0b101"`, nil, strErr},
		{`"0o17"`, nil, strErr},
		{`"abc"`, nil, strErr},
		{`""`, nil, strErr},
		{`" "`, nil, strErr},
		{`"1e-2"`, nil, strErr},
		{`"1/2"`, nil, strErr},
		{`"inf"`, nil, strErr},
		{`"nan"`, nil, strErr},
		{`"1e999999999"`, nil, strErr}, // must answer at once, not build a huge number
		{`"9223372036854775808"`, nil, strErr},
		{`[1]`, nil, "<class 'list'> cannot be converted to an int"},
		{`{}`, nil, "<class 'dict'> cannot be converted to an int"},
	})
}

// Numbers of a million digits are answered at once, without computing them.
func TestConvertIntLongNumbers(t *testing.T) {
	for _, c := range []struct {
		text string
		want any
	}{
		{"0." + strings.Repeat("0", 1_000_000) + "1", nil},
		{strings.Repeat("9", 1_000_000), nil},
		{"1" + strings.Repeat("0", 1_000_000) + "e-1000", nil},
		{"1" + strings.Repeat("0", 1000) + "e-1000", 1},
		{"7." + strings.Repeat("0", 1_000_000), 7},
	} {
		got, err := Convert(Int, c.text)
		if c.want == nil && err == nil || c.want != nil && got != c.want {
			t.Errorf("Convert(int, %.20s... (%d bytes)) = %v, %v; want %v", c.text, len(c.text), got, err, c.want)
		}
	}
}

func TestConvertFloat(t *testing.T) {
	const strErr = "<class 'str'> cannot be converted to a float"
	runConvertCases(t, Float, []convertCase{
		{`1.5`, 1.5, ""},
		{`2`, 2.0, ""},
		{`"2"`, 2.0, ""},
		{`" 2.5 "`, 2.5, ""},
		{`"1e3"`, 1000.0, ""},
		{`"-.5"`, -0.5, ""},
		{`"5."`, 5.0, ""},
		{`"1_000.5"`, 1000.5, ""},
		// Python's float() reads these; no option here means anything by
		// them, and NaN would pass every range check, so they are refused.
		{`"inf"`, nil, "'inf' is not a finite number"},
		{`"-Infinity"`, nil, "'-Infinity' is not a finite number"},
		{`"NaN"`, nil, "'NaN' is not a finite number"},
		{`" nan "`, nil, "' nan ' is not a finite number"},
		{`"1e400"`, nil, "'1e400' is not a finite number"},
		{`1e400`, nil, "inf is not a finite number"},
		{`-1e400`, nil, "-inf is not a finite number"},
		{`NaN`, nil, "nan is not a finite number"},      // Python's json.dumps of float('nan')
		{`Infinity`, nil, "inf is not a finite number"}, // ... of .inf in a task's YAML
		{`-Infinity`, nil, "-inf is not a finite number"},
		{`1.7976931348623157e308`, math.MaxFloat64, ""},
		{`true`, 1.0, ""},
		{`false`, 0.0, ""},
		{`"abc"`, nil, strErr},
		{`""`, nil, strErr},
		{`"0x10"`, nil, strErr},
		{`"0x1p3"`, nil, strErr},
		{`"1__0"`, nil, strErr},
		{`"1.5e"`, nil, strErr},
		{`"--1"`, nil, strErr},
		{`[1]`, nil, "<class 'list'> cannot be converted to a float"},
	})
	for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, err := Convert(Float, v); err == nil {
			t.Errorf("Convert(float, %v) = %v, want an error", v, got)
		}
	}
}

func TestConvertBool(t *testing.T) {
	var cases []convertCase
	for _, s := range []string{"yes", "on", "true", "1", "y", "t", "YES", "On", "TRUE", "Y", "T", " yes ", "\ttrue\n"} {
		cases = append(cases, convertCase{in: jsonQuote(s), want: true})
	}
	for _, s := range []string{"no", "off", "false", "0", "n", "f", "NO", "Off", "False", "N", "F", " no "} {
		cases = append(cases, convertCase{in: jsonQuote(s), want: false})
	}
	const valid = "Valid booleans include: 'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0"
	cases = append(cases,
		convertCase{`true`, true, ""},
		convertCase{`false`, false, ""},
		convertCase{`1`, true, ""},
		convertCase{`0`, false, ""},
		convertCase{`1.0`, true, ""},
		convertCase{`0.0`, false, ""},
		convertCase{`"maybe"`, nil, "The value 'maybe' is not a valid boolean.  " + valid},
		convertCase{`" Maybe "`, nil, "The value ' Maybe ' is not a valid boolean.  " + valid},
		convertCase{`""`, nil, "The value '' is not a valid boolean.  " + valid},
		convertCase{`"yes please"`, nil, "The value 'yes please' is not a valid boolean.  " + valid},
		convertCase{`2`, nil, "The value '2' is not a valid boolean.  " + valid},
		convertCase{`0.50`, nil, "The value '0.5' is not a valid boolean.  " + valid},
		convertCase{`[true]`, nil, "<class 'list'> cannot be converted to a bool"},
		convertCase{`{}`, nil, "<class 'dict'> cannot be converted to a bool"},
	)
	runConvertCases(t, Bool, cases)
}

func jsonQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func TestConvertList(t *testing.T) {
	runConvertCases(t, List, []convertCase{
		{`["a", "b"]`, []any{"a", "b"}, ""},
		{`[1, 2.5, {"k": 3}]`, []any{1, 2.5, map[string]any{"k": 3}}, ""}, // numbers become Go ints/floats
		{`[]`, []any{}, ""},
		{`"a,b"`, []any{"a", "b"}, ""},
		{`"a, b"`, []any{"a", " b"}, ""}, // Ansible does not strip
		{`"a,,b,"`, []any{"a", "", "b", ""}, ""},
		{`"single"`, []any{"single"}, ""},
		{`""`, []any{""}, ""},
		{`5`, []any{"5"}, ""},
		{`1.5`, []any{"1.5"}, ""},
		{`1.0`, []any{"1.0"}, ""},
		{`true`, []any{"True"}, ""},
		{`{"a": 1}`, nil, "<class 'dict'> cannot be converted to a list"},
	})
}

func TestConvertDict(t *testing.T) {
	const kvErr = `unable to evaluate string in the "key=value" format as dictionary`
	runConvertCases(t, Dict, []convertCase{
		{`{"a": 1, "b": {"c": [2]}}`, map[string]any{"a": 1, "b": map[string]any{"c": []any{2}}}, ""},
		{`{}`, map[string]any{}, ""},
		{`"{\"a\": 1, \"b\": \"x\"}"`, map[string]any{"a": 1, "b": "x"}, ""},
		{`"{}"`, map[string]any{}, ""},
		{`"a=1 b=2"`, map[string]any{"a": "1", "b": "2"}, ""},
		{`"a=1,b=2"`, map[string]any{"a": "1", "b": "2"}, ""},
		{`"  a=1 ,  b=2  "`, map[string]any{"a": "1", "b": "2"}, ""},
		{`"a=x=y"`, map[string]any{"a": "x=y"}, ""},
		{`"msg='hello world' other=\"a, b\""`, map[string]any{"msg": "hello world", "other": "a, b"}, ""},
		{`"a=it\\'s b=c\\ d e=f\\,g"`, map[string]any{"a": "it's", "b": "c d", "e": "f,g"}, ""},
		{`"a='say \"hi\"'"`, map[string]any{"a": `say "hi"`}, ""},
		{`"=v"`, map[string]any{"": "v"}, ""},
		// A dict templated into a string reaches the module in Python's repr.
		{`"{'a': 1, 'b': [True, None, 'x'], 'c': {'d': -2.5}, 'e': (1,), \"f\": 'it\\'s'}"`,
			map[string]any{"a": 1, "b": []any{true, nil, "x"}, "c": map[string]any{"d": -2.5}, "e": []any{1}, "f": "it's"}, ""},
		{`"{\"a\": 1} junk"`, nil, "unable to evaluate string as dictionary"},
		{`"{bad"`, nil, "unable to evaluate string as dictionary"},
		{`"{'a': os.system('x')}"`, nil, "unable to evaluate string as dictionary"},
		{`"{1, 2}"`, nil, "unable to evaluate string as dictionary"},
		{`"a=1 b"`, nil, kvErr},
		{`"plain"`, nil, "dictionary requested, could not parse JSON or key=value"},
		{`""`, nil, "dictionary requested, could not parse JSON or key=value"},
		{`5`, nil, "<class 'int'> cannot be converted to a dict"},
		{`1.5`, nil, "<class 'float'> cannot be converted to a dict"},
		{`true`, nil, "<class 'bool'> cannot be converted to a dict"},
		{`["a=1"]`, nil, "<class 'list'> cannot be converted to a dict"},
	})
}

func TestConvertPath(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	t.Setenv("GUARD_DIR", "/srv/guard")
	t.Setenv("EMPTY_VAR", "")
	root, err := user.Lookup("root")
	if err != nil {
		t.Fatalf("looking up root's home: %v", err)
	}
	runConvertCases(t, Path, []convertCase{
		{`"/etc/x"`, "/etc/x", ""},
		{`"relative/x"`, "relative/x", ""},
		{`"~"`, "/home/tester", ""},
		{`"~/x"`, "/home/tester/x", ""},
		{`"~/a/../b/"`, "/home/tester/a/../b/", ""}, // kept as written, not cleaned
		{`"~root/x"`, root.HomeDir + "/x", ""},
		{`"~no_such_user_zz/x"`, "~no_such_user_zz/x", ""},
		{`"a/~/b"`, "a/~/b", ""},
		{`"$GUARD_DIR/lock"`, "/srv/guard/lock", ""},
		{`"${GUARD_DIR}lock"`, "/srv/guardlock", ""},
		{`"x$EMPTY_VAR/y"`, "x/y", ""},
		{`"$NO_SUCH_VAR_ZZ/y"`, "$NO_SUCH_VAR_ZZ/y", ""},
		{`"${NO_SUCH_VAR_ZZ}/y"`, "${NO_SUCH_VAR_ZZ}/y", ""},
		{`"a$-b$$c$"`, "a$-b$$c$", ""},
		{`"~/$GUARD_DIR"`, "/home/tester//srv/guard", ""},
		{`5`, "5", ""},
		{`null`, nil, "'None' is not a string and conversion is not allowed"},
		{`"/run/guard\u0000x"`, nil, "the path contains a NUL byte"},
		{`"\u0000"`, nil, "the path contains a NUL byte"},
	})
	// $HOME in the value expands before ~ does, as in Python.
	t.Setenv("TILDE", "~")
	if got, _ := Convert(Path, "$TILDE/x"); got != "/home/tester/x" {
		t.Errorf(`Convert(path, "$TILDE/x") = %q, want /home/tester/x`, got)
	}
}

func TestConvertRaw(t *testing.T) {
	runConvertCases(t, Raw, []convertCase{
		{`1`, 1, ""},
		{`1.5`, 1.5, ""},
		{`"1"`, "1", ""},
		{`true`, true, ""},
		{`null`, nil, ""},
		{`[1, "a"]`, []any{1, "a"}, ""},
		{`{"a": [1.0]}`, map[string]any{"a": []any{1.0}}, ""},
	})
}

func TestConvertUnknownType(t *testing.T) {
	if _, err := Convert("bytes", "1M"); err == nil || !strings.Contains(err.Error(), `unknown option type "bytes"`) {
		t.Fatalf("Convert(bytes) error = %v, want an unknown type error", err)
	}
}

func TestPyFloatMatchesPythonRepr(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1.0", -0.5: "-0.5", 1e16: "1e+16", 1.5e-5: "1.5e-05", 0.0001: "0.0001",
		123456789.125: "123456789.125", math.Copysign(0, -1): "-0.0", 1e22: "1e+22",
		math.Inf(1): "inf", math.Inf(-1): "-inf", math.NaN(): "nan", 0.1: "0.1",
	} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestPyQuoteMatchesPythonRepr(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                `'plain'`,
		"it's":                 `"it's"`,
		`a"b`:                  `'a"b'`,
		`a'b"c`:                `'a\'b"c'`,
		"back\\slash":          `'back\\slash'`,
		"\x00\n\t\x7f":         `'\x00\n\t\x7f'`,
		"é\u200b":              `'é\u200b'`,
		"caf\u00e9 \U0001F600": "'café \U0001F600'",
	} {
		if got := pyQuote(in); got != want {
			t.Errorf("pyQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
