package retrycommand

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/moduletest"
	"github.com/threader/guard/internal/runner"
)

// retryCommand is the module run by this test binary (TestMain) as
// Ansible runs it, under its FQCN. (module_test.go runs the built binary.)
var retryCommand = moduletest.Self(Module)

func TestMain(m *testing.M) { moduletest.Main(m, Module) }

func TestModuleFlakyCommandPublishesAndLogsEachAttempt(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	pg := moduletest.NewFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	host, _ := os.Hostname()
	res := retryCommand.Run(t, map[string]any{"argv": flaky(t, 1), "attempts": 3, "base_seconds": 0.01, "name": "migrate-db",
		"metrics_textfile": textfile, "pushgateway_url": pg.URL}, sock.Env()).JSON
	if res["failed"] == true || res["attempts"] != 2.0 || res["warnings"] != nil {
		t.Fatalf("result %v", res)
	}
	text := moduletest.ReadFile(t, textfile)
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_retry_attempts{name="migrate-db"}`:                       2,
		`threader_guard_retry_max_attempts{name="migrate-db"}`:                   3,
		`threader_guard_retry_delay_seconds{name="migrate-db"}`:                  0.01,
		`threader_guard_retry_last_exit_code{name="migrate-db"}`:                 0,
		`threader_guard_retry_last_outcome{name="migrate-db",outcome="success"}`: 1,
		`threader_guard_retry_last_outcome{name="migrate-db",outcome="failure"}`: 0,
		`threader_guard_retry_last_outcome{name="migrate-db",outcome="timeout"}`: 0,
	})
	if !(moduletest.Value(text, `threader_guard_retry_duration_seconds{name="migrate-db"}`) >= 0.01) ||
		!(moduletest.Value(text, `threader_guard_retry_last_success_timestamp_seconds{name="migrate-db"}`) > 0) ||
		!math.IsNaN(moduletest.Value(text, `threader_guard_retry_last_failure_timestamp_seconds{name="migrate-db"}`)) {
		t.Errorf("duration or timestamps wrong:\n%s", text)
	}
	if pushes := pg.Pushes(); len(pushes) != 1 || pushes[0].GroupingKey() != "POST instance="+host+" job=retry_command name=migrate-db" {
		t.Errorf("pushes %v", pushes)
	}
	lines := sock.Lines(t, 3)
	moduletest.WantInLine(t, lines[0], " ansible-retry_command[", "event=retry_attempt module=retry_command name=migrate-db attempt=1 max_attempts=3 exit_code=1 took_seconds=",
		"next=retry delay_seconds=0.01 error=\"exit status 1\"")
	moduletest.WantInLine(t, lines[1], "event=retry_attempt module=retry_command name=migrate-db attempt=2 max_attempts=3 exit_code=0 took_seconds=", "next=done")
	moduletest.WantInLine(t, lines[2], "event=retry_finished module=retry_command name=migrate-db outcome=success attempts=2 exit_code=0 delay_seconds=0.01 took_seconds=", "stop=succeeded")
}

func TestModuleExhaustedRunIsAFailure(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	res := retryCommand.Run(t, map[string]any{"argv": []string{"sh", "-c", "exit 3"}, "attempts": 2, "base_seconds": 0,
		"metrics_textfile": textfile}, sock.Env()).JSON
	if res["failed"] != true || res["attempts"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	text := moduletest.ReadFile(t, textfile)
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_retry_attempts{name="retry_command"}`:                       2,
		`threader_guard_retry_last_exit_code{name="retry_command"}`:                 3,
		`threader_guard_retry_last_outcome{name="retry_command",outcome="failure"}`: 1,
		`threader_guard_retry_last_outcome{name="retry_command",outcome="success"}`: 0,
	})
	if !(moduletest.Value(text, `threader_guard_retry_last_failure_timestamp_seconds{name="retry_command"}`) > 0) {
		t.Errorf("no failure timestamp:\n%s", text)
	}
	lines := sock.Lines(t, 3)
	moduletest.WantInLine(t, lines[1], "attempt=2 max_attempts=2 exit_code=3", "next=give_up stop=exhausted error=\"exit status 3\"")
	moduletest.WantInLine(t, lines[2], "event=retry_finished module=retry_command name=retry_command outcome=failure attempts=2 exit_code=3", "stop=exhausted")
}

func TestModuleTimeoutsAndStartFailuresHaveExitCodeMinusOne(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	retryCommand.Run(t, map[string]any{"argv": []string{"sleep", "30"}, "attempts": 1, "timeout_seconds": 0.1,
		"kill_grace_seconds": 1, "name": "hung", "metrics_textfile": textfile}, sock.Env())
	retryCommand.Run(t, map[string]any{"argv": []string{"/nonexistent/tool"}, "name": "missing", "metrics_textfile": textfile}, sock.Env())
	// The deadline ends the run before the 10 s delay: outcome timeout.
	retryCommand.Run(t, map[string]any{"argv": []string{"false"}, "attempts": 5, "base_seconds": 10, "deadline_seconds": 1,
		"name": "deadline", "metrics_textfile": textfile}, sock.Env())
	text := moduletest.ReadFile(t, textfile)
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_retry_last_exit_code{name="hung"}`:                     -1,
		`threader_guard_retry_last_outcome{name="hung",outcome="failure"}`:     1,
		`threader_guard_retry_last_exit_code{name="missing"}`:                  -1,
		`threader_guard_retry_attempts{name="missing"}`:                        1,
		`threader_guard_retry_last_outcome{name="missing",outcome="failure"}`:  1,
		`threader_guard_retry_last_exit_code{name="deadline"}`:                 1,
		`threader_guard_retry_last_outcome{name="deadline",outcome="timeout"}`: 1,
		`threader_guard_retry_last_outcome{name="deadline",outcome="failure"}`: 0,
	})
	lines := sock.Lines(t, 6)
	moduletest.WantInLine(t, lines[0], "name=hung attempt=1 max_attempts=1 exit_code=-1", "error=\"timed out after ")
	moduletest.WantInLine(t, lines[2], "name=missing attempt=1 max_attempts=3 exit_code=-1", "stop=not_retryable error=")
	moduletest.WantInLine(t, lines[5], "event=retry_finished module=retry_command name=deadline outcome=timeout attempts=1 exit_code=1", "stop=deadline")
}

// rollback: true publishes the rollback metrics the ThreaderGuardRollbackFailed
// alert watches, besides the retry metrics, and logs a rollback line; a
// plain command publishes none.
func TestModuleRollbackPublishesItsOutcome(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	res := retryCommand.Run(t, map[string]any{"argv": []string{"sh", "-c", "exit 2"}, "attempts": 2, "base_seconds": 0,
		"rollback": true, "name": "rollback", "metrics_textfile": textfile}, sock.Env()).JSON
	if res["failed"] != true || res["attempts"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	retryCommand.Run(t, map[string]any{"argv": flaky(t, 1), "attempts": 2, "base_seconds": 0,
		"rollback": true, "name": "rollback-web", "metrics_textfile": textfile}, sock.Env())
	retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "name": "deploy", "metrics_textfile": textfile}, sock.Env())
	text := moduletest.ReadFile(t, textfile)
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_rollback_last_outcome{name="rollback",outcome="failure"}`:     1,
		`threader_guard_rollback_last_outcome{name="rollback",outcome="success"}`:     0,
		`threader_guard_rollback_last_outcome{name="rollback",outcome="timeout"}`:     0,
		`threader_guard_retry_attempts{name="rollback"}`:                              2,
		`threader_guard_rollback_last_outcome{name="rollback-web",outcome="success"}`: 1,
		`threader_guard_rollback_last_outcome{name="rollback-web",outcome="failure"}`: 0,
	})
	if !(moduletest.Value(text, `threader_guard_rollback_last_failure_timestamp_seconds{name="rollback"}`) > 0) ||
		!(moduletest.Value(text, `threader_guard_rollback_last_attempt_timestamp_seconds{name="rollback"}`) > 0) ||
		!(moduletest.Value(text, `threader_guard_rollback_duration_seconds{name="rollback"}`) >= 0) ||
		!math.IsNaN(moduletest.Value(text, `threader_guard_rollback_last_success_timestamp_seconds{name="rollback"}`)) ||
		!(moduletest.Value(text, `threader_guard_rollback_last_success_timestamp_seconds{name="rollback-web"}`) > 0) {
		t.Errorf("rollback timestamps or duration wrong:\n%s", text)
	}
	if strings.Contains(text, `threader_guard_rollback_last_outcome{name="deploy"`) {
		t.Errorf("a command without rollback: true published rollback metrics:\n%s", text)
	}
	lines := sock.Lines(t, 8) // 2 attempts + finished + rollback, twice
	moduletest.WantInLine(t, lines[2], "event=retry_finished module=retry_command name=rollback outcome=failure")
	moduletest.WantInLine(t, lines[3], " ansible-retry_command[", "<11>", "event=rollback module=retry_command name=rollback outcome=failure exit_code=2 took_seconds=",
		`error="exit status 2"`)
	moduletest.WantInLine(t, lines[7], "<13>", "event=rollback module=retry_command name=rollback-web outcome=success exit_code=0 took_seconds=")
	if strings.Contains(lines[7], "error=") {
		t.Errorf("a successful rollback logged an error: %q", lines[7])
	}
	if line := sock.Next(t); strings.Contains(line, "event=rollback") {
		t.Errorf("a command without rollback: true logged a rollback: %q", line)
	}
}

// Neither a no_log value (the Pushgateway password), nor a secret in the
// command's environment or output, reaches the textfile, the push or the
// log; a no_log task logs nothing.
func TestModuleKeepsSecretsOutOfMetricsAndLogs(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	pg := moduletest.NewFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	const token, password = "env-t0ken-42", "pgw-s3cret"
	res := retryCommand.Run(t, map[string]any{
		"cmd": `echo "token=$API_TOKEN"; echo "token=$API_TOKEN" >&2; exit 1`, "shell": true, "env": map[string]any{"API_TOKEN": token},
		"attempts": 2, "base_seconds": 0, "name": "deploy-" + password, "metrics_textfile": textfile,
		"pushgateway_url": strings.Replace(pg.URL, "http://", "http://bot:"+password+"@", 1),
	}, sock.Env()).JSON
	if res["failed"] != true || res["attempts"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	// Issue 10 item 14: env values are secrets in the result too: in
	// invocation (keys kept), stdout, stderr and msg.
	if whole, _ := json.Marshal(res); strings.Contains(string(whole), token) {
		t.Errorf("the result holds %q:\n%s", token, whole)
	}
	invocation, _ := res["invocation"].(map[string]any)
	args, _ := invocation["module_args"].(map[string]any)
	if env, _ := args["env"].(map[string]any); len(env) != 1 || env["API_TOKEN"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" {
		t.Errorf("invocation env: %v", args["env"])
	}
	if res["stdout"] != "token=********" || !strings.HasSuffix(res["msg"].(string), "token=********") {
		t.Errorf("stdout %q, msg %q", res["stdout"], res["msg"])
	}
	logged := strings.Join(sock.Lines(t, 3), "\n")
	for where, text := range map[string]string{"textfile": moduletest.ReadFile(t, textfile), "push": pg.Sent(), "log": logged} {
		for _, secret := range []string{token, password} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q:\n%s", where, secret, text)
			}
		}
	}
	if !strings.Contains(moduletest.ReadFile(t, textfile), `name="deploy-********"`) || !strings.Contains(logged, "name=deploy-********") {
		t.Errorf("the name is not masked:\n%s\n%s", moduletest.ReadFile(t, textfile), logged)
	}

	retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "name": "quiet", "_ansible_no_log": true}, sock.Env())
	retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "name": "loud"}, sock.Env())
	if line := sock.Next(t); !strings.Contains(line, "name=loud") {
		t.Errorf("the no_log task logged: %q", line)
	}
}

func TestModuleCheckModeAndSkippedRunsPublishNoRun(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "threader_guard.prom")
	res := retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "metrics_textfile": textfile, "_ansible_check_mode": true}, sock.Env()).JSON
	if res["skipped"] != true {
		t.Fatalf("check mode: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published (stat: %v)", err)
	}
	res = retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "creates": dir, "metrics_textfile": textfile}, sock.Env()).JSON
	if res["changed"] != false {
		t.Fatalf("creates: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("a run that did not run the command published (stat: %v)", err)
	}
	retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "name": "ran"}, sock.Env())
	if line := sock.Next(t); !strings.Contains(line, "name=ran") {
		t.Errorf("check mode or a skipped run logged: %q", line)
	}
}

func TestModuleNameAndDestinationErrors(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"name": strings.Repeat("x", 129)}, "value of name "},
		{map[string]any{"name": "a\nb"}, `value of name "a\nb" contains control characters`},
		{map[string]any{"metrics_textfile": filepath.Join(dir, "nodir", "m.prom")}, "metrics_textfile: "},
		{map[string]any{"pushgateway_url": "ftp://x"}, "pushgateway_url: "},
	} {
		tc.args["argv"] = []string{"touch", filepath.Join(dir, "ran")}
		res := retryCommand.Run(t, tc.args, sock.Env()).JSON
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: result %v, want a failure starting %q", tc.args, res, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); !os.IsNotExist(err) {
		t.Error("the command ran despite a bad option")
	}
	res := retryCommand.Run(t, map[string]any{"argv": []string{"true"}, "pushgateway_url": moduletest.ClosedURL()}, sock.Env()).JSON
	warnings, _ := res["warnings"].([]any)
	if res["failed"] == true || len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want success with one warning, got %v", res)
	}
}

func TestCLIPublishesAndLogs(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	t.Setenv(observe.SyslogSocketEnv, sock.Path)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	var stderr bytes.Buffer
	code := cli(context.Background(), []string{"--name", "ci-step", "--metrics-textfile", textfile, "2", "0", "--", "sh", "-c", "exit 4"}, nil, io.Discard, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	moduletest.WantSeries(t, moduletest.ReadFile(t, textfile), map[string]float64{
		`threader_guard_retry_attempts{name="ci-step"}`:                       2,
		`threader_guard_retry_last_exit_code{name="ci-step"}`:                 4,
		`threader_guard_retry_last_outcome{name="ci-step",outcome="failure"}`: 1,
	})
	lines := sock.Lines(t, 3)
	moduletest.WantInLine(t, lines[0], " retry_command[", "event=retry_attempt module=retry_command name=ci-step attempt=1 max_attempts=2 exit_code=4")
	moduletest.WantInLine(t, lines[2], "event=retry_finished module=retry_command name=ci-step outcome=failure attempts=2")
	if strings.Contains(lines[0], "ansible-") {
		t.Errorf("the CLI logs as retry_command, not as the module: %q", lines[0])
	}
	// --no-syslog logs nothing: the next line is the following run's.
	cli(context.Background(), []string{"--no-syslog", "--", "true"}, nil, io.Discard, io.Discard)
	cli(context.Background(), []string{"--name", "after", "--", "true"}, nil, io.Discard, io.Discard)
	if line := sock.Next(t); !strings.Contains(line, "name=after") {
		t.Errorf("--no-syslog logged: %q", line)
	}
}

func TestCLIRollbackFlag(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	t.Setenv(observe.SyslogSocketEnv, sock.Path)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	var stderr bytes.Buffer
	code := cli(context.Background(), []string{"--rollback", "--name", "rollback", "--metrics-textfile", textfile, "1", "0", "--", "sh", "-c", "exit 5"},
		nil, io.Discard, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	moduletest.WantSeries(t, moduletest.ReadFile(t, textfile), map[string]float64{
		`threader_guard_rollback_last_outcome{name="rollback",outcome="failure"}`: 1,
		`threader_guard_retry_last_exit_code{name="rollback"}`:                    5,
	})
	lines := sock.Lines(t, 3)
	moduletest.WantInLine(t, lines[2], " retry_command[", "event=rollback module=retry_command name=rollback outcome=failure exit_code=5")
}

func TestCLIFlagErrorsAndPublishWarnings(t *testing.T) {
	t.Setenv(observe.SyslogSocketEnv, filepath.Join(t.TempDir(), "none"))
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-textfile", filepath.Join(dir, "m.txt")}, "retry_command: --metrics-textfile: "},
		{[]string{"--pushgateway-url", "ftp://x"}, "retry_command: --pushgateway-url: "},
		{[]string{"--name", strings.Repeat("x", 200)}, "retry_command: --name "},
	} {
		var stderr bytes.Buffer
		code := cli(context.Background(), append(tc.args, "--", "touch", filepath.Join(dir, "ran")), nil, io.Discard, &stderr)
		if code != exitUsage || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), exitUsage, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); !os.IsNotExist(err) {
		t.Error("the command ran despite a bad flag")
	}
	var stderr bytes.Buffer
	if code := cli(context.Background(), []string{"--pushgateway-url", moduletest.ClosedURL(), "--", "true"}, nil, io.Discard, &stderr); code != exitOK ||
		!strings.HasPrefix(stderr.String(), "retry_command: warning: metrics not published: --pushgateway-url ") {
		t.Errorf("unreachable Pushgateway: exit %d, stderr %q; want 0 and a warning", code, stderr.String())
	}
}

func TestAttemptMapping(t *testing.T) {
	for _, tc := range []struct {
		a    runner.Attempt
		code int
		err  string
	}{
		{runner.Attempt{RC: 0, Stop: backoff.StopSucceeded}, 0, ""},
		{runner.Attempt{RC: 2, Retry: true}, 2, "exit status 2"},
		{runner.Attempt{RC: 2, Stop: backoff.StopNotRetryable, Why: "rc 2 is not in retry_on_rc"}, 2, "exit status 2; not retried: rc 2 is not in retry_on_rc"},
		{runner.Attempt{RC: -15, Signal: "SIGTERM", TimedOut: true, Duration: 1500 * time.Millisecond}, -1, "timed out after 1.5s"},
		{runner.Attempt{RC: -9, Signal: "SIGKILL"}, -1, "killed by SIGKILL"},
		{runner.Attempt{RC: -2, Signal: "SIGINT", Interrupted: true}, -1, "killed by SIGINT (interrupted)"},
		{runner.Attempt{RC: 127, Err: errors.New("exec: not found")}, -1, "exec: not found"},
		{runner.Attempt{RC: 126, Err: errors.New("permission denied")}, -1, "permission denied"},
	} {
		gotErr := ""
		if err := attemptError(tc.a); err != nil {
			gotErr = err.Error()
		}
		if got := exitCode(tc.a); got != tc.code || gotErr != tc.err {
			t.Errorf("%+v: exit code %d, error %q; want %d, %q", tc.a, got, gotErr, tc.code, tc.err)
		}
	}
	for stop, want := range map[backoff.StopReason]metrics.Outcome{
		backoff.StopSucceeded: metrics.OutcomeSuccess, backoff.StopDeadline: metrics.OutcomeTimeout,
		backoff.StopExhausted: metrics.OutcomeFailure, backoff.StopNotRetryable: metrics.OutcomeFailure, backoff.StopCanceled: metrics.OutcomeFailure,
	} {
		if got := outcome(stop); got != want {
			t.Errorf("outcome(%s) = %s, want %s", stop, got, want)
		}
	}
}
