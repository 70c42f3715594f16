package retrycommand

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/runner"
)

func parse(t *testing.T, args ...string) runner.Retry {
	t.Helper()
	job, _, err := parseCLI(args, io.Discard)
	if err != nil {
		t.Fatalf("parseCLI(%q): %v", args, err)
	}
	return job
}

func TestCLIPositionalsLikeRetryBackoffSh(t *testing.T) {
	job := parse(t, "3", "0.2", "--", "sh", "-c", "exit 1")
	if job.Attempts != 3 || job.Schedule.Base != 200*time.Millisecond || !slices.Equal(job.Command.Argv, []string{"sh", "-c", "exit 1"}) {
		t.Fatalf("job %+v", job)
	}
	if job.Schedule.Factor != 2 || job.Schedule.Jitter != backoff.JitterNone || job.Command.KillGrace != 5*time.Second || job.Command.Timeout != 0 || job.Deadline != 0 {
		t.Fatalf("defaults %+v", job)
	}
	// Without "--", the command starts at the first non-number.
	job = parse(t, "4", "1", "make", "deploy", "--", "x")
	if job.Attempts != 4 || !slices.Equal(job.Command.Argv, []string{"make", "deploy", "--", "x"}) {
		t.Fatalf("job %+v", job)
	}
	// Flags after "--" belong to the command.
	job = parse(t, "--", "ls", "--timeout", "3")
	if !slices.Equal(job.Command.Argv, []string{"ls", "--timeout", "3"}) || job.Command.Timeout != 0 {
		t.Fatalf("job %+v", job)
	}
}

func TestCLIEnvironmentDefaults(t *testing.T) {
	t.Setenv("MAX_RETRY_ATTEMPTS", "")
	t.Setenv("BASE_RETRY_DELAY", "")
	if job := parse(t, "--", "true"); job.Attempts != 3 || job.Schedule.Base != 5*time.Second {
		t.Fatalf("defaults: %+v", job)
	}
	t.Setenv("MAX_RETRY_ATTEMPTS", "7")
	t.Setenv("BASE_RETRY_DELAY", "1.5")
	if job := parse(t, "--", "true"); job.Attempts != 7 || job.Schedule.Base != 1500*time.Millisecond {
		t.Fatalf("from env: %+v", job)
	}
	// One positional overrides only the attempts.
	if job := parse(t, "2", "--", "true"); job.Attempts != 2 || job.Schedule.Base != 1500*time.Millisecond {
		t.Fatalf("one positional: %+v", job)
	}
	t.Setenv("MAX_RETRY_ATTEMPTS", "many")
	if _, _, err := parseCLI([]string{"--", "true"}, io.Discard); err == nil || !strings.Contains(err.Error(), `MAX_RETRY_ATTEMPTS must be a whole number, 1 or greater, got "many"`) {
		t.Fatalf("bad env: %v", err)
	}
}

func TestCLIFlags(t *testing.T) {
	job := parse(t, "--timeout", "1m30s", "3", "--jitter", "full", "2", "--max-delay", "60", "--factor=1.5",
		"--retry-on-rc", "1,75", "--retry-on-rc", "2", "--deadline", "10m", "--kill-grace", "0.5",
		"--retry-on-output", "timed out|UNREACHABLE", "--", "true")
	want := runner.Retry{Attempts: 3, Deadline: 10 * time.Minute, RetryOnRC: []int{1, 75, 2},
		Schedule: backoff.Schedule{Base: 2 * time.Second, Factor: 1.5, MaxDelay: time.Minute, Jitter: backoff.JitterFull}}
	if job.Attempts != want.Attempts || job.Deadline != want.Deadline || !slices.Equal(job.RetryOnRC, want.RetryOnRC) || job.Schedule.Base != want.Schedule.Base || job.Schedule.Factor != want.Schedule.Factor ||
		job.Schedule.MaxDelay != want.Schedule.MaxDelay || job.Schedule.Jitter != want.Schedule.Jitter ||
		job.Command.Timeout != 90*time.Second || job.Command.KillGrace != 500*time.Millisecond || job.RetryOnOutput.String() != "timed out|UNREACHABLE" {
		t.Fatalf("job %+v", job)
	}
	if _, f, _ := parseCLI([]string{"--name", "deploy", "--", "true"}, io.Discard); f.name != "deploy" {
		t.Fatalf("name %q", f.name)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"3", "5"}, "no command given"},
		{[]string{"3", "5", "--"}, "no command given"},
		{[]string{"0", "1", "--", "true"}, "max_attempts must be a whole number, 1 or greater"},
		{[]string{"2.5", "1", "--", "true"}, "max_attempts must be a whole number"},
		{[]string{"--jitter", "random", "--", "true"}, "--jitter"},
		{[]string{"--factor", "0.5", "--", "true"}, "--factor must be 1 or greater"},
		{[]string{"--timeout", "soon", "--", "true"}, "must be seconds (30, 0.5) or a duration (1m30s)"},
		{[]string{"--timeout", "-1", "--", "true"}, "flag -timeout: must be 0 or greater, got: -1"},
		// Issue 10 item 15: a limit that rounds to 0 would mean no limit.
		{[]string{"--timeout", "1e-10", "--", "true"}, `invalid value "1e-10" for flag -timeout: must be 0 or at least 0.001 (1 ms), got: 1e-10`},
		{[]string{"--timeout", "999us", "--", "true"}, `invalid value "999us" for flag -timeout: must be 0 or at least 0.001 (1 ms), got: 0.000999`},
		{[]string{"--deadline", "0.0000001", "--", "true"}, "flag -deadline: must be 0 or at least 0.001 (1 ms)"},
		{[]string{"--kill-grace", "1ns", "--", "true"}, "flag -kill-grace: must be 0 or at least 0.001 (1 ms)"},
		{[]string{"--max-delay", "1e-5", "--", "true"}, "flag -max-delay: must be 0 or at least"},
		{[]string{"3", "1e-10", "--", "true"}, "base_seconds must be 0 or at least 0.001 (1 ms)"},
		{[]string{"--retry-on-rc", "x", "--", "true"}, "want exit codes"},
		{[]string{"--retry-on-output", "(", "--", "true"}, "--retry-on-output"},
		{[]string{"--bogus", "--", "true"}, "flag provided but not defined"},
	} {
		_, _, err := parseCLI(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseCLI(%q): error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestCLIExitCodesAndLogLines(t *testing.T) {
	var stderr strings.Builder
	code := cli(context.Background(), []string{"3", "0", "--", "sh", "-c", "exit 1"}, nil, io.Discard, &stderr)
	want := "retry_command: attempt 1/3 failed (rc=1); retrying in 0s\n" +
		"retry_command: attempt 2/3 failed (rc=1); retrying in 0s\n" +
		"retry_command: attempt 3/3 failed (rc=1); giving up\n"
	if code != 1 || stderr.String() != want {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := cli(context.Background(), []string{"--name", "ok", "3", "0", "--", "true"}, nil, io.Discard, &stderr); code != 0 || stderr.String() != "" {
		t.Fatalf("success: exit %d, stderr %q", code, stderr.String())
	}
	if code := cli(context.Background(), []string{"-h"}, nil, io.Discard, io.Discard); code != 0 {
		t.Fatalf("-h exits %d", code)
	}
	stderr.Reset()
	if code := cli(context.Background(), []string{"--", "no-such-program-xyz"}, nil, io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "attempt 1/3 could not start: cannot run no-such-program-xyz") {
		t.Fatalf("not found: exit %d, stderr %q", code, stderr.String())
	}
	if code := cli(context.Background(), []string{"x"}, nil, io.Discard, io.Discard); code != 1 {
		// "x" is the command (not found): a failure, not a usage error.
		t.Fatalf("exit %d", code)
	}
	if code := cli(context.Background(), []string{"3"}, nil, io.Discard, io.Discard); code != 2 {
		t.Fatalf("no command: exit %d, want 2", code)
	}
}

func TestCLIInterruptedExitCode(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupt.Cause{Signal: 2})
	if code := cli(ctx, []string{"--", "true"}, nil, io.Discard, io.Discard); code != 130 {
		t.Fatalf("exit %d, want 130", code)
	}
}

func TestAttemptLine(t *testing.T) {
	cases := []struct {
		a    runner.Attempt
		want string
	}{
		{runner.Attempt{Number: 2, RC: 1, Retry: true, NextDelay: 10 * time.Second}, "attempt 2/3 failed (rc=1); retrying in 10s"},
		{runner.Attempt{Number: 3, RC: 1, Stop: backoff.StopExhausted}, "attempt 3/3 failed (rc=1); giving up"},
		{runner.Attempt{Number: 1, RC: 2, Stop: backoff.StopNotRetryable, Why: "rc 2 is not in retry_on_rc"}, "attempt 1/3 failed (rc=2); not retrying: rc 2 is not in retry_on_rc"},
		{runner.Attempt{Number: 1, RC: -15, Signal: "SIGTERM", TimedOut: true, Duration: 2 * time.Second, Retry: true, NextDelay: 5 * time.Second},
			"attempt 1/3 failed (timed out after 2s, rc=-15 (SIGTERM)); retrying in 5s"},
		{runner.Attempt{Number: 2, RC: 1, Stop: backoff.StopDeadline, NextDelay: 20 * time.Second}, "attempt 2/3 failed (rc=1); giving up: the next delay of 20s would pass the deadline"},
		{runner.Attempt{Number: 1, Stop: backoff.StopSucceeded}, ""},
		{runner.Attempt{Number: 2, Stop: backoff.StopSucceeded}, "attempt 2/3 succeeded"},
		{runner.Attempt{Number: 1, Stop: backoff.StopSucceeded, Interrupted: true}, "attempt 1/3 interrupted (rc=0); no further attempts"},
		{runner.Attempt{Number: 2, RC: -2, Signal: "SIGINT", Stop: backoff.StopCanceled, Interrupted: true}, "attempt 2/3 interrupted (rc=-2 (SIGINT)); no further attempts"},
		{runner.Attempt{Number: 1, Err: errors.New("cannot run x: not found"), Stop: backoff.StopNotRetryable}, "attempt 1/3 could not start: cannot run x: not found"},
	}
	for _, c := range cases {
		if got := attemptLine(c.a, 3); got != c.want {
			t.Errorf("attemptLine(%+v) = %q, want %q", c.a, got, c.want)
		}
	}
	if got := leftoversNote(runner.Attempt{Number: 2, Leftovers: 1}); got != "attempt 2 left 1 process running when it exited; it was stopped (nothing the command starts outlives retry_command)" {
		t.Errorf("leftoversNote = %q", got)
	}
	if leftoversNote(runner.Attempt{Number: 1}) != "" {
		t.Error("a note without leftovers")
	}
}

// Issue 15: --policy, --policies-file and --honor-retry-after.
func TestCLIPolicies(t *testing.T) {
	file := filepath.Join(t.TempDir(), "policies.yml")
	if err := os.WriteFile(file, []byte("- name: rate\n  match_output: 'HTTP/[0-9.]+ 429'\n  attempts: 9\n  max_delay_seconds: 120\n- name: auth\n  match_rc: [77]\n  action: stop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	job := parse(t, "--honor-retry-after", "--policy", "conn:dial tcp: i/o timeout:retry:6:0.5:3", "--policy", "denied:denied:stop",
		"--policies-file", file, "4", "1", "--", "true")
	if !job.HonorRetryAfter || len(job.Policies) != 4 {
		t.Fatalf("job %+v", job)
	}
	conn, denied, rate, auth := job.Policies[0], job.Policies[1], job.Policies[2], job.Policies[3]
	if conn.Name != "conn" || conn.MatchOutput.String() != "dial tcp: i/o timeout" || conn.Action != backoff.ActionRetry ||
		conn.Attempts != 6 || conn.Schedule.Base != 500*time.Millisecond || conn.Schedule.Factor != 3 {
		t.Fatalf("conn %+v", conn)
	}
	if denied.Action != backoff.ActionStop || denied.Attempts != 4 || denied.Schedule.Base != time.Second {
		t.Fatalf("denied inherits the task's: %+v", denied)
	}
	if rate.Attempts != 9 || rate.Schedule.MaxDelay != 120*time.Second || rate.Schedule.Base != time.Second || auth.Action != backoff.ActionStop || !slices.Equal(auth.MatchRC, []int{77}) {
		t.Fatalf("file policies %+v %+v", rate, auth)
	}
}

func TestCLIPolicyErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("- name: a\n  match_output: '('\n"), 0o600)
	unknown := filepath.Join(dir, "unknown.yml")
	os.WriteFile(unknown, []byte("- name: a\n  match_rc: [1]\n  retries: 3\n"), 0o600)
	dup := filepath.Join(dir, "dup.yml")
	os.WriteFile(dup, []byte("- name: a\n  match_rc: [1]\n"), 0o600)
	two := filepath.Join(dir, "two.yml") // the second document's policies were ignored
	os.WriteFile(two, []byte("- name: a\n  match_rc: [1]\n---\n- name: b\n  match_rc: [2]\n  action: stop\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy", "a:(:retry"}, "--policy #1: match_output is not a valid regular expression"},
		{[]string{"--policy", "a:x:later"}, `invalid value "a:x:later" for flag -policy: want NAME:REGEX:ACTION`},
		{[]string{"--policy", "a:x:retry:-1"}, "--policy #1: attempts must be 1 or greater, got: -1"},
		{[]string{"--policy", "a:x:retry:2:-3"}, "--policy #1: base_seconds must be 0 or greater, got: -3"},
		{[]string{"--policy", "a:x:retry:2:1:0.5"}, "--policy #1: factor must be a finite number, 1 or greater"},
		{[]string{"--policy", "a:x:retry", "--policy", "b:x:stop", "--policy", "b:y:stop"}, `--policy #3: name "b" is used by an earlier rule`},
		{[]string{"--policy", "a b:x:stop"}, "--policy #1: name must be 1 to 64 characters"},
		{[]string{"--policies-file", bad}, "--policies-file " + bad + ": entry 0: match_output is not a valid regular expression"},
		{[]string{"--policies-file", unknown}, "field retries not found"},
		{[]string{"--policy", "a:x:stop", "--policies-file", dup}, "--policies-file " + dup + `: entry 0: name "a" is used by an earlier rule`},
		{[]string{"--policies-file", two}, "--policies-file " + two + ": holds more than one YAML document"},
		{[]string{"--policies-file", filepath.Join(dir, "missing.yml")}, "--policies-file " + filepath.Join(dir, "missing.yml") + ": open"},
	} {
		_, _, err := parseCLI(append(c.args, "--", "true"), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseCLI(%q): error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestCLIPolicyLogLinesWithExactDelays(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	script := `n=$(cat ` + counter + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + counter + `
case $n in 1) echo "HTTP/1.1 429 Retry-After: 0" >&2; exit 22;; 2) echo "busy"; exit 1;; *) echo "HTTP/1.1 401" >&2; exit 22;; esac`
	var stderr strings.Builder
	code := cli(context.Background(), []string{"--honor-retry-after", "--policy", "rate:HTTP/[0-9.]+ 429:retry:5:0.3",
		"--policy", "auth:HTTP/[0-9.]+ 401:stop", "5", "0", "--", "sh", "-c", script}, nil, io.Discard, &stderr)
	// The command's own stderr is passed on between the log lines.
	want := "HTTP/1.1 429 Retry-After: 0\n" +
		"retry_command: attempt 1/5 failed (rc=22); retrying in 0s (policy rate, Retry-After 0s)\n" +
		"retry_command: attempt 2/5 failed (rc=1); retrying in 0s\n" +
		"HTTP/1.1 401\n" +
		"retry_command: attempt 3/5 failed (rc=22); not retrying: retry policy auth says stop\n"
	if code != 1 || stderr.String() != want {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
}
