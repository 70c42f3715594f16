package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The bad-input battery: invalid argument sets for every module, run
// through real ansible-playbook against the installed collection, in one
// playbook (one task per case, ignore_errors) so that more than 300 cases cost one
// ansible-playbook process. Each case must fail, with a message naming the
// option, and without a traceback or panic text anywhere in the result.
// slo_check points at a loopback port that counts connections: a bad option
// must fail before any HTTP request.

// yamlRaw is a value written into the playbook as is (YAML-only spellings
// such as .inf, which JSON has no word for); every other value is written
// as JSON, which YAML reads as the same value.
type yamlRaw string

type badCase struct {
	name   string         // unique; the task's name
	module string         // qos_guard, retry_command, slo_check or canary_judge
	args   map[string]any // merged over the module's base arguments; nil removes a base argument
	option string         // the option the message must name
	want   string         // optional: more text the message must hold
}

// pendingOnMain lists cases whose fix belongs to another part of the code
// and is not on main yet: they run, and one that starts to pass is reported
// so that it is taken off this list. Empty once everything has landed.
var pendingOnMain = map[string]string{}

func badInputCases(guardDir string) []badCase {
	long := strings.Repeat("x", 129)
	huge := strings.Repeat("y", 70*1024)
	hugeInt := "1" + strings.Repeat("0", 400) // beyond float64 too
	var cs []badCase
	add := func(module, name, option, want string, args map[string]any) {
		cs = append(cs, badCase{name: module + ": " + name, module: module, args: args, option: option, want: want})
	}

	// ---- qos_guard ---------------------------------------------------
	q := func(name, option, want string, args map[string]any) { add("qos_guard", name, option, want, args) }
	locked := func(kv ...any) map[string]any { return withKV(map[string]any{"state": "locked"}, kv...) }
	q("state unknown word", "state", "value of state must be one of: locked, unlocked, status, got: open", map[string]any{"state": "open"})
	q("state empty", "state", "must be one of", map[string]any{"state": ""})
	q("state upper case", "state", "got: LOCKED", map[string]any{"state": "LOCKED"})
	q("state list", "state", "must be one of", map[string]any{"state": []any{"locked"}})
	q("state dict", "state", "must be one of", map[string]any{"state": map[string]any{"a": 1}})
	q("state number", "state", "must be one of", map[string]any{"state": 1})
	q("state boolean", "state", "must be one of", map[string]any{"state": true})
	q("state with control character", "state", "must be one of", map[string]any{"state": "locked\u0007"})
	q("path relative", "path", "value of path must be an absolute path, got: relative/guard", locked("path", "relative/guard"))
	q("path empty", "path", "absolute path", locked("path", ""))
	q("path dot", "path", "absolute path", locked("path", "."))
	q("path unknown user home", "path", "absolute path", locked("path", "~no-such-user-xyz/guard"))
	q("path list", "path", "absolute path", locked("path", []any{"a"}))
	q("path number", "path", "absolute path", locked("path", 5))
	q("path dict", "path", "absolute path", locked("path", map[string]any{"a": "/b"}))
	q("path missing directory", "path", "", locked("path", "/nonexistent-threader-dir/guard"))
	q("path is a directory", "path", "", locked("path", guardDir))
	q("path with NUL", "path", "", locked("path", guardDir+"/a\u0000b"))
	q("minutes negative", "minutes", "value of minutes must be greater than 0, got: -5", locked("minutes", -5))
	q("minutes zero", "minutes", "greater than 0", locked("minutes", 0))
	q("minutes word", "minutes", "argument 'minutes' is of type <class 'str'> and we were unable to convert to float", locked("minutes", "soon"))
	q("minutes fraction under a second", "minutes", "value of minutes must be at least 1 second (0.0167 minutes), got: 0.01", locked("minutes", 0.01))
	q("minutes fraction text under a second", "minutes", "must be at least 1 second", locked("minutes", "0.001"))
	q("minutes NaN text", "minutes", "unable to convert to float", locked("minutes", "NaN"))
	q("minutes inf text", "minutes", "unable to convert to float", locked("minutes", "inf"))
	q("minutes -inf text", "minutes", "unable to convert to float", locked("minutes", "-inf"))
	q("minutes YAML inf", "minutes", "unable to convert to float", locked("minutes", yamlRaw(".inf")))
	q("minutes YAML nan", "minutes", "unable to convert to float", locked("minutes", yamlRaw(".nan")))
	q("minutes YAML float overflow", "minutes", "unable to convert to float", locked("minutes", yamlRaw("1.0e+400")))
	q("minutes beyond int64", "minutes", "must be at most 527040", locked("minutes", yamlRaw("9223372036854775808")))
	q("minutes twenty digits", "minutes", "must be at most 527040", locked("minutes", yamlRaw("99999999999999999999")))
	q("minutes 400 digits", "minutes", "unable to convert to float", locked("minutes", yamlRaw(hugeInt)))
	q("minutes hex text", "minutes", "unable to convert to float", locked("minutes", "0x10"))
	q("minutes empty text", "minutes", "unable to convert to float", locked("minutes", ""))
	q("minutes list", "minutes", "unable to convert to float", locked("minutes", []any{5}))
	q("minutes dict", "minutes", "unable to convert to float", locked("minutes", map[string]any{"a": 1}))
	q("minutes huge exponent text", "minutes", "unable to convert to float", locked("minutes", "1e999999999"))
	q("minutes int64 max", "minutes", "", locked("minutes", yamlRaw("9223372036854775807")))
	q("minutes 307445735", "minutes", "", locked("minutes", 307445735))
	q("wait_seconds negative", "wait_seconds", "value of wait_seconds must be 0 or greater, got: -1", map[string]any{"wait_seconds": -1})
	q("wait_seconds word", "wait_seconds", "unable to convert to int", map[string]any{"wait_seconds": "later"})
	q("wait_seconds NaN", "wait_seconds", "unable to convert to int", map[string]any{"wait_seconds": "NaN"})
	q("wait_seconds inf", "wait_seconds", "unable to convert to int", map[string]any{"wait_seconds": yamlRaw(".inf")})
	q("force not a boolean", "force", "The value 'maybe' is not a valid boolean.", locked("force", "maybe"))
	q("force number 2", "force", "is not a valid boolean", locked("force", 2))
	q("force list", "force", "unable to convert to bool", locked("force", []any{true}))
	q("force dict", "force", "unable to convert to bool", locked("force", map[string]any{}))
	q("fail_when_locked not a boolean", "fail_when_locked", "is not a valid boolean", map[string]any{"fail_when_locked": "perhaps"})
	q("fail_when_locked fraction", "fail_when_locked", "is not a valid boolean", map[string]any{"fail_when_locked": 0.5})
	q("fail_when_locked NaN", "fail_when_locked", "is not a valid boolean", map[string]any{"fail_when_locked": "NaN"})
	q("reason 70 KB", "reason", "", locked("reason", huge))
	q("owner 70 KB", "owner", "", locked("owner", huge))
	q("name too long", "name", "", map[string]any{"name": long})
	q("name blank", "name", "", map[string]any{"name": "   "})
	q("name newline", "name", "", map[string]any{"name": "web\ndeploy"})
	q("name NUL", "name", "", map[string]any{"name": "web\u0000deploy"})
	q("metrics_textfile wrong suffix", "metrics_textfile", ".prom", map[string]any{"metrics_textfile": guardDir + "/guard.txt"})
	q("metrics_textfile missing directory", "metrics_textfile", "", map[string]any{"metrics_textfile": "/nonexistent-threader-dir/guard.prom"})
	q("pushgateway_url not a URL", "pushgateway_url", "", map[string]any{"pushgateway_url": "not a url"})
	q("pushgateway_url ftp", "pushgateway_url", "", map[string]any{"pushgateway_url": "ftp://127.0.0.1:1"})
	q("pushgateway_url no host", "pushgateway_url", "", map[string]any{"pushgateway_url": "http://"})
	q("pushgateway_url bad IPv6", "pushgateway_url", "", map[string]any{"pushgateway_url": "http://[::1"})
	q("unknown option", "minuets", "Unsupported parameters for", locked("minuets", 5))
	q("unknown option differing in case", "State", "Unsupported parameters for", map[string]any{"State": "status"})
	q("lock_timeout_seconds negative", "lock_timeout_seconds", "", locked("lock_timeout_seconds", -1))
	q("lock_timeout_seconds NaN", "lock_timeout_seconds", "", locked("lock_timeout_seconds", "NaN"))
	q("lock_timeout_seconds zero", "lock_timeout_seconds", "between 1 and", locked("lock_timeout_seconds", 0))
	q("lock_timeout_seconds a billion", "lock_timeout_seconds", "between 1 and", locked("lock_timeout_seconds", 1_000_000_000))
	q("wait_seconds over a day", "wait_seconds", "at most", map[string]any{"wait_seconds": 86401})
	q("exclusive with status", "exclusive", "only valid with state=locked", map[string]any{"exclusive": true})
	q("exclusive not a boolean", "exclusive", "is not a valid boolean", locked("exclusive", "sometimes"))
	q("if_revision with locked", "if_revision", "only valid with state=unlocked", locked("if_revision", 3))
	q("if_revision word", "if_revision", "unable to convert to int", map[string]any{"state": "unlocked", "if_revision": "latest"})
	q("if_revision negative", "if_revision", "", map[string]any{"state": "unlocked", "if_revision": -1})
	q("backend unknown", "backend", "value of backend must be one of", map[string]any{"backend": "consul"})
	q("etcd_endpoints with backend file", "etcd_endpoints", "only valid with backend=etcd", map[string]any{"etcd_endpoints": []any{deadURLMark}})
	q("scope with backend file", "scope", "only valid with backend=etcd", map[string]any{"scope": "web"})
	etcd := func(kv ...any) map[string]any {
		return withKV(map[string]any{"backend": "etcd", "etcd_endpoints": []any{deadURLMark}, "etcd_timeout_seconds": 2}, kv...)
	}
	q("etcd with path", "path", "only valid with backend=file", etcd("path", guardDir+"/x.guard"))
	q("etcd without endpoints", "etcd_endpoints", "", etcd("etcd_endpoints", nil))
	q("etcd_endpoints empty list", "etcd_endpoints", "", etcd("etcd_endpoints", []any{}))
	q("etcd_endpoints not a URL", "etcd_endpoints", "", etcd("etcd_endpoints", []any{"not a url"}))
	q("etcd_endpoints ftp", "etcd_endpoints", "", etcd("etcd_endpoints", []any{"ftp://127.0.0.1:1"}))
	q("etcd_endpoints empty element", "etcd_endpoints", "", etcd("etcd_endpoints", []any{""}))
	q("etcd_endpoints bad port", "etcd_endpoints", "", etcd("etcd_endpoints", []any{"http://127.0.0.1:99999"}))
	q("etcd_endpoints port 0", "etcd_endpoints", "", etcd("etcd_endpoints", []any{"http://127.0.0.1:0"}))
	q("scope empty", "scope", "must not be empty", etcd("scope", ""))
	q("etcd_prefix empty", "etcd_prefix", "must not be empty", etcd("etcd_prefix", ""))
	q("etcd_endpoints dict", "etcd_endpoints", "unable to convert to list", etcd("etcd_endpoints", map[string]any{"a": 1}))
	q("etcd_timeout_seconds zero", "etcd_timeout_seconds", "between 1 and", etcd("etcd_timeout_seconds", 0))
	q("etcd_timeout_seconds NaN", "etcd_timeout_seconds", "unable to convert to int", etcd("etcd_timeout_seconds", "NaN"))
	q("etcd_timeout_seconds a billion", "etcd_timeout_seconds", "between 1 and", etcd("etcd_timeout_seconds", 1_000_000_000))
	q("etcd scope with control character", "scope", "", etcd("scope", "web\n"))
	q("etcd_ca_cert missing", "etcd_ca_cert", "", etcd("etcd_ca_cert", "/nonexistent-threader-dir/ca.pem"))
	q("etcd_ca_cert not PEM", "etcd_ca_cert", "", etcd("etcd_ca_cert", "/etc/hostname"))
	q("etcd_ca_cert with NUL", "etcd_ca_cert", "", etcd("etcd_ca_cert", "/etc/a\u0000b"))
	q("etcd_client_cert without key", "etcd_client_key", "", etcd("etcd_client_cert", "/etc/hostname"))
	q("etcd_username without password", "etcd_password", "", etcd("etcd_username", "deploy"))
	freezeCases(guardDir, q)

	// ---- retry_command -----------------------------------------------
	r := func(name, option, want string, args map[string]any) { add("retry_command", name, option, want, args) }
	r("neither argv nor cmd", "argv", "one of the following is required: argv, cmd", map[string]any{"argv": nil})
	r("argv and cmd", "argv", "parameters are mutually exclusive: argv|cmd", map[string]any{"cmd": "true"})
	r("shell with argv", "shell", "shell is True but all of the following are missing: cmd", map[string]any{"shell": true})
	r("argv empty list", "argv", "value of argv must not be empty", map[string]any{"argv": []any{}})
	r("argv empty program", "argv", "must not be empty", map[string]any{"argv": []any{""}})
	r("argv empty string", "argv", "must not be empty", map[string]any{"argv": ""})
	r("argv dict", "argv", "unable to convert to list", map[string]any{"argv": map[string]any{"a": 1}})
	r("cmd empty", "cmd", "", map[string]any{"argv": nil, "cmd": ""})
	r("cmd blank", "cmd", "", map[string]any{"argv": nil, "cmd": "   "})
	r("cmd unterminated single quote", "cmd", "cannot split cmd", map[string]any{"argv": nil, "cmd": "echo 'unterminated"})
	r("cmd unterminated double quote", "cmd", "cannot split cmd", map[string]any{"argv": nil, "cmd": `echo "x`})
	r("cmd trailing backslash", "cmd", "cannot split cmd", map[string]any{"argv": nil, "cmd": `echo x\`})
	r("shell with empty cmd", "cmd", "value of cmd must not be empty", map[string]any{"argv": nil, "cmd": "", "shell": true})
	r("shell not a boolean", "shell", "is not a valid boolean", map[string]any{"shell": "maybe"})
	for _, v := range []struct {
		label string
		val   any
		want  string
	}{
		{"zero", 0, "value of attempts must be 1 or greater, got: 0"},
		{"negative", -1, "1 or greater"},
		{"word", "three", "unable to convert to int"},
		{"fraction", 1.5, "unable to convert to int"},
		{"NaN text", "NaN", "unable to convert to int"},
		{"inf text", "inf", "unable to convert to int"},
		{"YAML inf", yamlRaw(".inf"), "unable to convert to int"},
		{"YAML float overflow", yamlRaw("1.0e+400"), "unable to convert to int"},
		{"twenty digits", yamlRaw("99999999999999999999"), "unable to convert to int"},
		{"400 digits", yamlRaw(hugeInt), "unable to convert to int"},
		{"list", []any{3}, "unable to convert to int"},
		{"empty text", "", "unable to convert to int"},
	} {
		r("attempts "+v.label, "attempts", v.want, map[string]any{"attempts": v.val})
	}
	type numCase struct {
		label string
		val   any
		want  string
	}
	nonFinite := []numCase{
		{"NaN text", "NaN", ""}, {"nan text", "nan", ""}, {"inf text", "inf", ""}, {"-inf text", "-inf", ""},
		{"Infinity text", "Infinity", ""}, {"YAML inf", yamlRaw(".inf"), ""}, {"YAML nan", yamlRaw(".nan"), ""},
		{"YAML -inf", yamlRaw("-.inf"), ""}, {"overflowing text", "1e400", ""},
	}
	notNumbers := []numCase{
		{"word", "five", "unable to convert to float"}, {"list", []any{1}, "unable to convert to float"},
		{"dict", map[string]any{}, "unable to convert to float"}, {"hex text", "0x10", "unable to convert to float"},
		{"double sign", "--1", "unable to convert to float"}, {"empty text", "", "unable to convert to float"},
	}
	for _, v := range append(append([]numCase{{"negative", -1, "0 or greater"}}, nonFinite...), notNumbers...) {
		r("base_seconds "+v.label, "base_seconds", v.want, map[string]any{"base_seconds": v.val})
	}
	for _, v := range append([]numCase{{"below 1", 0.5, "1 or greater"}, {"zero", 0, "1 or greater"}, {"negative", -2, "1 or greater"},
		{"NaN text", "NaN", ""}, {"inf text", "inf", ""}, {"YAML inf", yamlRaw(".inf"), ""}}, notNumbers[:2]...) {
		r("factor "+v.label, "factor", v.want, map[string]any{"factor": v.val})
	}
	for _, v := range []numCase{{"negative", -1, "0 or greater"}, {"NaN text", "NaN", ""}, {"inf text", "inf", ""}, {"YAML nan", yamlRaw(".nan"), ""}, {"word", "x", ""}} {
		r("max_delay_seconds "+v.label, "max_delay_seconds", v.want, map[string]any{"max_delay_seconds": v.val})
	}
	for _, v := range []numCase{{"unknown", "random", "value of jitter must be one of: none, full, equal, got: random"}, {"empty", "", "must be one of"},
		{"upper case", "NONE", "must be one of"}, {"boolean", true, "must be one of"}} {
		r("jitter "+v.label, "jitter", v.want, map[string]any{"jitter": v.val})
	}
	for _, v := range []numCase{{"negative", -1, ""}, {"NaN text", "NaN", ""}, {"inf text", "inf", ""}, {"YAML inf", yamlRaw(".inf"), ""},
		{"word", "x", "unable to convert to float"}, {"1e-10", 1e-10, "at least 0.001 (1 ms)"}, {"half a millisecond", "0.0005", "1 ms"}} {
		r("timeout_seconds "+v.label, "timeout_seconds", v.want, map[string]any{"timeout_seconds": v.val})
	}
	for _, v := range []numCase{{"negative", -1, "0 or greater"}, {"NaN text", "NaN", ""}, {"inf text", "inf", ""}} {
		r("kill_grace_seconds "+v.label, "kill_grace_seconds", v.want, map[string]any{"kill_grace_seconds": v.val})
	}
	for _, v := range []numCase{{"negative", -5, ""}, {"NaN text", "NaN", ""}, {"1e-300", 1e-300, "1 ms"},
		{"inf text", "inf", ""}, {"word", "x", "unable to convert to float"}} {
		r("deadline_seconds "+v.label, "deadline_seconds", v.want, map[string]any{"deadline_seconds": v.val})
	}
	for _, v := range []numCase{{"word", "x", "Elements value for option 'retry_on_rc'"}, {"fraction", []any{1.5}, "unable to convert to int"},
		{"word element", []any{"a"}, "unable to convert to int"}, {"NaN element", []any{"NaN"}, "unable to convert to int"},
		{"YAML inf element", yamlRaw("[.inf]"), "unable to convert to int"}, {"twenty digit element", yamlRaw("[99999999999999999999]"), "unable to convert to int"},
		{"dict", map[string]any{"a": 1}, "unable to convert to list"}, {"nested list", []any{[]any{1}}, "unable to convert to int"}} {
		r("retry_on_rc "+v.label, "retry_on_rc", v.want, map[string]any{"retry_on_rc": v.val})
	}
	for _, v := range []numCase{{"open group", "(", ""}, {"open class", "[a-", ""}, {"look-behind", "(?<=x)y", ""},
		{"back-reference", `(a)\1`, ""}, {"bad repeat", "x**", ""}, {"bad range", "a{2,1}", ""}} {
		r("retry_on_output "+v.label, "retry_on_output", "not a valid regular expression", map[string]any{"retry_on_output": v.val})
	}
	r("chdir missing", "chdir", "", map[string]any{"chdir": "/nonexistent-threader-dir"})
	r("chdir is a file", "chdir", "", map[string]any{"chdir": "/etc/hostname"})
	r("env not a dict", "env", "unable to convert to dict", map[string]any{"env": "just words"})
	r("env list", "env", "unable to convert to dict", map[string]any{"env": []any{"A=1"}})
	r("env bad JSON text", "env", "unable to convert to dict", map[string]any{"env": "{not json"})
	// 1.5 million open brackets: the Python-literal reader used to recurse until
	// the Go stack overflowed (a fatal error with a goroutine dump).
	r("env deeply nested literal", "env", "unable to convert to dict", map[string]any{"env": "{'a': " + strings.Repeat("(", 1_500_000)})
	r("env empty name", "env", "", map[string]any{"env": map[string]any{"": "x"}})
	r("env name with =", "env", "", map[string]any{"env": map[string]any{"A=B": "x"}})
	r("env name with NUL", "env", "", map[string]any{"env": map[string]any{"A\u0000": "x"}})
	r("env value with NUL", "env", "", map[string]any{"env": map[string]any{"A": "x\u0000y"}})
	r("argv with NUL", "argv", "", map[string]any{"argv": []any{"/bin/true", "a\u0000b"}})
	r("name too long", "name", "", map[string]any{"name": long})
	r("name control character", "name", "", map[string]any{"name": "deploy\u001b[31m"})
	r("rollback not a boolean", "rollback", "is not a valid boolean", map[string]any{"rollback": "sure"})
	r("metrics_textfile wrong suffix", "metrics_textfile", "", map[string]any{"metrics_textfile": guardDir + "/retry.txt"})
	r("pushgateway_url ftp", "pushgateway_url", "", map[string]any{"pushgateway_url": "ftp://127.0.0.1:1"})
	r("unknown option", "retries", "Unsupported parameters for", map[string]any{"retries": 3})
	r("unknown option differing in case", "ARGV", "Unsupported parameters for", map[string]any{"ARGV": []any{"true"}})
	// Issue 15: retry policies name the entry and the field.
	pol := func(kv ...any) map[string]any {
		return withKV(map[string]any{"name": "p", "match_rc": []any{1}}, kv...)
	}
	policies := func(ps ...map[string]any) map[string]any {
		l := make([]any, len(ps))
		for i, p := range ps {
			l[i] = p
		}
		return map[string]any{"retry_policies": l}
	}
	r("retry_policies bad regexp", "retry_policies[1].match_output", "not a valid regular expression",
		policies(pol(), pol("name", "q", "match_output", "(?<=x)y")))
	r("retry_policies unknown action", "action", "retry, stop", policies(pol("action", "later")))
	r("retry_policies negative attempts", "retry_policies[0].attempts", "1 or greater", policies(pol("attempts", -1)))
	r("retry_policies negative base", "retry_policies[0].base_seconds", "0 or greater", policies(pol("base_seconds", -1)))
	r("retry_policies negative max delay", "retry_policies[0].max_delay_seconds", "0 or greater", policies(pol("max_delay_seconds", -0.5)))
	r("retry_policies NaN factor", "factor", "", policies(pol("factor", "NaN")))
	r("retry_policies factor below 1", "retry_policies[0].factor", "1 or greater", policies(pol("factor", 0.5)))
	r("retry_policies no match", "retry_policies[0].match_output", "match_rc must be set", policies(map[string]any{"name": "p"}))
	r("retry_policies duplicate name", "retry_policies[1].name", "earlier rule", policies(pol(), pol()))
	r("retry_policies name with spaces", "retry_policies[0].name", "", policies(pol("name", "rate limited")))
	r("retry_policies not a list of dicts", "retry_policies", "", map[string]any{"retry_policies": []any{"rate"}})
	r("retry_policies unknown key", "retries", "", policies(pol("retries", 3)))
	r("honor_retry_after not a boolean", "honor_retry_after", "is not a valid boolean", map[string]any{"honor_retry_after": "sure"})

	// ---- slo_check -----------------------------------------------------
	s := func(name, option, want string, args map[string]any) { add("slo_check", name, option, want, args) }
	for _, v := range []numCase{{"empty", "", ""}, {"no scheme", "not-a-url", ""}, {"ftp", "ftp://127.0.0.1:1", ""},
		{"no host", "http://", ""}, {"bad IPv6", "http://[::1", ""}, {"bad port", "http://127.0.0.1:99999", ""}, {"relative", "/api", ""}} {
		s("prometheus_url "+v.label, "prometheus_url", v.want, map[string]any{"prometheus_url": v.val})
	}
	for _, v := range []numCase{{"no scheme", "not-a-url", ""}, {"ftp", "ftp://127.0.0.1:1", ""}, {"bad IPv6", "http://[::1", ""}} {
		s("loki_url "+v.label, "loki_url", v.want, map[string]any{"loki_url": v.val})
	}
	s("job empty", "job", "job must not be empty", map[string]any{"job": ""})
	s("job blank", "job", "must not be empty", map[string]any{"job": "  "})
	for _, v := range []numCase{{"empty", "", ""}, {"no unit", "15", ""}, {"unknown unit", "15x", ""}, {"negative", "-5m", ""},
		{"zero", "0s", ""}, {"NaN", "NaN", ""}, {"inf", "inf", ""}, {"space inside", "15 m", ""}, {"exponent", "1e3m", ""}, {"list", []any{"15m"}, ""}} {
		s("window "+v.label, "window", v.want, map[string]any{"window": v.val})
	}
	for _, opt := range []string{"max_5xx_ratio", "min_health_ratio", "max_error_logs_per_min"} {
		for _, v := range []numCase{{"NaN text", "NaN", ""}, {"inf text", "inf", ""}, {"YAML nan", yamlRaw(".nan"), ""},
			{"YAML -inf", yamlRaw("-.inf"), ""}, {"word", "low", "unable to convert to float"}} {
			s(opt+" "+v.label, opt, v.want, map[string]any{opt: v.val})
		}
	}
	for _, v := range []numCase{{"open group", "(", ""}, {"open class", "[", ""}, {"look-ahead", "(?=x)", ""}, {"bad repeat", "a**", ""}} {
		s("error_log_regex "+v.label, "error_log_regex", v.want, map[string]any{"error_log_regex": v.val})
	}
	s("default_checks not a boolean", "default_checks", "is not a valid boolean", map[string]any{"default_checks": "perhaps"})
	s("no checks at all", "default_checks", "no checks to run", map[string]any{"default_checks": false})
	check := func(kv ...any) map[string]any {
		return withKV(map[string]any{"name": "c1", "query": "up", "max": 1}, kv...)
	}
	checks := func(cs ...any) map[string]any { return map[string]any{"checks": cs} }
	s("checks a word", "checks", "unable to convert to dict", map[string]any{"checks": "oops"})
	s("checks a dict", "checks", "", map[string]any{"checks": check()})
	s("checks element a number", "checks", "", checks(1))
	s("checks element a list", "checks", "", checks([]any{1}))
	s("checks without query", "query", "", checks(check("query", nil)))
	web := func(kv ...any) map[string]any {
		return checks(withKV(check("query", nil, "source", "web", "url", "http://127.0.0.1:1/slo", "json_path", "$.v"), kv...))
	}
	s("checks web without url", "url", "", web("url", nil))
	s("checks web without json_path", "json_path", "", web("json_path", nil))
	for _, v := range []numCase{{"ftp", "ftp://127.0.0.1:1/", ""}, {"relative", "/slo", ""}, {"bad port", "http://127.0.0.1:99999/", ""},
		{"credentials", "http://u:p@127.0.0.1:1/", ""}, {"empty", "", ""}} {
		s("checks web url "+v.label, "checks[0].url", v.want, web("url", v.val))
	}
	for _, v := range []numCase{{"no dollar", "data.v", ""}, {"recursive", "$..v", ""}, {"wildcard", "$.data[*]", ""},
		{"filter", "$[?(@.v)]", ""}, {"negative index", "$.a[-1]", ""}, {"empty", "", ""}} {
		s("checks web json_path "+v.label, "checks[0].json_path", v.want, web("json_path", v.val))
	}
	s("checks web method PUT", "method", "value of method must be one of: GET, POST", web("method", "PUT"))
	s("checks web body with GET", "checks[0].body", "needs method POST", web("body", "{}"))
	s("checks web query given", "checks[0].query", "not used by source web", web("query", "up"))
	s("checks web header name", "checks[0].headers", "not a valid header name", web("headers", map[string]any{"a b": "1"}))
	s("checks web header line break", "checks[0].headers", "line break", web("headers", map[string]any{"X-A": "a\nb"}))
	for _, v := range []numCase{{"zero", 0, "greater than 0"}, {"negative", -1, ""}, {"NaN text", "NaN", ""}, {"word", "soon", "unable to convert to float"}} {
		s("checks web timeout_seconds "+v.label, "timeout_seconds", v.want, web("timeout_seconds", v.val))
	}
	s("checks url with source prometheus", "checks[0].url", "only for source web", checks(check("url", "http://127.0.0.1:1/")))
	s("checks web ca_path missing", "checks[0].ca_path", "no such file or directory", web("ca_path", "/nonexistent-threader-dir/ca.pem"))
	s("checks web ca_path not PEM", "checks[0].ca_path", "holds no PEM certificate", web("ca_path", "/etc/hostname"))
	s("checks web client_cert without key", "checks[0].client_key", "is required with a client certificate", web("client_cert", "/etc/hostname"))
	s("checks web client_key without cert", "checks[0].client_cert", "is required with a client key", web("client_key", "/etc/hostname"))
	s("checks web validate_certs not a boolean", "validate_certs", "is not a valid boolean", web("validate_certs", "nah"))
	s("checks ca_path with source prometheus", "checks[0].ca_path", "only for source web", checks(check("ca_path", "/etc/hostname")))
	s("checks json_path with source prometheus", "checks[0].json_path", "only for source web", checks(check("json_path", "$.v")))
	s("checks without name", "name", "missing required arguments: name found in checks", checks(check("name", nil)))
	s("checks without max or min", "max", "one of the following is required: max, min, success_condition, failure_condition found in checks", checks(check("max", nil)))
	for _, v := range []numCase{{"syntax", "result[0] <=", ""}, {"unknown name", "reslt[0] < 1", ""}, {"not boolean", "result[0]", ""},
		{"empty", "", ""}, {"unknown function", "p99(result) < 1", ""}, {"a list", []any{"result[0] < 1"}, ""}} {
		s("checks success_condition "+v.label, "checks[0].success_condition", v.want, checks(check("max", nil, "success_condition", v.val)))
		s("checks failure_condition "+v.label, "checks[0].failure_condition", v.want, checks(check("max", nil, "failure_condition", v.val)))
	}
	s("checks dry_run not a boolean", "dry_run", "is not a valid boolean", checks(check("dry_run", "maybe")))
	s("checks all dry_run", "checks", "every check is a dry_run", map[string]any{"default_checks": false, "checks": []any{check("dry_run", true)}})
	for _, opt := range []string{"failure_limit", "inconclusive_limit", "consecutive_error_limit"} {
		for _, v := range []numCase{{"below -1", -2, "-1 (no limit) or 0 or greater"}, {"fraction", 1.5, "unable to convert to int"},
			{"word", "many", "unable to convert to int"}, {"400 digits", yamlRaw(hugeInt), "unable to convert to int"}} {
			s(opt+" "+v.label, opt, v.want, map[string]any{opt: v.val})
		}
	}
	for _, v := range []numCase{{"negative", -1, "0 or greater"}, {"NaN text", "NaN", ""}, {"YAML inf", yamlRaw(".inf"), ""}, {"below 1 ms", 1e-6, ""}} {
		s("initial_delay_seconds "+v.label, "initial_delay_seconds", v.want, map[string]any{"initial_delay_seconds": v.val})
	}
	s("fail_on_inconclusive not a boolean", "fail_on_inconclusive", "is not a valid boolean", map[string]any{"fail_on_inconclusive": "kinda"})
	for _, v := range []numCase{{"zero", 0, "1 or greater"}, {"negative", -3, "1 or greater"}, {"word", "all", "unable to convert to int"}} {
		s("measurement_retention "+v.label, "measurement_retention", v.want, map[string]any{"measurement_retention": v.val})
	}
	s("checks max NaN", "max", "", checks(check("max", "NaN")))
	s("checks max YAML inf", "max", "", checks(map[string]any{"name": "c1", "query": "up", "max": yamlRaw(".inf")}))
	s("checks min -inf", "min", "", checks(check("max", nil, "min", "-inf")))
	s("checks max 400 digits", "max", "", checks(map[string]any{"name": "c1", "query": "up", "max": yamlRaw(hugeInt)}))
	s("checks max a word", "max", "unable to convert to float", checks(check("max", "high")))
	s("checks source unknown", "source", "value of source must be one of: prometheus, loki, victorialogs, web, got: graphite", checks(check("source", "graphite")))
	s("checks on_empty unknown", "on_empty", "value of on_empty must be one of: fail, pass", checks(check("on_empty", "ignore")))
	s("checks unknown key", "checks.bogus", "Unsupported parameters for", checks(check("bogus", 1)))
	s("checks duplicate names", "checks", "", checks(check(), check()))
	s("checks empty name", "name", "", checks(check("name", "")))
	s("checks name too long", "checks[0].name", "", checks(check("name", long)))
	s("checks name control character", "checks[0].name", "", checks(check("name", "a\tb")))
	s("checks empty query", "query", "", checks(check("query", "")))
	s("checks Loki without loki_url", "loki_url", "", map[string]any{"loki_url": "", "default_checks": false, "checks": []any{check("source", "loki")}})
	s("checks max below min", "min", "", checks(check("max", 0.1, "min", 0.5)))
	for _, v := range []numCase{{"negative", -1, "0 or greater"}, {"NaN text", "NaN", ""}, {"inf text", "inf", ""}, {"word", "x", "unable to convert to float"}} {
		s("interval_seconds "+v.label, "interval_seconds", v.want, map[string]any{"interval_seconds": v.val})
	}
	for _, v := range []numCase{{"zero", 0, "1 or greater"}, {"negative", -1, "1 or greater"}, {"fraction", 1.5, "unable to convert to int"},
		{"word", "x", "unable to convert to int"}, {"400 digits", yamlRaw(hugeInt), "unable to convert to int"},
		{"without interval", 2, "interval_seconds"}} {
		s("consecutive "+v.label, "consecutive", v.want, map[string]any{"consecutive": v.val})
	}
	for _, v := range []numCase{{"negative", -1, ""}, {"NaN text", "NaN", ""}, {"YAML inf", yamlRaw(".inf"), ""}} {
		s("timeout_seconds "+v.label, "timeout_seconds", v.want, map[string]any{"timeout_seconds": v.val, "interval_seconds": 1})
	}
	s("timeout_seconds too short for consecutive", "timeout_seconds", "too short", map[string]any{"timeout_seconds": 5, "interval_seconds": 10, "consecutive": 5})
	for _, v := range []numCase{{"zero", 0, "greater than 0"}, {"negative", -1, "greater than 0"}, {"NaN text", "NaN", ""}, {"inf text", "inf", ""}} {
		s("request_timeout_seconds "+v.label, "request_timeout_seconds", v.want, map[string]any{"request_timeout_seconds": v.val})
	}
	for _, v := range []numCase{{"negative", -1, "0 or greater"}, {"fraction", 1.5, "unable to convert to int"}, {"NaN text", "NaN", "unable to convert to int"}} {
		s("request_retries "+v.label, "request_retries", v.want, map[string]any{"request_retries": v.val})
	}
	s("fail_on_violation not a boolean", "fail_on_violation", "is not a valid boolean", map[string]any{"fail_on_violation": "sometimes"})
	s("name too long", "name", "", map[string]any{"name": long})
	s("name control character", "name", "", map[string]any{"name": "gate\r"})
	for _, p := range []string{"prometheus", "loki"} {
		s(p+"_validate_certs not a boolean", p+"_validate_certs", "is not a valid boolean", map[string]any{p + "_validate_certs": "nah"})
		s(p+"_ca_path missing", p+"_ca_path", "", map[string]any{p + "_ca_path": "/nonexistent-threader-dir/ca.pem"})
		s(p+"_ca_path not PEM", p+"_ca_path", "", map[string]any{p + "_ca_path": "/etc/hostname"})
		s(p+"_client_cert without key", p+"_client_key", "", map[string]any{p + "_client_cert": "/etc/hostname"})
		s(p+"_client_key without cert", p+"_client_cert", "", map[string]any{p + "_client_key": "/etc/hostname"})
		s(p+"_bearer_token with basic auth", p+"_bearer_token", "", map[string]any{p + "_bearer_token": "t0k3n", p + "_username": "u", p + "_password": "p4ss"})
		s(p+"_headers a word", p+"_headers", "unable to convert to dict", map[string]any{p + "_headers": "oops"})
		s(p+"_headers name with space", p+"_headers", "", map[string]any{p + "_headers": map[string]any{"Bad Header": "x"}})
		s(p+"_headers value with newline", p+"_headers", "", map[string]any{p + "_headers": map[string]any{"X-Test": "a\r\nX-Injected: 1"}})
		s(p+"_tenant with newline", p+"_tenant", "", map[string]any{p + "_tenant": "team\nX-Injected: 1"})
	}
	// VictoriaLogs takes the error-log check when loki_url is given empty.
	vl := func(kv ...any) map[string]any {
		return withKV(map[string]any{"loki_url": "", "victorialogs_url": deadURLMark}, kv...)
	}
	for _, v := range []numCase{{"no scheme", "not-a-url", ""}, {"ftp", "ftp://127.0.0.1:1", ""}, {"bad IPv6", "http://[::1", ""},
		{"bad port", "http://127.0.0.1:99999", ""}, {"relative", "/select", ""}} {
		s("victorialogs_url "+v.label, "victorialogs_url", v.want, vl("victorialogs_url", v.val))
	}
	s("victorialogs_validate_certs not a boolean", "victorialogs_validate_certs", "is not a valid boolean", vl("victorialogs_validate_certs", "nah"))
	s("victorialogs_ca_path missing", "victorialogs_ca_path", "", vl("victorialogs_ca_path", "/nonexistent-threader-dir/ca.pem"))
	s("victorialogs_client_cert without key", "victorialogs_client_key", "", vl("victorialogs_client_cert", "/etc/hostname"))
	s("victorialogs_bearer_token with basic auth", "victorialogs_bearer_token", "", vl("victorialogs_bearer_token", "t0k3n", "victorialogs_username", "u", "victorialogs_password", "p4ss"))
	s("victorialogs_headers value with newline", "victorialogs_headers", "", vl("victorialogs_headers", map[string]any{"X-Test": "a\r\nX-Injected: 1"}))
	s("victorialogs_tenant is not an option", "victorialogs_tenant", "Unsupported parameters for", vl("victorialogs_tenant", "a"))
	for _, opt := range []string{"victorialogs_account_id", "victorialogs_project_id"} {
		for _, v := range []numCase{{"negative", "-1", ""}, {"word", "team-a", ""}, {"too large", "4294967296", ""}, {"leading zero", "007", ""},
			{"newline", "1\nX-Injected: 1", ""}} {
			s(opt+" "+v.label, opt, v.want, vl(opt, v.val))
		}
	}
	s("victorialogs_account_id with loki doing the logs", "victorialogs_account_id", "", map[string]any{"victorialogs_url": deadURLMark, "victorialogs_account_id": "x"})
	s("checks victorialogs without victorialogs_url", "victorialogs_url", "", map[string]any{"default_checks": false,
		"checks": []any{check("source", "victorialogs")}})
	s("metrics_textfile wrong suffix", "metrics_textfile", "", map[string]any{"metrics_textfile": guardDir + "/slo.txt"})
	s("pushgateway_url no host", "pushgateway_url", "", map[string]any{"pushgateway_url": "http://"})
	s("unknown option", "prometheus", "Unsupported parameters for", map[string]any{"prometheus": "http://127.0.0.1:1"})
	s("unknown option differing in case", "Job", "Unsupported parameters for", map[string]any{"Job": "x"})
	s("accept_warnings not a boolean", "accept_warnings", "", map[string]any{"accept_warnings": "perhaps"})

	// Every module's observability options (internal/metrics/observe): a
	// relative textfile would be relative to the module's temporary directory.
	for _, module := range []string{"qos_guard", "retry_command", "slo_check", "canary_judge"} {
		add(module, "metrics_textfile relative", "metrics_textfile", `"m.prom" must be an absolute path`, map[string]any{"metrics_textfile": "m.prom"})
	}
	canaryJudgeCases(func(name, option, want string, args map[string]any) { add("canary_judge", name, option, want, args) })
	return cs
}

// withKV is base with the key-value pairs kv set; a nil value removes the
// key. (In a case's args, nil removes a base argument of the module; that
// is the battery's merge, not this.)
func withKV(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// canaryJudgeCases: issue 13's bad canary_judge options. Every case fails
// before any query (the base arguments point at a counting port).
func canaryJudgeCases(c func(name, option, want string, args map[string]any)) {
	metric := func(kv ...any) map[string]any {
		return withKV(map[string]any{"name": "latency", "canary_query": "up", "baseline_query": "up"}, kv...)
	}
	metrics := func(ms ...any) map[string]any { return map[string]any{"metrics": ms} }
	c("direction unknown", "direction", "must be one of: increase, decrease, either, got: up", metrics(metric("direction", "up")))
	c("nan_strategy unknown", "nan_strategy", "got: zero", metrics(metric("nan_strategy", "zero")))
	c("outliers unknown", "outliers", "got: drop", metrics(metric("outliers", "drop")))
	c("effect_size measure unknown", "measure", "got: ratio", metrics(metric("effect_size", map[string]any{"measure": "ratio"})))
	c("max_canary_value NaN", "max_canary_value", "", metrics(metric("max_canary_value", "NaN")))
	c("metric without a name", "name", "", metrics(metric("name", nil)))
	c("metric without a canary_query", "canary_query", "", metrics(metric("canary_query", nil)))
	c("metric with an empty baseline_query", "metrics[0].baseline_query", "is required", metrics(metric("baseline_query", "")))
	c("metric names twice", "metrics[1].name", "already the name of metrics[0]", metrics(metric(), metric()))
	c("metric name too long", "metrics[0].name", "", metrics(metric("name", strings.Repeat("m", 129))))
	c("metrics empty", "metrics", "at least one metric", map[string]any{"metrics": []any{}})
	c("metrics missing", "metrics", "missing required arguments", map[string]any{"metrics": nil})
	c("pass_score above 100", "pass_score", "must be between 0 and 100, got 120", map[string]any{"pass_score": 120})
	c("pass_score negative", "pass_score", "must be between 0 and 100", map[string]any{"pass_score": -1})
	c("marginal_score above pass_score", "marginal_score", "must not be above pass_score", map[string]any{"marginal_score": 99})
	c("confidence 1", "confidence", "between 0 and 1", map[string]any{"confidence": 1})
	c("group_weights not a number", "group_weights.latency", "must be a number", map[string]any{"group_weights": map[string]any{"latency": "heavy"}})
	c("group_weights above 100 in all", "group_weights", "", map[string]any{"group_weights": map[string]any{"latency": 80, "errors": 80}})
	c("lookback and start", "lookback", "lookback and start are mutually exclusive", map[string]any{"start": "2026-11-29T16:00:00Z"})
	c("no interval", "lookback", "the interval is missing", map[string]any{"lookback": nil})
	c("start without end", "end", "end is required with start", map[string]any{"lookback": nil, "start": "2026-11-29T16:00:00Z"})
	c("start not RFC 3339", "start", `"yesterday" is not an RFC 3339 time`, map[string]any{"lookback": nil, "start": "yesterday", "end": "2026-11-29T16:00:00Z"})
	c("end before start", "end", "must be after start", map[string]any{"lookback": nil, "start": "2026-11-29T16:00:00Z", "end": "2026-11-29T15:00:00Z"})
	c("lookback not a duration", "lookback", "is not a duration", map[string]any{"lookback": "half an hour"})
	c("step zero", "step", "must be greater than 0", map[string]any{"step": "0s"})
	c("too many points", "step", "more than the 11000 points", map[string]any{"lookback": "30d", "step": "1m"})
	c("prometheus_url empty", "prometheus_url", "", map[string]any{"prometheus_url": ""})
	c("prometheus_client_cert without key", "prometheus_client_key", "", map[string]any{"prometheus_client_cert": "/etc/hostname"})
	c("request_timeout_seconds zero", "request_timeout_seconds", "", map[string]any{"request_timeout_seconds": 0})
	c("request_retries negative", "request_retries", "", map[string]any{"request_retries": -1})
	c("name with a newline", "name", "", map[string]any{"name": "web\ncanary"})
}

// argPath is the lock path the case runs with: its own path option, or def.
func (tc badCase) argPath(def string) string {
	if p, ok := tc.args["path"].(string); ok {
		return p
	}
	return def
}

// baseArgs are a valid argument set per module; each case changes it.
// deadURLMark, as an argument value (or a list element), stands for the
// case's own counting loopback URL.
const deadURLMark = "DEAD-URL"

// withDeadURL replaces deadURLMark in args; it reports whether it did.
func withDeadURL(args map[string]any, url string) bool {
	found := false
	for k, v := range args {
		switch x := v.(type) {
		case string:
			if x == deadURLMark {
				args[k], found = url, true
			}
		case []any:
			for i, e := range x {
				if e == deadURLMark {
					x[i], found = url, true
				}
			}
		}
	}
	return found
}

func baseArgs(module, deadURL string) map[string]any {
	switch module {
	case "qos_guard":
		return map[string]any{}
	case "retry_command":
		return map[string]any{"argv": []any{"/bin/true"}, "attempts": 1}
	case "slo_check":
		return map[string]any{"prometheus_url": deadURL, "loki_url": deadURL, "request_retries": 0, "request_timeout_seconds": 2}
	case "canary_judge":
		return map[string]any{"prometheus_url": deadURL, "request_retries": 0, "request_timeout_seconds": 2, "lookback": "30m",
			"metrics": []any{map[string]any{"name": "latency", "canary_query": "up", "baseline_query": "up"}}}
	}
	panic("unknown module " + module)
}

// flowYAML writes args as a YAML flow mapping, keys sorted.
func flowYAML(args map[string]any) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, jsonText(k)+": "+yamlValue(args[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func yamlValue(v any) string {
	if raw, ok := v.(yamlRaw); ok {
		return string(raw)
	}
	return jsonText(v)
}

func jsonText(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// countingListener accepts and closes connections on a loopback port,
// counting them: each slo_check case points its URLs at one of its own.
func countingListener(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conn.Close()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}

// panicText is what a traceback or a Go panic leaves in a result.
var panicText = regexp.MustCompile(`Traceback \(most recent call last\)|goroutine \d+ \[|panic: |runtime error:|\.go:\d+`)

func TestBadInputBattery(t *testing.T) {
	c := testenv.InstallCollection(t)
	guardDir := t.TempDir()
	cases := badInputCases(guardDir)
	connections := map[string]*atomic.Int64{}
	lockFiles := map[string]string{} // qos_guard cases: a refused task writes no lock
	t.Logf("%d cases", len(cases))
	if len(cases) < 300 {
		t.Fatalf("the battery has %d cases, want at least 300", len(cases))
	}
	seen := map[string]bool{}
	var tasks strings.Builder
	for i, tc := range cases {
		if seen[tc.name] || strings.ContainsAny(tc.name, "{}%") {
			t.Fatalf("case name %q is not unique, or has template characters", tc.name)
		}
		seen[tc.name] = true
		// slo_check and etcd cases point at a loopback port of their own.
		deadURL, counter := countingListener(t)
		args := baseArgs(tc.module, deadURL)
		if tc.module == "qos_guard" && tc.args["backend"] != "etcd" { // a lock file of its own
			args["path"] = filepath.Join(guardDir, fmt.Sprintf("case%03d.guard", i))
			lockFiles[tc.name] = args["path"].(string)
		}
		for k, v := range tc.args {
			if v == nil {
				delete(args, k)
			} else {
				args[k] = v
			}
		}
		if withDeadURL(args, deadURL) || tc.module == "slo_check" || tc.module == "canary_judge" {
			connections[tc.name] = counter
		}
		fmt.Fprintf(&tasks, "    - name: %s\n      threader.guard.%s: %s\n      ignore_errors: true\n", jsonText(tc.name), tc.module, flowYAML(args))
	}
	run := c.Playbook(t, fmt.Sprintf(`---
- name: bad-input battery
  hosts: localhost
  gather_facts: false
  tasks:
%s`, tasks.String()))
	results := map[string]testenv.TaskResult{}
	for _, tr := range run.Tasks {
		results[tr.Task] = tr
	}
	for _, tc := range cases {
		tr, ok := results[tc.name]
		if !ok {
			t.Errorf("%s: no result (did the play stop?)", tc.name)
			continue
		}
		problem := judge(tc, tr)
		if n := connections[tc.name]; problem == "" && n != nil && n.Load() > 0 {
			problem = fmt.Sprintf("made %d connection(s): a bad option must fail before any request", n.Load())
		}
		if path, ok := lockFiles[tc.name]; problem == "" && ok && path == tc.argPath(path) {
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				problem = fmt.Sprintf("the refused task left %s (stat: %v)", path, err)
			}
		}
		if why, pending := pendingOnMain[tc.name]; pending {
			if problem == "" {
				t.Errorf("%s: passes now; take it off pendingOnMain (%s)", tc.name, why)
			}
			continue
		}
		if problem != "" {
			t.Errorf("%s: %s", tc.name, problem)
		}
	}
	if loc := panicText.FindStringIndex(run.Output); loc != nil {
		t.Errorf("ansible-playbook output holds panic or traceback text near %q", run.Output[max(0, loc[0]-200):min(len(run.Output), loc[1]+200)])
	}
}

// judge says what is wrong with a case's result, or "".
func judge(tc badCase, tr testenv.TaskResult) string {
	msg, _ := tr.Result["msg"].(string)
	shown := msg
	if len(shown) > 300 {
		shown = shown[:300] + "..."
	}
	if tr.Status != "ignored" {
		return fmt.Sprintf("passed silently (status %s): %q", tr.Status, shown)
	}
	for _, field := range []string{"msg", "stdout", "stderr", "module_stdout", "module_stderr", "exception"} {
		if text := fmt.Sprint(tr.Result[field]); panicText.MatchString(text) {
			return fmt.Sprintf("panic or traceback text in %s: %q", field, text)
		}
	}
	if !namesOption(msg, tc.option) {
		return fmt.Sprintf("message does not name the option %s: %q", tc.option, shown)
	}
	if tc.want != "" && !strings.Contains(msg, tc.want) {
		return fmt.Sprintf("message lacks %q: %q", tc.want, shown)
	}
	return ""
}

// freezeCases: issue 14's bad freeze windows, freeze files and `at`.
func freezeCases(guardDir string, q func(name, option, want string, args map[string]any)) {
	window := func(kv ...any) map[string]any {
		return withKV(map[string]any{"name": "w", "start": "0 22 * * *", "duration": "8h"}, kv...)
	}
	windows := func(ws ...any) map[string]any { return map[string]any{"freeze_windows": ws} }
	q("freeze window cron minute out of range", "freeze_windows[0].start", "60 is out of range 0-59", windows(window("start", "60 22 * * *")))
	q("freeze window cron hour out of range", "freeze_windows[1].start", "hour field", windows(window("name", "a"), window("start", "0 24 * * *")))
	q("freeze window cron four fields", "freeze_windows[0].start", "must have 5 fields", windows(window("start", "0 22 * *")))
	q("freeze window cron never matches", "freeze_windows[0].start", "never matches", windows(window("start", "0 0 30 2 *")))
	q("freeze window end cron bad", "freeze_windows[0].end", "day of week field", windows(window("duration", nil, "end", "0 6 * * FUN")))
	q("freeze window unknown zone", "freeze_windows[0].time_zone", "not a known IANA time zone", windows(window("time_zone", "Europe/Atlantis")))
	q("freeze window zone Local", "freeze_windows[0].time_zone", "IANA", windows(window("time_zone", "Local")))
	q("freeze window duration and end", "freeze_windows[0].end", "cannot be given with duration", windows(window("end", "0 6 * * *")))
	q("freeze window neither duration nor end", "freeze_windows[0].duration", "is required with start", windows(window("duration", nil)))
	q("freeze window duration word", "freeze_windows[0].duration", "must be a duration", windows(window("duration", "all night")))
	q("freeze window duration number", "freeze_windows[0].duration", "must be a string", windows(window("duration", 90)))
	q("freeze window until before from", "freeze_windows[0].until", "must be after from", windows(map[string]any{"name": "w", "from": "2026-12-27T00:00:00Z", "until": "2026-12-24T00:00:00Z"}))
	q("freeze window until equal to from", "freeze_windows[0].until", "must be after from", windows(map[string]any{"name": "w", "from": "2026-12-24T00:00:00Z", "until": "2026-12-24T00:00:00Z"}))
	q("freeze window from not a time", "freeze_windows[0].from", "RFC 3339", windows(map[string]any{"name": "w", "from": "christmas", "until": "2026-12-24T00:00:00Z"}))
	q("freeze window without a name", "freeze_windows[0].name", "is required", windows(window("name", nil)))
	q("freeze window duplicate names", "freeze_windows[1].name", "already the name of freeze_windows[0]", windows(window(), window()))
	q("freeze window unknown key", "freeze_windows[0].timezone", "is not a window key", windows(window("timezone", "UTC")))
	q("freeze window start and from", "freeze_windows[0].from", "cannot be given with start", windows(window("from", "2026-12-24T00:00:00Z")))
	q("freeze window neither start nor from", "freeze_windows[0].start", "is required", windows(map[string]any{"name": "w"}))
	q("freeze_windows not a list of dicts", "freeze_windows", "", map[string]any{"freeze_windows": []any{"nights"}})
	q("freeze_windows with state locked", "freeze_windows", "only valid with state=status", map[string]any{"state": "locked", "freeze_windows": []any{window()}})
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(guardDir, name)
		os.WriteFile(path, []byte(text), mode)
		os.Chmod(path, mode)
		return path
	}
	q("freeze_file missing", "freeze_file", "cannot be read", map[string]any{"freeze_file": guardDir + "/no-such-freezes.yml"})
	q("freeze_file unknown key", "freeze_file", `unknown key "freeze_window"`, map[string]any{"freeze_file": write("typo.yml", "freeze_window: []\n", 0o644)})
	q("freeze_file bad window", "freeze_windows[0].time_zone", "freeze_file "+guardDir+"/zone.yml: freeze_windows[0].time_zone", map[string]any{
		"freeze_file": write("zone.yml", "freeze_windows:\n  - {name: w, start: '0 1 * * *', duration: 1h, time_zone: Nowhere/City}\n", 0o644)})
	q("freeze_file world-writable", "freeze_file", "writable by every user", map[string]any{"freeze_file": write("open.yml", "freeze_windows: []\n", 0o666)})
	q("freeze_file not YAML", "freeze_file", "not valid YAML", map[string]any{"freeze_file": write("junk.yml", "freeze_windows: [\n", 0o644)})
	q("at not a time", "at", "must be an RFC 3339 time", map[string]any{"at": "tomorrow"})
	q("at with state locked", "at", "only valid with state=status", map[string]any{"state": "locked", "at": "2026-12-24T00:00:00Z"})
	q("at with wait_seconds", "at", "does not wait", map[string]any{"at": "2026-12-24T00:00:00Z", "wait_seconds": 5})
	q("at with metrics_textfile", "at", "publishes nothing", map[string]any{"at": "2026-12-24T00:00:00Z", "metrics_textfile": guardDir + "/m.prom"})
	glass := func(kv ...any) map[string]any {
		return withKV(map[string]any{"break_glass": true, "fail_when_locked": true, "reason": "hotfix", "audit_log": guardDir + "/audit/a.jsonl"}, kv...)
	}
	q("break_glass without reason", "reason", "break-glass needs reason", glass("reason", nil))
	q("break_glass with blank reason", "reason", "break-glass needs reason", glass("reason", "   "))
	q("break_glass with state locked", "break_glass", "only valid with state=status", glass("state", "locked"))
	q("break_glass without fail_when_locked", "break_glass", "only valid with fail_when_locked=true", glass("fail_when_locked", false))
	q("break_glass with at", "break_glass", "cannot be given with at", glass("at", "2026-12-24T00:00:00Z"))
	q("break_glass word", "break_glass", "is not a valid boolean", glass("break_glass", "please"))
	q("audit_log relative", "audit_log", "must be an absolute path", glass("audit_log", "audit.jsonl"))
}

// namesOption: the option's name appears in msg as a word of its own
// (metrics_textfile does not name path).
func namesOption(msg, option string) bool {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(option) + `([^A-Za-z0-9_]|$)`)
	return re.MatchString(msg)
}
