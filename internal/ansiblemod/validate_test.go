package ansiblemod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// invoke runs a module invocation in-process (no stdout juggling): args is
// the JSON text of the args file. With a nil handler the module does
// nothing. It returns the result as Ansible would read it.
func invoke(t *testing.T, spec Spec, args string, h Handler) (map[string]any, bool) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, []byte(args), 0o600); err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = func(*Module) (Result, error) { return nil, nil }
	}
	return execute("qos_guard", spec, h, []string{"/tmp/ansible-tmp/AnsiballZ_qos_guard", path})
}

// validParams returns the options the handler sees, failing the test if
// validation fails.
func validParams(t *testing.T, spec Spec, args string) (map[string]any, *Module) {
	t.Helper()
	var seen *Module
	res, failed := invoke(t, spec, args, func(m *Module) (Result, error) { seen = m; return nil, nil })
	if failed || seen == nil {
		t.Fatalf("validation of %s failed: %v", args, res["msg"])
	}
	return seen.params, seen
}

// failure returns the message of a failed invocation, failing the test if
// it succeeded.
func failure(t *testing.T, spec Spec, args string) string {
	t.Helper()
	called := false
	res, failed := invoke(t, spec, args, func(*Module) (Result, error) { called = true; return nil, nil })
	if !failed || res["failed"] != true {
		t.Fatalf("invocation with %s succeeded, want a failure; result %v", args, res)
	}
	if called {
		t.Fatalf("handler ran although validation of %s failed", args)
	}
	msg, _ := res["msg"].(string)
	return msg
}

var guardSpec = Spec{
	Options: map[string]Option{
		"state":   {Default: "status", Choices: []any{"locked", "unlocked", "status"}},
		"minutes": {Type: Int, Default: 15},
		"argv":    {Type: List, Elements: Str, Aliases: []string{"args"}},
		"cmd":     {},
		"token":   {NoLog: true, Aliases: []string{"api_token"}},
	},
	MutuallyExclusive: [][]string{{"argv", "cmd"}},
}

func TestValidationErrors(t *testing.T) {
	const guardSupported = "Supported parameters include: argv, cmd, minutes, state, token (api_token, args)."
	for _, c := range []struct {
		name string
		spec Spec
		args string
		want string
	}{
		{"int from text", guardSpec, `{"minutes": "abc"}`,
			"argument 'minutes' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{"int from fraction", guardSpec, `{"minutes": 42.5}`,
			"argument 'minutes' is of type <class 'float'> and we were unable to convert to int: <class 'float'> cannot be converted to an int"},
		{"int from hex", guardSpec, `{"minutes": "0x10"}`,
			"argument 'minutes' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{"choices", guardSpec, `{"state": "foo"}`,
			"value of state must be one of: locked, unlocked, status, got: foo"},
		{"mutually exclusive", guardSpec, `{"argv": ["a"], "cmd": "x"}`,
			"parameters are mutually exclusive: argv|cmd"},
		{"mutually exclusive through an alias", guardSpec, `{"args": "a", "cmd": "x"}`,
			"parameters are mutually exclusive: argv|cmd"},
		{"unknown option", guardSpec, `{"bogus": 1}`,
			"Unsupported parameters for (qos_guard) module: bogus. " + guardSupported},
		{"unknown options sorted", guardSpec, `{"zeta": 1, "alpha": 2, "minutes": 3}`,
			"Unsupported parameters for (qos_guard) module: alpha, zeta. " + guardSupported},
		{"module name from Ansible", guardSpec, `{"bogus": 1, "_ansible_module_name": "threader.guard.qos_guard"}`,
			"Unsupported parameters for (threader.guard.qos_guard) module: bogus. " + guardSupported},
		{"another error before the unknown option", guardSpec, `{"bogus": 1, "state": "foo"}`,
			"value of state must be one of: locked, unlocked, status, got: foo"},
		{"another error despite ignore_unknown_opts", guardSpec, `{"bogus": 1, "minutes": "x", "_ansible_ignore_unknown_opts": true}`,
			"argument 'minutes' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{"elements", guardSpec, `{"argv": ["a", null]}`,
			"Elements value for option 'argv' is of type <class 'NoneType'> and we were unable to convert to str: 'None' is not a string and conversion is not allowed"},
		{"elements int", Spec{Options: map[string]Option{"ports": {Type: List, Elements: Int}}}, `{"ports": [80, "x"]}`,
			"Elements value for option 'ports' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"},
		{"list from dict", guardSpec, `{"argv": {"a": 1}}`,
			"argument 'argv' is of type <class 'dict'> and we were unable to convert to list: <class 'dict'> cannot be converted to a list"},
		{"bool", Spec{Options: map[string]Option{"force": {Type: Bool}}}, `{"force": "maybe"}`,
			"argument 'force' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' is not a valid boolean.  Valid booleans include: 'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0"},
		{"dict", Spec{Options: map[string]Option{"labels": {Type: Dict}}}, `{"labels": "nope"}`,
			"argument 'labels' is of type <class 'str'> and we were unable to convert to dict: dictionary requested, could not parse JSON or key=value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := failure(t, c.spec, c.args); got != c.want {
				t.Errorf("message:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"b": {Required: true}, "a": {Required: true}, "c": {Required: true, Type: Int}, "d": {},
	}}
	if got, want := failure(t, spec, `{"c": 1}`), "missing required arguments: a, b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// null counts as absent: Ansible 2.14 would let None through here.
	if got, want := failure(t, spec, `{"a": "x", "b": null, "c": null}`), "missing required arguments: b, c"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// An alias satisfies required.
	aliased := Spec{Options: map[string]Option{"name": {Required: true, Aliases: []string{"n"}}}}
	if p, _ := validParams(t, aliased, `{"n": "x"}`); p["name"] != "x" {
		t.Errorf("name = %v, want x", p["name"])
	}
}

func TestDefaultsAndNulls(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"minutes": {Type: Int, Default: 15},
		"reason":  {},
		"tags":    {Type: List, Default: []string{"a", "b"}}, // Go-typed defaults are fine
		"limit":   {Type: Int, Default: int64(5)},
		"ratio":   {Type: Float, Default: float32(0.5)},
		"labels":  {Type: Dict, Default: map[string]string{"k": "v"}},
		"force":   {Type: Bool, Default: "yes"}, // defaults are converted too
	}}
	want := map[string]any{
		"minutes": 15, "reason": nil, "tags": []any{"a", "b"}, "limit": 5, "ratio": 0.5,
		"labels": map[string]any{"k": "v"}, "force": true,
	}
	for _, args := range []string{`{}`, `{"minutes": null, "reason": null}`} {
		p, m := validParams(t, spec, args)
		if diff := cmp.Diff(want, p); diff != "" {
			t.Errorf("params for %s (-want +got):\n%s", args, diff)
		}
		if _, ok := p["reason"]; !ok {
			t.Error("an option without value or default must still be present (as nil)")
		}
		if m.Provided("minutes") || m.IsSet("reason") || !m.IsSet("minutes") {
			t.Errorf("Provided(minutes)=%v IsSet(reason)=%v IsSet(minutes)=%v", m.Provided("minutes"), m.IsSet("reason"), m.IsSet("minutes"))
		}
	}
	p, m := validParams(t, spec, `{"minutes": "30"}`)
	if p["minutes"] != 30 || !m.Provided("minutes") {
		t.Errorf("minutes = %v (provided %v), want 30 provided", p["minutes"], m.Provided("minutes"))
	}
}

func TestChoices(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"mode":     {Choices: []any{"yes", "no", "auto"}},
		"ambig":    {Choices: []any{"yes", "on", "off"}},
		"level":    {Type: Int, Choices: []any{1, 2, 3}},
		"ratio":    {Type: Float, Choices: []any{1, 2}},
		"features": {Type: List, Choices: []any{"a", "b"}},
	}}
	// YAML turned "yes" into true; the str option got "True"; Ansible maps it
	// back to the one choice that means true.
	p, _ := validParams(t, spec, `{"mode": true, "level": "2", "ratio": 1.0, "features": "a,b,a"}`)
	if diff := cmp.Diff(map[string]any{"mode": "yes", "ambig": nil, "level": 2, "ratio": 1.0, "features": []any{"a", "b", "a"}}, p); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	if p, _ := validParams(t, spec, `{"mode": false}`); p["mode"] != "no" {
		t.Errorf("mode from false = %v, want no", p["mode"])
	}
	for args, want := range map[string]string{
		`{"ambig": true}`:         "value of ambig must be one of: yes, on, off, got: True",
		`{"level": 5}`:            "value of level must be one of: 1, 2, 3, got: 5",
		`{"features": "a,x,y"}`:   "value of features must be one or more of: a, b. Got no match for: x, y",
		`{"features": ["b", 7]}`:  "value of features must be one or more of: a, b. Got no match for: 7",
		`{"mode": "Yes"}`:         "value of mode must be one of: yes, no, auto, got: Yes",
		`{"mode": 1}`:             "value of mode must be one of: yes, no, auto, got: 1",
		`{"mode": "yes", "z": 1}`: "Unsupported parameters for (qos_guard) module: z. Supported parameters include: ambig, features, level, mode, ratio.",
	} {
		if got := failure(t, spec, args); got != want {
			t.Errorf("%s:\n got %q\nwant %q", args, got, want)
		}
	}
}

func TestAliases(t *testing.T) {
	p, m := validParams(t, guardSpec, `{"args": "a,b"}`)
	if diff := cmp.Diff([]any{"a", "b"}, p["argv"]); diff != "" || len(m.warnings) != 0 {
		t.Errorf("argv (-want +got):\n%s; warnings %v", diff, m.warnings)
	}
	if _, ok := p["args"]; ok {
		t.Error("the alias key must not reach the handler")
	}
	if !m.Provided("argv") {
		t.Error("an option given through its alias is provided")
	}
	// Both given: the alias wins, with Ansible's warning.
	p, m = validParams(t, guardSpec, `{"argv": ["canonical"], "args": ["alias"]}`)
	if diff := cmp.Diff([]any{"alias"}, p["argv"]); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Both option argv and its alias args are set."}, m.warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	// Two aliases: the last one listed wins, as in Ansible.
	two := Spec{Options: map[string]Option{"a": {Aliases: []string{"b", "c"}}}}
	p, m = validParams(t, two, `{"b": "1", "c": "2"}`)
	if p["a"] != "2" || len(m.warnings) != 1 || m.warnings[0] != "Both option a and its alias c are set." {
		t.Errorf("a = %v, warnings %v", p["a"], m.warnings)
	}
}

func TestEnvFallback(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"token":   {NoLog: true, Aliases: []string{"api_token"}, EnvFallback: []string{"GUARD_TOKEN_A", "GUARD_TOKEN_B"}},
		"minutes": {Type: Int, Default: 15, EnvFallback: []string{"GUARD_MINUTES"}},
	}}
	t.Setenv("GUARD_TOKEN_B", "from-env-b")
	t.Setenv("GUARD_MINUTES", "20")
	p, m := validParams(t, spec, `{}`)
	if p["token"] != "from-env-b" || p["minutes"] != 20 {
		t.Errorf("params = %v, want token from GUARD_TOKEN_B and minutes 20 (converted)", p)
	}
	if got := m.Mask("x from-env-b"); got != "x ********" {
		t.Errorf("a no_log value from the environment must be masked; got %q", got)
	}
	t.Setenv("GUARD_TOKEN_A", "from-env-a")
	if p, _ := validParams(t, spec, `{}`); p["token"] != "from-env-a" {
		t.Errorf("token = %v, want the first variable that is set", p["token"])
	}
	if p, _ := validParams(t, spec, `{"token": "given"}`); p["token"] != "given" {
		t.Errorf("token = %v, want the given value over the environment", p["token"])
	}
	p, m = validParams(t, spec, `{"api_token": "via-alias"}`)
	if p["token"] != "via-alias" || len(m.warnings) != 0 {
		t.Errorf("token = %v, warnings %v; an alias counts as given, without a warning", p["token"], m.warnings)
	}
	t.Setenv("GUARD_MINUTES", "soon")
	if got, want := failure(t, spec, `{}`), "argument 'minutes' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDependencies(t *testing.T) {
	spec := Spec{
		Options: map[string]Option{
			"state": {Choices: []any{"present", "absent", "locked"}}, "path": {}, "content": {},
			"reason": {}, "owner": {}, "cert": {}, "key": {}, "ca": {},
			"force": {Type: Bool}, "minutes": {Type: Int}, "argv": {Type: List}, "cmd": {},
			"a": {}, "b": {}, "c": {}, "d": {Default: "x"},
		},
		MutuallyExclusive: [][]string{{"argv", "cmd"}, {"a", "b"}, {"c", "d"}},
		RequiredTogether:  [][]string{{"cert", "key"}},
		RequiredOneOf:     [][]string{{"argv", "cmd"}},
		RequiredIf: []RequiredIf{
			{Key: "state", Value: "locked", Requirements: []string{"reason", "owner"}},
			{Key: "state", Value: "present", Requirements: []string{"path", "content"}, Any: true},
			{Key: "force", Value: true, Requirements: []string{"reason"}},
			{Key: "minutes", Value: 0, Requirements: []string{"owner"}},
		},
		RequiredBy: map[string][]string{"ca": {"cert", "key"}},
	}
	for args, want := range map[string]string{
		`{"argv": ["a"], "cmd": "x"}`:                 "parameters are mutually exclusive: argv|cmd",
		`{"argv": ["a"], "cmd": "x", "a": 1, "b": 2}`: "parameters are mutually exclusive: argv|cmd, a|b",
		`{}`:                        "one of the following is required: argv, cmd",
		`{"cmd": "x", "cert": "c"}`: "parameters are required together: cert, key",
		`{"cmd": "x", "state": "locked", "reason": "r"}`: "state is locked but all of the following are missing: owner",
		`{"cmd": "x", "state": "locked"}`:                "state is locked but all of the following are missing: reason, owner",
		`{"cmd": "x", "state": "present"}`:               "state is present but any of the following are missing: path, content",
		`{"cmd": "x", "force": "yes"}`:                   "force is True but all of the following are missing: reason",
		`{"cmd": "x", "minutes": "0"}`:                   "minutes is 0 but all of the following are missing: owner",
		`{"cmd": "x", "ca": "c", "cert": "c"}`:           "parameters are required together: cert, key",
		`{"cmd": "x", "ca": "c"}`:                        "missing parameter(s) required by 'ca': cert, key",
	} {
		if got := failure(t, spec, args); got != want {
			t.Errorf("%s:\n got %q\nwant %q", args, got, want)
		}
	}
	for _, ok := range []string{
		`{"cmd": "x", "c": "given"}`, // mutually_exclusive is checked before defaults
		`{"cmd": "x", "state": "present", "content": "c"}`,
		`{"cmd": "x", "state": "locked", "reason": "r", "owner": "o"}`,
		`{"cmd": "x", "force": "no"}`,
		`{"cmd": "x", "minutes": 5}`,
		`{"cmd": "x", "ca": "c", "cert": "c", "key": "k"}`,
		`{"argv": "a", "cert": null, "key": null}`, // nulls are absent
	} {
		validParams(t, spec, ok)
	}
}

func TestInternalKeysAndUnknownOptions(t *testing.T) {
	internal := `"_ansible_check_mode": false, "_ansible_no_log": false, "_ansible_debug": false,
		"_ansible_diff": false, "_ansible_verbosity": 3, "_ansible_version": "2.14.18",
		"_ansible_module_name": "threader.guard.qos_guard", "_ansible_syslog_facility": "LOG_USER",
		"_ansible_selinux_special_fs": ["fuse"], "_ansible_string_conversion_action": "warn",
		"_ansible_socket": null, "_ansible_shell_executable": "/bin/sh", "_ansible_keep_remote_files": false,
		"_ansible_tmpdir": "/tmp/x", "_ansible_remote_tmp": "~/.ansible/tmp", "_ansible_target_log_info": null,
		"_ansible_some_future_key": {"x": 1}`
	p, _ := validParams(t, guardSpec, `{"state": "locked", `+internal+`}`)
	for k := range p {
		if strings.HasPrefix(k, "_ansible_") {
			t.Errorf("internal key %s reached the handler", k)
		}
	}
	if p["state"] != "locked" {
		t.Errorf("state = %v", p["state"])
	}
	p, _ = validParams(t, guardSpec, `{"bogus": 1, "nested.x": 2, "_ansible_ignore_unknown_opts": true}`)
	if _, ok := p["bogus"]; ok {
		t.Error("an ignored unknown option must not reach the handler")
	}
	for _, v := range []string{`"yes"`, `"True"`, `1`} {
		validParams(t, guardSpec, `{"bogus": 1, "_ansible_ignore_unknown_opts": `+v+`}`)
	}
	failure(t, guardSpec, `{"bogus": 1, "_ansible_ignore_unknown_opts": false}`)
}

func TestSubOptions(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"target": {Type: Dict, Options: map[string]Option{
			"host":   {Required: true},
			"port":   {Type: Int, Default: 9090},
			"scheme": {Choices: []any{"http", "https"}, Aliases: []string{"proto"}},
			"auth": {Type: Dict, Options: map[string]Option{
				"user":     {},
				"password": {NoLog: true},
				"timeout":  {Type: Int},
			}, RequiredTogether: [][]string{{"user", "password"}}},
		}},
		"checks": {Type: List, Elements: Dict, Options: map[string]Option{
			"name":  {Required: true, Aliases: []string{"n"}},
			"ports": {Type: List, Elements: Int},
			"token": {NoLog: true},
		}, MutuallyExclusive: [][]string{{"ports", "token"}}},
		"extra": {Type: Dict, ApplyDefaults: true, Options: map[string]Option{"retries": {Type: Int, Default: 3}}},
		"bare":  {Type: Dict, Options: map[string]Option{"x": {Default: "d"}}},
	}}

	p, m := validParams(t, spec, `{
		"target": {"host": "h", "port": "8080", "proto": "https", "auth": "user=u password=pw"},
		"checks": [{"name": "a", "ports": ["1", 2]}, "n=b"]}`)
	want := map[string]any{
		"target": map[string]any{
			"host": "h", "port": 8080, "scheme": "https",
			"auth": map[string]any{"user": "u", "password": "pw", "timeout": nil},
		},
		"checks": []any{
			map[string]any{"name": "a", "ports": []any{1, 2}, "token": nil},
			map[string]any{"name": "b", "ports": nil, "token": nil},
		},
		"extra": map[string]any{"retries": 3},
		"bare":  nil, // without ApplyDefaults an absent dict stays absent
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	if got := m.Mask("pw is the password"); got != "******** is the password" {
		t.Errorf("a nested no_log value must be masked, got %q", got)
	}

	for args, want := range map[string]string{
		`{"target": {}}`:                                                    "missing required arguments: host found in target",
		`{"target": {"host": "h", "port": "x"}}`:                            "argument 'port' is of type <class 'str'> found in 'target'. and we were unable to convert to int: <class 'str'> cannot be converted to an int",
		`{"target": {"host": "h", "scheme": "ftp"}}`:                        "value of scheme must be one of: http, https, got: ftp found in target",
		`{"target": {"host": "h", "auth": {"timeout": "q"}}}`:               "argument 'timeout' is of type <class 'str'> found in 'target -> auth'. and we were unable to convert to int: <class 'str'> cannot be converted to an int",
		`{"target": {"host": "h", "auth": {"user": "u"}}}`:                  "parameters are required together: user, password found in target -> auth",
		`{"checks": [{"name": "a"}, {"ports": [1]}]}`:                       "missing required arguments: name found in checks",
		`{"checks": [{"name": "a", "ports": ["x"]}]}`:                       "Elements value for option 'ports' found in 'checks' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int",
		`{"checks": [{"name": "a", "ports": [1], "token": "zq-secret-1"}]}`: "parameters are mutually exclusive: ports|token found in checks",
		`{"checks": [null]}`:                                                "Elements value for option 'checks' is of type <class 'NoneType'> and we were unable to convert to dict: <class 'NoneType'> cannot be converted to a dict",
		`{"checks": {"name": "a"}}`:                                         "argument 'checks' is of type <class 'dict'> and we were unable to convert to list: <class 'dict'> cannot be converted to a list",
		`{"target": "nonsense"}`:                                            "argument 'target' is of type <class 'str'> and we were unable to convert to dict: dictionary requested, could not parse JSON or key=value",
		`{"target": {"host": "h", "zz": 1}}`:                                "Unsupported parameters for (qos_guard) module: target.zz. Supported parameters include: auth, host, port, scheme (proto).",
		`{"target": {"host": "h", "auth": {"zz": 1}}, "top": 1}`:            "Unsupported parameters for (qos_guard) module: target.auth.zz, top. Supported parameters include: bare, checks, extra, target.",
		`{"checks": [{"name": "a", "zz": 1}]}`:                              "Unsupported parameters for (qos_guard) module: checks.zz. Supported parameters include: name, ports, token (n).",
		`{"target": {"zz": 1}}`:                                             "missing required arguments: host found in target", // unknown options are reported last
		`{"target": {"host": "h", "port": "x"}, "checks": "oops"}`:          "Elements value for option 'checks' is of type <class 'str'> and we were unable to convert to dict: dictionary requested, could not parse JSON or key=value",
	} {
		if got := failure(t, spec, args); got != want {
			t.Errorf("%s:\n got %q\nwant %q", args, got, want)
		}
	}

	_, m = validParams(t, spec, `{"checks": [{"name": "a", "n": "b"}], "target": {"host": "h", "scheme": "http", "proto": "https"}}`)
	wantWarnings := []string{
		"Both option checks[0].name and its alias checks[0].n are set.",
		"Both option target.scheme and its alias target.proto are set.",
	}
	if diff := cmp.Diff(wantWarnings, m.warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	p, _ = validParams(t, spec, `{"target": {"host": "h", "zz": 1}, "_ansible_ignore_unknown_opts": true}`)
	if _, ok := p["target"].(map[string]any)["zz"]; ok {
		t.Error("an ignored unknown sub-option must not reach the handler")
	}
}

func TestSpecErrors(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Options: map[string]Option{"x": {Required: true, Default: 1}}},
			"internal error: required and default are mutually exclusive for x"},
		{Spec{Options: map[string]Option{"x": {Type: Str, Elements: Int}}},
			"internal error: option x sets elements, which is only supported with type list"},
		{Spec{Options: map[string]Option{"x": {Type: "bytes"}}},
			`internal error: option x has unknown type "bytes"`},
		{Spec{Options: map[string]Option{"x": {Type: List, Elements: "bits"}}},
			`internal error: option x has unknown elements type "bits"`},
		{Spec{Options: map[string]Option{"x": {Type: Str, Options: map[string]Option{"y": {}}}}},
			"internal error: option x has sub-options but is not of type dict or list with elements dict"},
		{Spec{Options: map[string]Option{"api_password": {}}},
			"internal error: option api_password looks like a secret but does not set NoLog (set LogSafe if it holds none)"},
		{Spec{Options: map[string]Option{"o": {Type: Dict, Options: map[string]Option{"pass": {}}}}},
			"internal error: option o.pass looks like a secret but does not set NoLog (set LogSafe if it holds none)"},
		{Spec{Options: map[string]Option{"o": {Type: List, Elements: Dict, Options: map[string]Option{"y": {Required: true, Default: "d"}}}}},
			"internal error: required and default are mutually exclusive for o.y"},
		{Spec{Options: map[string]Option{"a": {}}, MutuallyExclusive: [][]string{{"a", "b"}}},
			"internal error: mutually_exclusive refers to b, which is not an option"},
		{Spec{Options: map[string]Option{"a": {}}, RequiredIf: []RequiredIf{{Key: "state", Value: "x", Requirements: []string{"a"}}}},
			"internal error: required_if refers to state, which is not an option"},
		{Spec{Options: map[string]Option{"o": {Type: Dict, Options: map[string]Option{"a": {}}, RequiredBy: map[string][]string{"a": {"c"}}}}},
			"internal error: required_by refers to o.c, which is not an option"},
	} {
		if got := failure(t, c.spec, `{}`); got != c.want {
			t.Errorf("got %q\nwant %q", got, c.want)
		}
	}
	ok := Spec{Options: map[string]Option{
		"password_file": {Type: Path, LogSafe: true}, "passphrase": {NoLog: true}, "bypass": {}, "passthrough": {},
	}}
	validParams(t, ok, `{}`)
}

func TestModuleAccessors(t *testing.T) {
	spec := Spec{Options: map[string]Option{
		"s": {}, "p": {Type: Path}, "i": {Type: Int}, "f": {Type: Float}, "b": {Type: Bool},
		"l": {Type: List}, "li": {Type: List, Elements: Int}, "d": {Type: Dict}, "r": {Type: Raw},
		"unset": {},
	}}
	_, m := validParams(t, spec, `{"s": 5, "p": "/x", "i": "3", "f": "2.5", "b": "on", "l": "a,b",
		"li": ["1", 2], "d": "k=v", "r": [1, {"a": 2.5}]}`)
	if m.Str("s") != "5" || m.Str("p") != "/x" || m.Int("i") != 3 || m.Float("f") != 2.5 || !m.Bool("b") {
		t.Errorf("scalars: %q %q %d %v %v", m.Str("s"), m.Str("p"), m.Int("i"), m.Float("f"), m.Bool("b"))
	}
	if diff := cmp.Diff([]string{"a", "b"}, m.Strings("l")); diff != "" {
		t.Errorf("Strings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2}, m.Ints("li")); diff != "" {
		t.Errorf("Ints (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"k": "v"}, m.Dict("d")); diff != "" {
		t.Errorf("Dict (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{1, map[string]any{"a": 2.5}}, m.Raw("r")); diff != "" {
		t.Errorf("Raw (-want +got):\n%s", diff)
	}
	if m.Str("unset") != "" || m.IsSet("unset") || m.Provided("unset") || m.List("unset") != nil {
		t.Error("an unset option reads as the zero value")
	}
	// Asking for an option the spec lacks is a bug in the module: the run
	// fails with a clear message rather than crashing.
	res, failed := invoke(t, spec, `{}`, func(m *Module) (Result, error) { m.Str("nope"); return nil, nil })
	if !failed || !strings.Contains(res["msg"].(string), `option "nope" is not in the module's spec`) {
		t.Errorf("result %v", res)
	}
}
