package ansiblemod

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const secret = "hunter2-xyz"

var secretSpec = Spec{
	Options: map[string]Option{
		"token":   {NoLog: true, Aliases: []string{"api_token"}},
		"pin":     {Type: Int, NoLog: true},
		"flag":    {Type: Bool, NoLog: true},
		"name":    {},
		"minutes": {Type: Int, Default: 15},
	},
	SupportsCheckMode: true,
}

func TestArgsFileProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no argument", []string{"AnsiballZ_x"}, "No argument file provided"},
		{"missing file", []string{"x", filepath.Join(dir, "nope")}, "cannot read the module arguments: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"unreadable (a directory)", []string{"x", dir}, "cannot read the module arguments: read " + dir + ": is a directory"},
		{"not JSON", []string{"x", write("text", "state=locked")}, "the module arguments in " + filepath.Join(dir, "text") + " are not a JSON object: invalid character 's' looking for beginning of value"},
		{"empty", []string{"x", write("empty", "")}, "the module arguments in " + filepath.Join(dir, "empty") + " are not a JSON object: it is empty"},
		{"null", []string{"x", write("null", "null")}, "the module arguments in " + filepath.Join(dir, "null") + " are not a JSON object: it is null, not an object"},
		{"array", []string{"x", write("array", `[1]`)}, "the module arguments in " + filepath.Join(dir, "array") + " are not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{"two objects", []string{"x", write("two", `{} {}`)}, "the module arguments in " + filepath.Join(dir, "two") + " are not a JSON object: unexpected text after the JSON object at offset 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			res, failed := execute("qos_guard", secretSpec, func(*Module) (Result, error) { called = true; return nil, nil }, c.args)
			want := map[string]any{"changed": false, "failed": true, "msg": c.want}
			if diff := cmp.Diff(want, res); diff != "" || !failed || called {
				t.Errorf("failed=%v called=%v result (-want +got):\n%s", failed, called, diff)
			}
		})
	}
}

func TestWrappedArgs(t *testing.T) {
	p, _ := validParams(t, secretSpec, `{"ANSIBLE_MODULE_ARGS": {"name": "n", "_ansible_check_mode": true}}`)
	if p["name"] != "n" {
		t.Errorf("name = %v, want the wrapped value", p["name"])
	}
	var check bool
	invoke(t, secretSpec, `{"ANSIBLE_MODULE_ARGS": {"_ansible_check_mode": true}}`, func(m *Module) (Result, error) { check = m.CheckMode; return nil, nil })
	if !check {
		t.Error("internal keys inside the wrapper must be read")
	}
	// Only a lone ANSIBLE_MODULE_ARGS key is a wrapper.
	msg := failure(t, secretSpec, `{"ANSIBLE_MODULE_ARGS": {}, "name": "n"}`)
	if !strings.HasPrefix(msg, "Unsupported parameters for (qos_guard) module: ANSIBLE_MODULE_ARGS.") {
		t.Errorf("msg = %q", msg)
	}
}

func TestResultFieldsAndInvocation(t *testing.T) {
	res, failed := invoke(t, secretSpec, `{"api_token": "`+secret+`", "pin": "4242", "flag": "yes", "name": "svc", "_ansible_verbosity": 2}`,
		func(m *Module) (Result, error) {
			m.Warn("token %s rejected once", m.Str("token"))
			m.Deprecate("option x is deprecated", "2.0.0")
			return Result{
				"changed": true,
				"echo":    m.Str("token"),
				"header":  "Bearer " + m.Str("token"),
				"pin":     m.Int("pin"),
				"bigger":  142424,
				"nested":  map[string]any{"list": []string{"a", secret}},
				"flag":    m.Bool("flag"),
				"msg":     "done with " + secret,
			}, nil
		})
	want := map[string]any{
		"changed": true,
		"failed":  false,
		"echo":    placeholder,
		"header":  "Bearer " + stars,
		"pin":     placeholder,
		"bigger":  placeholder, // a number whose text contains a secret
		"nested":  map[string]any{"list": []any{"a", placeholder}},
		"flag":    true, // booleans are never masked
		"msg":     "done with " + stars,
		"invocation": map[string]any{"module_args": map[string]any{
			"token": placeholder, "pin": placeholder, "flag": placeholder, "name": "svc", "minutes": 15,
		}},
		"warnings": []any{"token " + stars + " rejected once"},
		"deprecations": []any{map[string]any{
			"msg": "option x is deprecated", "version": "2.0.0", "collection_name": "threader.guard",
		}},
	}
	if diff := cmp.Diff(want, res); diff != "" || failed {
		t.Errorf("failed=%v result (-want +got):\n%s", failed, diff)
	}
}

func TestMinimalResult(t *testing.T) {
	res, failed := invoke(t, Spec{}, `{}`, nil)
	want := map[string]any{"changed": false, "failed": false, "invocation": map[string]any{"module_args": map[string]any{}}}
	if diff := cmp.Diff(want, res); diff != "" || failed {
		t.Errorf("failed=%v result (-want +got):\n%s", failed, diff)
	}
}

func TestValidationErrorsAreMasked(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"flag":  {Type: Bool, NoLog: true},
		"level": {NoLog: true, Choices: []any{"low", "high"}, Aliases: []string{"lvl"}},
		"creds": {Type: Dict, Options: map[string]Option{"key": {NoLog: true, Type: Int}}},
	}}
	for args, want := range map[string]string{
		`{"flag": "` + secret + `"}`: "argument 'flag' is of type <class 'str'> and we were unable to convert to bool: The value '" + stars + "' is not a valid boolean.  Valid booleans include: 'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0",
		`{"lvl": "` + secret + `"}`:  "value of level must be one of: low, high, got: " + stars,
		// the secret is still a JSON string when the error is found
		`{"creds": "{\"key\": \"` + secret + `\"}"}`: "argument 'key' is of type <class 'str'> found in 'creds'. and we were unable to convert to int: <class 'str'> cannot be converted to an int",
	} {
		res, _ := invoke(t, spec, args, nil)
		if res["msg"] != want {
			t.Errorf("%s:\n got %q\nwant %q", args, res["msg"], want)
		}
		if text := pyRepr(res); strings.Contains(text, secret) {
			t.Errorf("%s: the secret leaked: %s", args, text)
		}
	}
	// The failed result still tells what was given, masked.
	res, _ := invoke(t, spec, `{"lvl": "`+secret+`", "other": 1}`, nil)
	wantArgs := map[string]any{"lvl": placeholder, "other": 1}
	if diff := cmp.Diff(map[string]any{"module_args": wantArgs}, res["invocation"]); diff != "" {
		t.Errorf("invocation (-want +got):\n%s", diff)
	}
}

func TestDiff(t *testing.T) {
	withDiff := func(m *Module) (Result, error) {
		m.SetDiff("before\n", "after\n")
		return Result{"changed": true}, nil
	}
	res, _ := invoke(t, Spec{}, `{"_ansible_diff": true}`, withDiff)
	if diff := cmp.Diff(map[string]any{"before": "before\n", "after": "after\n"}, res["diff"]); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
	for _, args := range []string{`{}`, `{"_ansible_diff": false}`} {
		res, _ := invoke(t, Spec{}, args, withDiff)
		if _, ok := res["diff"]; ok {
			t.Errorf("%s: diff reported without --diff", args)
		}
	}
	own := func(*Module) (Result, error) { return Result{"diff": []any{map[string]any{"prepared": "+x"}}}, nil }
	res, _ = invoke(t, Spec{}, `{"_ansible_diff": true}`, own)
	if diff := cmp.Diff([]any{map[string]any{"prepared": "+x"}}, res["diff"]); diff != "" {
		t.Errorf("a handler's own diff must be kept under --diff (-want +got):\n%s", diff)
	}
	res, _ = invoke(t, Spec{}, `{}`, own)
	if _, ok := res["diff"]; ok {
		t.Error("a handler's own diff must be dropped without --diff")
	}
}

func TestTaskFlags(t *testing.T) {
	var seen Module
	record := func(m *Module) (Result, error) { seen = *m; return nil, nil }
	invoke(t, secretSpec, `{"_ansible_check_mode": true, "_ansible_diff": "yes", "_ansible_no_log": 1, "_ansible_module_name": "threader.guard.qos_guard"}`, record)
	if !seen.CheckMode || !seen.DiffMode || !seen.NoLog || seen.Name != "threader.guard.qos_guard" {
		t.Errorf("CheckMode=%v DiffMode=%v NoLog=%v Name=%q", seen.CheckMode, seen.DiffMode, seen.NoLog, seen.Name)
	}
	invoke(t, secretSpec, `{"_ansible_check_mode": "garbage", "_ansible_module_name": 5}`, record)
	if seen.CheckMode || seen.DiffMode || seen.NoLog || seen.Name != "qos_guard" {
		t.Errorf("CheckMode=%v DiffMode=%v NoLog=%v Name=%q", seen.CheckMode, seen.DiffMode, seen.NoLog, seen.Name)
	}
}

func TestCheckModeWithoutSupport(t *testing.T) {
	spec := Spec{Options: map[string]Option{"minutes": {Type: Int}}}
	called := false
	handler := func(*Module) (Result, error) { called = true; return Result{"changed": true}, nil }
	res, failed := invoke(t, spec, `{"minutes": 5, "_ansible_check_mode": true, "_ansible_module_name": "threader.guard.qos_guard"}`, handler)
	want := map[string]any{
		"changed": false, "failed": false, "skipped": true,
		"msg":        "remote module (threader.guard.qos_guard) does not support check mode",
		"invocation": map[string]any{"module_args": map[string]any{"minutes": 5}},
	}
	if diff := cmp.Diff(want, res); diff != "" || failed || called {
		t.Errorf("failed=%v called=%v result (-want +got):\n%s", failed, called, diff)
	}
	// Validation errors still fail under --check.
	if msg := failure(t, spec, `{"minutes": "x", "_ansible_check_mode": true}`); !strings.HasPrefix(msg, "argument 'minutes'") {
		t.Errorf("msg = %q", msg)
	}
	// Without --check the handler runs.
	if _, failed := invoke(t, spec, `{"_ansible_check_mode": false}`, handler); failed || !called {
		t.Errorf("failed=%v called=%v", failed, called)
	}
}

func TestHandlerFailures(t *testing.T) {
	res, failed := invoke(t, secretSpec, `{"token": "`+secret+`"}`, func(m *Module) (Result, error) {
		return Result{"changed": true, "rc": 3, "stdout": "out " + secret, "msg": "replaced"}, errors.New("command failed: " + m.Str("token"))
	})
	if !failed || res["failed"] != true || res["changed"] != true || res["rc"] != 3 ||
		res["stdout"] != "out "+stars || res["msg"] != "command failed: "+stars {
		t.Errorf("failed=%v result %v", failed, res)
	}

	res, failed = invoke(t, Spec{}, `{}`, func(*Module) (Result, error) {
		return Result{"failed": true, "msg": "the handler says so"}, nil
	})
	if !failed || res["failed"] != true || res["msg"] != "the handler says so" {
		t.Errorf("a result with failed: true must fail the task; failed=%v result %v", failed, res)
	}
	res, failed = invoke(t, Spec{}, `{}`, func(*Module) (Result, error) { return Result{"failed": false}, nil })
	if failed || res["failed"] != false {
		t.Errorf("failed=%v result %v", failed, res)
	}

	res, failed = invoke(t, secretSpec, `{"token": "`+secret+`"}`, func(m *Module) (Result, error) {
		panic("kaboom with " + m.Str("token"))
	})
	want := map[string]any{
		"changed": false, "failed": true,
		"msg":        "internal error in module qos_guard: kaboom with " + stars + " (this is a bug; please report it)",
		"invocation": map[string]any{"module_args": map[string]any{"token": placeholder, "pin": nil, "flag": nil, "name": nil, "minutes": 15}},
	}
	if diff := cmp.Diff(want, res); diff != "" || !failed {
		t.Errorf("panic: failed=%v result (-want +got):\n%s", failed, diff)
	}

	var nilMap map[string]int
	res, failed = invoke(t, Spec{}, `{}`, func(*Module) (Result, error) { nilMap["x"] = 1; return nil, nil })
	if msg, _ := res["msg"].(string); !failed || !strings.Contains(msg, "assignment to entry in nil map") {
		t.Errorf("runtime panic: failed=%v result %v", failed, res)
	}
}

func TestNonFiniteFloats(t *testing.T) {
	res, failed := invoke(t, Spec{}, `{}`, func(*Module) (Result, error) {
		return Result{
			"ratio": math.NaN(), "high": math.Inf(1), "low": math.Inf(-1), "ok": 0.25,
			"series": []float64{1, math.NaN()}, "byname": map[string]float32{"x": float32(math.Inf(1))},
			"ptr": ptr(math.NaN()),
		}, nil
	})
	want := map[string]any{
		"changed": false, "failed": false, "invocation": map[string]any{"module_args": map[string]any{}},
		"ratio": "NaN", "high": "Infinity", "low": "-Infinity", "ok": 0.25,
		"series": []any{1, "NaN"}, "byname": map[string]any{"x": "Infinity"}, "ptr": "NaN",
	}
	if diff := cmp.Diff(want, res); diff != "" || failed {
		t.Errorf("failed=%v result (-want +got):\n%s", failed, diff)
	}
	// Inside a struct the value cannot be rewritten: a clear failure, not
	// invalid JSON and not a silent success.
	type sample struct{ Value float64 }
	res, failed = invoke(t, Spec{}, `{}`, func(*Module) (Result, error) { return Result{"s": sample{math.NaN()}}, nil })
	want = map[string]any{"changed": false, "failed": true,
		"msg": "internal error in module qos_guard: the result cannot be encoded as JSON: json: unsupported value: NaN"}
	if diff := cmp.Diff(want, res); diff != "" || !failed {
		t.Errorf("failed=%v result (-want +got):\n%s", failed, diff)
	}
}

func ptr[T any](v T) *T { return &v }

func TestStructResultsAreMasked(t *testing.T) {
	type lease struct {
		Owner string `json:"owner"`
		Token string `json:"token"`
		Count int    `json:"count,omitempty"`
	}
	res, _ := invoke(t, secretSpec, `{"token": "`+secret+`"}`, func(m *Module) (Result, error) {
		return Result{"lease": lease{Owner: "me", Token: m.Str("token")}, "leases": []lease{{Owner: secret}}}, nil
	})
	if diff := cmp.Diff(map[string]any{"owner": "me", "token": placeholder}, res["lease"]); diff != "" {
		t.Errorf("lease (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{map[string]any{"owner": placeholder, "token": ""}}, res["leases"]); diff != "" {
		t.Errorf("leases (-want +got):\n%s", diff)
	}
}
