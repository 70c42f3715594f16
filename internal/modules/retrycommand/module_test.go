package retrycommand

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/threader/guard/internal/modules/moduletest"
)

// retryCommandBinary is modules/retry_command, built, run as Ansible runs
// it (observe_test.go runs the module in the test binary instead).
var retryCommandBinary = moduletest.Built("retry_command")

// invoke runs the built module with args and returns its JSON result and
// exit code.
func invoke(t *testing.T, args map[string]any) (map[string]any, int) {
	t.Helper()
	r := retryCommandBinary.Run(t, args)
	return r.JSON, r.Code
}

// counterScript is a shell script failing its first `failures` runs; run
// n prints "attempt n" on stdout and "err n" on stderr.
func counterScript(t *testing.T, failures int) string {
	file := filepath.Join(t.TempDir(), "count")
	return fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; echo "attempt $n"; echo "err $n" >&2; [ $n -gt %[2]d ]`, file, failures)
}

// flaky is counterScript as a command (argv).
func flaky(t *testing.T, failures int) []string {
	return []string{"/bin/sh", "-c", counterScript(t, failures)}
}

func history(t *testing.T, res map[string]any) []map[string]any {
	t.Helper()
	raw, ok := res["history"].([]any)
	if !ok {
		t.Fatalf("history is %T: %v", res["history"], res)
	}
	var out []map[string]any
	for _, h := range raw {
		out = append(out, h.(map[string]any))
	}
	return out
}

func TestModuleFlakyCommandSucceeds(t *testing.T) {
	res, code := invoke(t, map[string]any{
		"argv": []string{"/bin/sh", "-c", counterScript(t, 2)}, "attempts": 3, "base_seconds": 0.05, "name": "flaky",
	})
	if code != 0 || res["failed"] != false || res["changed"] != true || res["rc"] != 0.0 || res["attempts"] != 3.0 {
		t.Fatalf("exit %d, result %v", code, res)
	}
	if res["stdout"] != "attempt 3" || res["stderr"] != "err 3" || res["truncated"] != false || res["stop_reason"] != "succeeded" {
		t.Fatalf("result %v", res)
	}
	h := history(t, res)
	if len(h) != 3 || h[0]["attempt"] != 1.0 || h[0]["rc"] != 1.0 || h[0]["delay_seconds"] != 0.0 ||
		h[1]["delay_seconds"] != 0.05 || h[2]["delay_seconds"] != 0.1 || h[2]["rc"] != 0.0 ||
		h[0]["timed_out"] != false || h[0]["signal"] != nil {
		t.Fatalf("history %v", h)
	}
	for _, e := range h {
		if d, _ := e["duration_seconds"].(float64); d < 0 || d > 5 {
			t.Fatalf("duration %v", e)
		}
	}
	if tot, _ := res["total_seconds"].(float64); tot < 0.15 {
		t.Fatalf("total_seconds %v, want at least the 0.15s slept", res["total_seconds"])
	}
}

func TestModuleFailureMessageAndExplicitFailed(t *testing.T) {
	res, code := invoke(t, map[string]any{"cmd": `sh -c "echo 'disk full' >&2; exit 2"`, "attempts": 3, "base_seconds": 0})
	if code == 0 || res["failed"] != true || res["rc"] != 2.0 || res["attempts"] != 3.0 || res["changed"] != true {
		t.Fatalf("exit %d, result %v", code, res)
	}
	if res["msg"] != "command failed after 3 attempts (last rc=2): disk full" {
		t.Fatalf("msg %q", res["msg"])
	}
	cmd, _ := res["cmd"].([]any)
	if len(cmd) != 3 || cmd[0] != "sh" || cmd[2] != "echo 'disk full' >&2; exit 2" {
		t.Fatalf("cmd %v", res["cmd"])
	}
}

func TestModuleRetryFilters(t *testing.T) {
	res, _ := invoke(t, map[string]any{"argv": []string{"sh", "-c", "exit 2"}, "attempts": 3, "base_seconds": 0, "retry_on_rc": []any{75, "1"}})
	if res["attempts"] != 1.0 || !strings.Contains(res["msg"].(string), "not retried: rc 2 is not in retry_on_rc") || res["stop_reason"] != "not_retryable" {
		t.Fatalf("retry_on_rc: %v", res)
	}
	res, _ = invoke(t, map[string]any{"argv": []string{"sh", "-c", "echo UNREACHABLE; exit 4"}, "attempts": 2, "base_seconds": 0, "retry_on_output": "timed out|UNREACHABLE"})
	if res["attempts"] != 2.0 || res["stop_reason"] != "exhausted" {
		t.Fatalf("retry_on_output: %v", res)
	}
}

func TestModuleTimeout(t *testing.T) {
	res, _ := invoke(t, map[string]any{"argv": []string{"sleep", "30"}, "attempts": 2, "base_seconds": 0, "timeout_seconds": 0.1, "kill_grace_seconds": 1})
	h := history(t, res)
	if res["failed"] != true || len(h) != 2 || h[0]["timed_out"] != true || h[0]["signal"] != "SIGTERM" || h[0]["rc"] != -15.0 {
		t.Fatalf("result %v", res)
	}
	// An explicit 0 is no limit, like an absent option.
	res, _ = invoke(t, map[string]any{"argv": []string{"sleep", "0.2"}, "attempts": 1, "timeout_seconds": 0, "deadline_seconds": 0})
	if res["failed"] != false || res["rc"] != 0.0 {
		t.Fatalf("timeout_seconds 0: %v", res)
	}
}

func TestModuleShellCmdChdirEnvStdin(t *testing.T) {
	dir := t.TempDir()
	res, _ := invoke(t, map[string]any{
		"cmd": `echo "$GREETING from $(basename "$PWD")"; cat`, "shell": true, "chdir": dir,
		"env": map[string]any{"GREETING": "hello", "N": 3}, "stdin": "piped", "attempts": 1,
	})
	// env values are secrets: the command got "hello", the result masks it.
	if res["failed"] != false || res["stdout"] != "******** from "+filepath.Base(dir)+"\npiped" {
		t.Fatalf("result %v", res)
	}
	if cmd := res["cmd"].([]any); cmd[0] != "/bin/sh" || cmd[1] != "-c" {
		t.Fatalf("cmd %v", cmd)
	}
	// Without shell, cmd is split but nothing is expanded.
	res, _ = invoke(t, map[string]any{"cmd": `echo "$HOME" 'a b' c\ d`, "attempts": 1})
	if res["stdout"] != "$HOME a b c d" {
		t.Fatalf("split cmd: %v", res)
	}
}

func TestModuleTruncatesLongOutput(t *testing.T) {
	res, _ := invoke(t, map[string]any{"argv": []string{"sh", "-c", "seq 1 200000; echo last"}, "attempts": 1})
	out := res["stdout"].(string)
	if res["truncated"] != true || len(out) > 64<<10 || !strings.HasSuffix(out, "200000\nlast") {
		t.Fatalf("truncated %v, %d bytes", res["truncated"], len(out))
	}
}

func TestModuleCheckModeDoesNotRun(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	res, code := invoke(t, map[string]any{"argv": []string{"touch", marker}, "_ansible_check_mode": true})
	if code != 0 || res["skipped"] != true || res["changed"] != false || res["msg"] != "Command would have run if not in check mode" {
		t.Fatalf("exit %d, result %v", code, res)
	}
	res, _ = invoke(t, map[string]any{"argv": []string{"touch", marker}, "creates": marker, "_ansible_check_mode": true})
	if res["changed"] != true || res["skipped"] != nil {
		t.Fatalf("with creates: %v", res)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("check mode ran the command")
	}
}

func TestModuleCreatesAndRemoves(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "done.flag"), nil, 0o644)
	res, _ := invoke(t, map[string]any{"argv": []string{"false"}, "chdir": dir, "creates": "*.flag"})
	if res["changed"] != false || res["failed"] != false || !strings.Contains(res["msg"].(string), "Did not run command since "+dir+"/*.flag exists") {
		t.Fatalf("creates: %v", res)
	}
	res, _ = invoke(t, map[string]any{"argv": []string{"false"}, "removes": filepath.Join(dir, "missing")})
	if res["changed"] != false || res["failed"] != false || !strings.Contains(res["msg"].(string), "does not exist") {
		t.Fatalf("removes: %v", res)
	}
	res, _ = invoke(t, map[string]any{"argv": []string{"true"}, "removes": filepath.Join(dir, "done.flag")})
	if res["changed"] != true || res["attempts"] != 1.0 {
		t.Fatalf("removes of an existing file runs: %v", res)
	}
}

func TestModuleBadOptions(t *testing.T) {
	cases := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{}, "one of the following is required: argv, cmd"},
		{map[string]any{"argv": []string{"true"}, "cmd": "true"}, "parameters are mutually exclusive: argv|cmd"},
		{map[string]any{"argv": []string{"true"}, "shell": true}, "shell is True but all of the following are missing: cmd"},
		{map[string]any{"cmd": "true", "attempts": 0}, "value of attempts must be 1 or greater, got: 0"},
		{map[string]any{"cmd": "true", "factor": 0.5}, "value of factor must be a finite number, 1 or greater, got: 0.5"},
		{map[string]any{"cmd": "true", "base_seconds": -1}, "value of base_seconds must be 0 or greater, got: -1"},
		// Issue 10 item 15: a limit that rounds to 0 would mean no limit.
		{map[string]any{"cmd": "true", "timeout_seconds": 1e-10}, "value of timeout_seconds must be 0 or at least 0.001 (1 ms), got: 1e-10"},
		{map[string]any{"cmd": "true", "timeout_seconds": "0.0009"}, "value of timeout_seconds must be 0 or at least 0.001 (1 ms)"},
		{map[string]any{"cmd": "true", "deadline_seconds": 1e-300}, "value of deadline_seconds must be 0 or at least 0.001 (1 ms)"},
		{map[string]any{"cmd": "true", "kill_grace_seconds": 5e-7}, "value of kill_grace_seconds must be 0 or at least 0.001 (1 ms)"},
		{map[string]any{"cmd": "true", "max_delay_seconds": 1e-12}, "value of max_delay_seconds must be 0 or at least 0.001 (1 ms)"},
		{map[string]any{"cmd": "true", "base_seconds": 1e-9}, "value of base_seconds must be 0 or at least 0.001 (1 ms)"},
		// internal/seconds' bound, as slo_check's: 1e12 seconds was taken as about 292 years.
		{map[string]any{"cmd": "true", "deadline_seconds": 1e12}, "value of deadline_seconds must be at most 1e+09 (about 31 years), got: 1e+12"},
		{map[string]any{"cmd": "true", "deadline_seconds": "inf"}, "argument 'deadline_seconds' is of type <class 'str'> and we were unable to convert to float: 'inf' is not a finite number"},
		{map[string]any{"cmd": "true", "jitter": "random"}, "value of jitter must be one of: none, full, equal, got: random"},
		{map[string]any{"cmd": "true", "retry_on_output": "("}, "value of retry_on_output is not a valid regular expression"},
		{map[string]any{"cmd": "echo 'open"}, "cannot split cmd into arguments: unterminated single quote"},
		{map[string]any{"cmd": "   "}, "cannot split cmd into arguments: no command given"},
		{map[string]any{"argv": []string{}}, "value of argv must not be empty"},
		{map[string]any{"cmd": "true", "retry_on_rc": []any{"x"}}, "retry_on_rc"},
		{map[string]any{"argv": []string{"no-such-program-xyz"}}, "cannot run no-such-program-xyz"},
		{map[string]any{"argv": []string{"/bin/true", "a\x00b"}}, "value of argv must not contain a NUL byte (word 2)"},
		{map[string]any{"cmd": "true a\x00b"}, "value of cmd must not contain a NUL byte (word 2)"},
		{map[string]any{"cmd": "true", "env": map[string]any{"A": "x\x00y"}}, "value of env[A] must not contain a NUL byte"},
	}
	for _, c := range cases {
		res, code := invoke(t, c.args)
		msg, _ := res["msg"].(string)
		if code == 0 || res["failed"] != true || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, msg %q; want failure containing %q", c.args, code, msg, c.want)
		}
	}
}

// Issue 10 item 9, through the module as Ansible runs it: a grandchild that
// left the session (setsid) and ignores SIGTERM does not outlive the task,
// whether the attempt times out or exits.
func TestModuleLeavesNoDescendants(t *testing.T) {
	for _, then := range []string{"exit 0", "sleep 1000"} {
		dir := t.TempDir()
		script := fmt.Sprintf(`setsid sh -c 'trap "" TERM; sleep 1000 & echo $! > %[1]s/sleep; echo $$ > %[1]s/gc; wait' </dev/null >/dev/null 2>&1 &
while [ ! -s %[1]s/gc ]; do sleep 0.01; done
%[2]s`, dir, then)
		res, _ := invoke(t, map[string]any{"argv": []string{"sh", "-c", script}, "attempts": 1, "timeout_seconds": 3, "kill_grace_seconds": 0.2})
		if res["stop_reason"] == nil {
			t.Fatalf("%s: result %v", then, res)
		}
		if warnings := fmt.Sprint(res["warnings"]); then == "exit 0" && !strings.Contains(warnings, "attempt 1 left 2 processes running when it exited; they were stopped") {
			t.Errorf("warnings %s", warnings)
		}
		for _, name := range []string{"gc", "sleep"} {
			text, err := os.ReadFile(filepath.Join(dir, name))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(text)))
			if err != nil || pid == 0 {
				t.Fatalf("%s: %s pid file: %v %q", then, name, err, text)
			}
			if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(stat), ") Z ") {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("%s: %s %d outlived the module", then, name, pid)
			}
		}
	}
}

// outputs is a command whose run n prints the n-th line of lines on stderr
// and exits with the n-th code (the last ones repeat).
func outputs(t *testing.T, codes []int, lines ...string) []string {
	file := filepath.Join(t.TempDir(), "count")
	var cases strings.Builder
	for i, c := range codes {
		pattern := strconv.Itoa(i + 1)
		if i == len(codes)-1 {
			pattern = "*"
		}
		fmt.Fprintf(&cases, "%s) echo '%s' >&2; exit %d;;\n", pattern, lines[min(i, len(lines)-1)], c)
	}
	return []string{"/bin/sh", "-c", fmt.Sprintf("n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s\ncase $n in\n%[2]sesac", file, cases.String())}
}

// Issue 15: policies and hints decide the delays, recorded exactly in history.
func TestModuleRetryPoliciesAndRetryAfterHint(t *testing.T) {
	res, code := invoke(t, map[string]any{
		"argv":     outputs(t, []int{22, 22, 1, 0}, "HTTP/1.1 429\nRetry-After: 1", "HTTP/1.1 429", "boom", "ok"),
		"attempts": 4, "base_seconds": 0.05, "honor_retry_after": true,
		"retry_policies": []any{
			map[string]any{"name": "unauthorized", "match_output": "HTTP/[0-9.]+ 401", "action": "stop"},
			map[string]any{"name": "rate-limited", "match_output": "HTTP/[0-9.]+ 429", "attempts": 4, "base_seconds": 0.2, "factor": 3},
		},
	})
	if code != 0 || res["stop_reason"] != "succeeded" || res["attempts"] != 4.0 {
		t.Fatalf("exit %d, result %v", code, res)
	}
	h := history(t, res)
	// 1: rate-limited, hint 1s; 2: rate-limited, its 2nd match: 0.2*3 = 0.6s;
	// 3: no policy, the task's delay after attempt 3: 0.05*2^2 = 0.2s.
	want := []struct {
		delay  float64
		policy any
		hint   any
	}{{0, "rate-limited", 1.0}, {1, "rate-limited", nil}, {0.6, nil, nil}, {0.2, nil, nil}}
	for i, w := range want {
		if h[i]["delay_seconds"] != w.delay || h[i]["policy"] != w.policy || h[i]["hint_seconds"] != w.hint {
			t.Fatalf("history[%d] = %v, want delay %v policy %v hint %v", i, h[i], w.delay, w.policy, w.hint)
		}
	}
}

func TestModuleStopPolicy(t *testing.T) {
	res, code := invoke(t, map[string]any{
		"argv":     outputs(t, []int{1, 22}, "busy", "HTTP/1.1 401 Unauthorized"),
		"attempts": 5, "base_seconds": 0,
		"retry_policies": []any{map[string]any{"name": "unauthorized", "match_output": "HTTP/[0-9.]+ 401", "match_rc": []int{22}, "action": "stop"}},
	})
	msg, _ := res["msg"].(string)
	if code == 0 || res["stop_reason"] != "policy:unauthorized" || res["attempts"] != 2.0 || !strings.Contains(msg, "retry policy unauthorized says stop") {
		t.Fatalf("exit %d, result %v", code, res)
	}
	if h := history(t, res); h[0]["policy"] != nil || h[1]["policy"] != "unauthorized" {
		t.Fatalf("history %v", h)
	}
}

func TestModuleBadRetryPolicies(t *testing.T) {
	policy := func(kv ...any) map[string]any {
		m := map[string]any{"name": "p", "match_rc": []int{1}}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		policies []any
		want     string
	}{
		{[]any{policy(), policy("name", "q", "match_output", "(")}, "value of retry_policies[1].match_output is not a valid regular expression"},
		{[]any{policy("action", "later")}, "action"},
		{[]any{policy("attempts", 0)}, "value of retry_policies[0].attempts must be 1 or greater, got: 0"},
		{[]any{policy("base_seconds", -1)}, "value of retry_policies[0].base_seconds must be 0 or greater, got: -1"},
		{[]any{policy("max_delay_seconds", -2)}, "value of retry_policies[0].max_delay_seconds must be 0 or greater, got: -2"},
		{[]any{policy("factor", 0.5)}, "value of retry_policies[0].factor must be a finite number, 1 or greater, got: 0.5"},
		{[]any{policy(), policy()}, `value of retry_policies[1].name "p" is used by an earlier rule`},
		{[]any{policy("name", "a b")}, "value of retry_policies[0].name must be 1 to 64 characters"},
		{[]any{map[string]any{"name": "p"}}, "value of retry_policies[0].match_output or match_rc must be set"},
		{[]any{map[string]any{"match_rc": []int{1}}}, "name"},
	}
	for _, c := range cases {
		res, code := invoke(t, map[string]any{"cmd": "true", "retry_policies": c.policies})
		msg, _ := res["msg"].(string)
		if code == 0 || res["failed"] != true || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, msg %q; want failure containing %q", c.policies, code, msg, c.want)
		}
	}
}
