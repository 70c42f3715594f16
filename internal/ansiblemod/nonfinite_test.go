package ansiblemod

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Ansible's controller encodes module arguments with Python's json.dumps,
// which writes a task's .nan and .inf as the bare words NaN and Infinity.
// They used to make the whole args file unreadable ("not a JSON object",
// naming no option); now the option's conversion refuses them by name.

var numberSpec = Spec{Options: map[string]Option{
	"ratio":   {Type: Float},
	"minutes": {Type: Int},
	"label":   {Type: Str},
	"raw":     {Type: Raw},
	"rcs":     {Type: List, Elements: Int},
}}

func TestNonFiniteArgsNameTheOption(t *testing.T) {
	for args, want := range map[string]string{
		`{"ratio": NaN}`:              "argument 'ratio' is of type <class 'float'> and we were unable to convert to float: nan is not a finite number",
		`{"ratio": Infinity}`:         "argument 'ratio' is of type <class 'float'> and we were unable to convert to float: inf is not a finite number",
		`{"ratio":-Infinity}`:         "argument 'ratio' is of type <class 'float'> and we were unable to convert to float: -inf is not a finite number",
		`{"ratio": "NaN"}`:            "argument 'ratio' is of type <class 'str'> and we were unable to convert to float: 'NaN' is not a finite number",
		`{"ratio": 1e999}`:            "argument 'ratio' is of type <class 'float'> and we were unable to convert to float: inf is not a finite number",
		`{"minutes": Infinity}`:       "argument 'minutes' is of type <class 'float'> and we were unable to convert to int: <class 'float'> cannot be converted to an int",
		`{"rcs": [1, NaN]}`:           "Elements value for option 'rcs' is of type <class 'float'> and we were unable to convert to int: <class 'float'> cannot be converted to an int",
		`{"ratio": [NaN]}`:            "argument 'ratio' is of type <class 'list'> and we were unable to convert to float: <class 'list'> cannot be converted to a float",
		`{"minutes": 1, "ratio":NaN}`: "argument 'ratio' is of type <class 'float'> and we were unable to convert to float: nan is not a finite number",
	} {
		if got := failure(t, numberSpec, args); got != want {
			t.Errorf("%s:\n got %q\nwant %q", args, got, want)
		}
	}
}

func TestNonFiniteArgsAsOtherTypes(t *testing.T) {
	// As in Python: str(float('nan')) is 'nan'; raw keeps the number.
	params, _ := validParams(t, numberSpec, `{"label": NaN, "raw": {"a": [Infinity]}}`)
	if params["label"] != "nan" {
		t.Errorf("label = %#v, want \"nan\"", params["label"])
	}
	raw, _ := params["raw"].(map[string]any)
	if list, _ := raw["a"].([]any); len(list) != 1 || !isPosInf(list[0]) {
		t.Errorf("raw = %#v, want {a: [+Inf]}", params["raw"])
	}
}

func isPosInf(v any) bool { f, ok := v.(float64); return ok && math.IsInf(f, 1) }

func TestDecodeJSONObjectNonFiniteTokens(t *testing.T) {
	for text, want := range map[string]map[string]any{
		`{"a": NaN}`:                        {"a": math.NaN()},
		`{"a":[Infinity,-Infinity]}`:        {"a": []any{math.Inf(1), math.Inf(-1)}},
		`{"s": "NaN Infinity -Infinity"}`:   {"s": "NaN Infinity -Infinity"},
		`{"s": "a \" NaN", "n": NaN}`:       {"s": `a " NaN`, "n": math.NaN()},
		`{"s": "\\", "n": {"m": Infinity}}`: {"s": `\`, "n": map[string]any{"m": math.Inf(1)}},
		`{"NaN": 1}`:                        {"NaN": json.Number("1")},
	} {
		got, err := decodeJSONObject([]byte(text))
		if err != nil {
			t.Errorf("%s: %v", text, err)
			continue
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", text, diff)
		}
	}
	// Still no JSON: a bare word as a key, other words, a NaN prefix, NaN
	// outside the object.
	for _, text := range []string{`{NaN: 1}`, `{"a": Nan}`, `{"a": NaNa}`, `{"a": nan}`, `{"a": +Infinity}`, `{"a": 1} NaN`, `NaN`, `{"a": Infinity`} {
		if got, err := decodeJSONObject([]byte(text)); err == nil {
			t.Errorf("%s decodes to %v, want an error", text, got)
		}
	}
}

func TestRunStdinNonFinite(t *testing.T) {
	p := runScenarioWithStdin(t, `{"minutes": Infinity}`, "stdin", "threader-guard")
	res := oneObject(t, p)
	if msg, _ := res["msg"].(string); p.code != 1 || !strings.HasPrefix(msg, "argument 'minutes' is of type <class 'float'>") {
		t.Errorf("exit %d, result %v", p.code, res)
	}
}

// A number beyond float64 (Python's json.dumps of 10**400, from a template)
// is refused by name, and the failed result, which echoes it in invocation,
// can still be encoded: it used to hold +Inf, which made Run report an
// internal error instead of the option.
func TestHugeNumberInFailedArgsEncodes(t *testing.T) {
	huge := "1" + strings.Repeat("0", 400)
	for _, args := range []string{`{"minutes": ` + huge + `}`, `{"minutes": 1e400}`, `{"minutes": -1e400, "raw": [1e999]}`} {
		res, failed := invoke(t, numberSpec, args, nil)
		if _, err := json.Marshal(res); err != nil || !failed {
			t.Fatalf("%.40s: failed=%v, result cannot be encoded: %v", args, failed, err)
		}
		if msg, _ := res["msg"].(string); !strings.HasPrefix(msg, "argument 'minutes' is of type <class '") {
			t.Errorf("%.40s: msg %q", args, msg)
		}
		if inv, _ := res["invocation"].(map[string]any)["module_args"].(map[string]any); inv["minutes"] != "Infinity" && inv["minutes"] != "-Infinity" {
			t.Errorf("%.40s: invocation minutes = %#v", args, inv["minutes"])
		}
	}
}
