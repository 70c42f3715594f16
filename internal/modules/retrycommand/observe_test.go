package retrycommand

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/runner"
)

// moduleArgsEnv makes the test binary run the module (see TestMain):
// ansiblemod.Run takes over fd 1 for good, so a module run needs a process.
const moduleArgsEnv = "RETRYCOMMAND_TEST_MODULE_ARGS"

func TestMain(m *testing.M) {
	if path := os.Getenv(moduleArgsEnv); path != "" {
		os.Exit(ansiblemod.Run(Module.Name, Module.Spec, Module.Handler, []string{"AnsiballZ_retry_command", path}))
	}
	os.Exit(m.Run())
}

// invokeModule runs the module as Ansible does, under its FQCN, with the
// system log at socket, and returns its JSON result.
func invokeModule(t *testing.T, socket string, args map[string]any) map[string]any {
	t.Helper()
	full := map[string]any{"_ansible_module_name": "threader.guard.retry_command"}
	for k, v := range args {
		full[k] = v
	}
	data, _ := json.Marshal(full)
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), moduleArgsEnv+"="+path, observe.SyslogSocketEnv+"="+socket)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("no JSON result (%v): %s\nstderr: %s", err, out, stderr.String())
	}
	return res
}

// syslogSocket is a unixgram socket standing in for /dev/log.
type syslogSocket struct {
	path string
	conn *net.UnixConn
}

func newSyslogSocket(t *testing.T) *syslogSocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "rc") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &syslogSocket{path: path, conn: conn}
}

// next returns the next line sent to the socket.
func (s *syslogSocket) next(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 8192)
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only bounds a broken test
	n, _, err := s.conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("no log line: %v", err)
	}
	return string(buf[:n])
}

// lines returns the next n lines.
func (s *syslogSocket) lines(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = s.next(t)
	}
	return out
}

// fakePushgateway records what is pushed to it.
type fakePushgateway struct {
	*httptest.Server
	mu     sync.Mutex
	pushes []string // "METHOD PATH"
	bodies []string
}

func newFakePushgateway(t *testing.T) *fakePushgateway {
	t.Helper()
	pg := &fakePushgateway{}
	pg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		pg.mu.Lock()
		defer pg.mu.Unlock()
		pg.pushes = append(pg.pushes, r.Method+" "+r.URL.Path)
		pg.bodies = append(pg.bodies, string(body))
	}))
	t.Cleanup(pg.Close)
	return pg
}

func (pg *fakePushgateway) got() (pushes, bodies []string) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return append([]string(nil), pg.pushes...), append([]string(nil), pg.bodies...)
}

// groupingKey turns "POST /metrics/job/J/name/N/instance/I" (the labels
// in any order) into "POST instance=I job=J name=N".
func groupingKey(push string) string {
	method, path, _ := strings.Cut(push, " ")
	parts := strings.Split(strings.TrimPrefix(path, "/metrics/"), "/")
	var labels []string
	for i := 0; i+1 < len(parts); i += 2 {
		labels = append(labels, parts[i]+"="+parts[i+1])
	}
	slices.Sort(labels)
	return method + " " + strings.Join(labels, " ")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// value returns the value of one series in a textfile, NaN when absent.
func value(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// wantSeries checks series values of a textfile.
func wantSeries(t *testing.T, text string, want map[string]float64) {
	t.Helper()
	for series, w := range want {
		if got := value(text, series); got != w {
			t.Errorf("%s = %v, want %v", series, got, w)
		}
	}
	if t.Failed() {
		t.Logf("textfile:\n%s", text)
	}
}

func wantInLine(t *testing.T, line string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Errorf("log line %q lacks %q", line, p)
		}
	}
}

// flaky is a shell command failing its first `failures` runs.
func flaky(t *testing.T, failures int) []string {
	file := filepath.Join(t.TempDir(), "count")
	return []string{"/bin/sh", "-c", `n=$(cat ` + file + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + file + `; [ $n -gt ` + strconv.Itoa(failures) + ` ]`}
}

func TestModuleFlakyCommandPublishesAndLogsEachAttempt(t *testing.T) {
	sock := newSyslogSocket(t)
	pg := newFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	host, _ := os.Hostname()
	res := invokeModule(t, sock.path, map[string]any{"argv": flaky(t, 1), "attempts": 3, "base_seconds": 0.01, "name": "migrate-db",
		"metrics_textfile": textfile, "pushgateway_url": pg.URL})
	if res["failed"] == true || res["attempts"] != 2.0 || res["warnings"] != nil {
		t.Fatalf("result %v", res)
	}
	text := readFile(t, textfile)
	wantSeries(t, text, map[string]float64{
		`threader_guard_retry_attempts{name="migrate-db"}`:                       2,
		`threader_guard_retry_max_attempts{name="migrate-db"}`:                   3,
		`threader_guard_retry_delay_seconds{name="migrate-db"}`:                  0.01,
		`threader_guard_retry_last_exit_code{name="migrate-db"}`:                 0,
		`threader_guard_retry_last_outcome{name="migrate-db",outcome="success"}`: 1,
		`threader_guard_retry_last_outcome{name="migrate-db",outcome="failure"}`: 0,
		`threader_guard_retry_last_outcome{name="migrate-db",outcome="timeout"}`: 0,
	})
	if !(value(text, `threader_guard_retry_duration_seconds{name="migrate-db"}`) >= 0.01) ||
		!(value(text, `threader_guard_retry_last_success_timestamp_seconds{name="migrate-db"}`) > 0) ||
		!math.IsNaN(value(text, `threader_guard_retry_last_failure_timestamp_seconds{name="migrate-db"}`)) {
		t.Errorf("duration or timestamps wrong:\n%s", text)
	}
	if pushes, _ := pg.got(); len(pushes) != 1 || groupingKey(pushes[0]) != "POST instance="+host+" job=retry_command name=migrate-db" {
		t.Errorf("pushes %v", pushes)
	}
	lines := sock.lines(t, 3)
	wantInLine(t, lines[0], " ansible-retry_command[", "event=retry_attempt module=retry_command name=migrate-db attempt=1 max_attempts=3 exit_code=1 took_seconds=",
		"next=retry delay_seconds=0.01 error=\"exit status 1\"")
	wantInLine(t, lines[1], "event=retry_attempt module=retry_command name=migrate-db attempt=2 max_attempts=3 exit_code=0 took_seconds=", "next=done")
	wantInLine(t, lines[2], "event=retry_finished module=retry_command name=migrate-db outcome=success attempts=2 exit_code=0 delay_seconds=0.01 took_seconds=", "stop=succeeded")
}

func TestModuleExhaustedRunIsAFailure(t *testing.T) {
	sock := newSyslogSocket(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	res := invokeModule(t, sock.path, map[string]any{"argv": []string{"sh", "-c", "exit 3"}, "attempts": 2, "base_seconds": 0,
		"metrics_textfile": textfile})
	if res["failed"] != true || res["attempts"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	text := readFile(t, textfile)
	wantSeries(t, text, map[string]float64{
		`threader_guard_retry_attempts{name="retry_command"}`:                       2,
		`threader_guard_retry_last_exit_code{name="retry_command"}`:                 3,
		`threader_guard_retry_last_outcome{name="retry_command",outcome="failure"}`: 1,
		`threader_guard_retry_last_outcome{name="retry_command",outcome="success"}`: 0,
	})
	if !(value(text, `threader_guard_retry_last_failure_timestamp_seconds{name="retry_command"}`) > 0) {
		t.Errorf("no failure timestamp:\n%s", text)
	}
	lines := sock.lines(t, 3)
	wantInLine(t, lines[1], "attempt=2 max_attempts=2 exit_code=3", "next=give_up stop=exhausted error=\"exit status 3\"")
	wantInLine(t, lines[2], "event=retry_finished module=retry_command name=retry_command outcome=failure attempts=2 exit_code=3", "stop=exhausted")
}

func TestModuleTimeoutsAndStartFailuresHaveExitCodeMinusOne(t *testing.T) {
	sock := newSyslogSocket(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	invokeModule(t, sock.path, map[string]any{"argv": []string{"sleep", "30"}, "attempts": 1, "timeout_seconds": 0.1,
		"kill_grace_seconds": 1, "name": "hung", "metrics_textfile": textfile})
	invokeModule(t, sock.path, map[string]any{"argv": []string{"/nonexistent/tool"}, "name": "missing", "metrics_textfile": textfile})
	// The deadline ends the run before the 10 s delay: outcome timeout.
	invokeModule(t, sock.path, map[string]any{"argv": []string{"false"}, "attempts": 5, "base_seconds": 10, "deadline_seconds": 1,
		"name": "deadline", "metrics_textfile": textfile})
	text := readFile(t, textfile)
	wantSeries(t, text, map[string]float64{
		`threader_guard_retry_last_exit_code{name="hung"}`:                     -1,
		`threader_guard_retry_last_outcome{name="hung",outcome="failure"}`:     1,
		`threader_guard_retry_last_exit_code{name="missing"}`:                  -1,
		`threader_guard_retry_attempts{name="missing"}`:                        1,
		`threader_guard_retry_last_outcome{name="missing",outcome="failure"}`:  1,
		`threader_guard_retry_last_exit_code{name="deadline"}`:                 1,
		`threader_guard_retry_last_outcome{name="deadline",outcome="timeout"}`: 1,
		`threader_guard_retry_last_outcome{name="deadline",outcome="failure"}`: 0,
	})
	lines := sock.lines(t, 6)
	wantInLine(t, lines[0], "name=hung attempt=1 max_attempts=1 exit_code=-1", "error=\"timed out after ")
	wantInLine(t, lines[2], "name=missing attempt=1 max_attempts=3 exit_code=-1", "stop=not_retryable error=")
	wantInLine(t, lines[5], "event=retry_finished module=retry_command name=deadline outcome=timeout attempts=1 exit_code=1", "stop=deadline")
}

// rollback: true publishes the rollback metrics the ThreaderGuardRollbackFailed
// alert watches, besides the retry metrics, and logs a rollback line; a
// plain command publishes none.
func TestModuleRollbackPublishesItsOutcome(t *testing.T) {
	sock := newSyslogSocket(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	res := invokeModule(t, sock.path, map[string]any{"argv": []string{"sh", "-c", "exit 2"}, "attempts": 2, "base_seconds": 0,
		"rollback": true, "name": "rollback", "metrics_textfile": textfile})
	if res["failed"] != true || res["attempts"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	invokeModule(t, sock.path, map[string]any{"argv": flaky(t, 1), "attempts": 2, "base_seconds": 0,
		"rollback": true, "name": "rollback-web", "metrics_textfile": textfile})
	invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "name": "deploy", "metrics_textfile": textfile})
	text := readFile(t, textfile)
	wantSeries(t, text, map[string]float64{
		`threader_guard_rollback_last_outcome{name="rollback",outcome="failure"}`:     1,
		`threader_guard_rollback_last_outcome{name="rollback",outcome="success"}`:     0,
		`threader_guard_rollback_last_outcome{name="rollback",outcome="timeout"}`:     0,
		`threader_guard_retry_attempts{name="rollback"}`:                              2,
		`threader_guard_rollback_last_outcome{name="rollback-web",outcome="success"}`: 1,
		`threader_guard_rollback_last_outcome{name="rollback-web",outcome="failure"}`: 0,
	})
	if !(value(text, `threader_guard_rollback_last_failure_timestamp_seconds{name="rollback"}`) > 0) ||
		!(value(text, `threader_guard_rollback_last_attempt_timestamp_seconds{name="rollback"}`) > 0) ||
		!(value(text, `threader_guard_rollback_duration_seconds{name="rollback"}`) >= 0) ||
		!math.IsNaN(value(text, `threader_guard_rollback_last_success_timestamp_seconds{name="rollback"}`)) ||
		!(value(text, `threader_guard_rollback_last_success_timestamp_seconds{name="rollback-web"}`) > 0) {
		t.Errorf("rollback timestamps or duration wrong:\n%s", text)
	}
	if strings.Contains(text, `threader_guard_rollback_last_outcome{name="deploy"`) {
		t.Errorf("a command without rollback: true published rollback metrics:\n%s", text)
	}
	lines := sock.lines(t, 8) // 2 attempts + finished + rollback, twice
	wantInLine(t, lines[2], "event=retry_finished module=retry_command name=rollback outcome=failure")
	wantInLine(t, lines[3], " ansible-retry_command[", "<11>", "event=rollback module=retry_command name=rollback outcome=failure exit_code=2 took_seconds=",
		`error="exit status 2"`)
	wantInLine(t, lines[7], "<13>", "event=rollback module=retry_command name=rollback-web outcome=success exit_code=0 took_seconds=")
	if strings.Contains(lines[7], "error=") {
		t.Errorf("a successful rollback logged an error: %q", lines[7])
	}
	if line := sock.next(t); strings.Contains(line, "event=rollback") {
		t.Errorf("a command without rollback: true logged a rollback: %q", line)
	}
}

// Neither a no_log value (the Pushgateway password), nor a secret in the
// command's environment or output, reaches the textfile, the push or the
// log; a no_log task logs nothing.
func TestModuleKeepsSecretsOutOfMetricsAndLogs(t *testing.T) {
	sock := newSyslogSocket(t)
	pg := newFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	const token, password = "env-t0ken-42", "pgw-s3cret"
	res := invokeModule(t, sock.path, map[string]any{
		"cmd": `echo "token=$API_TOKEN"; echo "token=$API_TOKEN" >&2; exit 1`, "shell": true, "env": map[string]any{"API_TOKEN": token},
		"attempts": 2, "base_seconds": 0, "name": "deploy-" + password, "metrics_textfile": textfile,
		"pushgateway_url": strings.Replace(pg.URL, "http://", "http://bot:"+password+"@", 1),
	})
	if res["failed"] != true || res["attempts"] != 2.0 {
		t.Fatalf("result %v", res)
	}
	pushes, bodies := pg.got()
	logged := strings.Join(sock.lines(t, 3), "\n")
	for where, text := range map[string]string{"textfile": readFile(t, textfile), "push": strings.Join(append(pushes, bodies...), "\n"), "log": logged} {
		for _, secret := range []string{token, password} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q:\n%s", where, secret, text)
			}
		}
	}
	if !strings.Contains(readFile(t, textfile), `name="deploy-********"`) || !strings.Contains(logged, "name=deploy-********") {
		t.Errorf("the name is not masked:\n%s\n%s", readFile(t, textfile), logged)
	}

	invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "name": "quiet", "_ansible_no_log": true})
	invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "name": "loud"})
	if line := sock.next(t); !strings.Contains(line, "name=loud") {
		t.Errorf("the no_log task logged: %q", line)
	}
}

func TestModuleCheckModeAndSkippedRunsPublishNoRun(t *testing.T) {
	sock := newSyslogSocket(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "threader_guard.prom")
	res := invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "metrics_textfile": textfile, "_ansible_check_mode": true})
	if res["skipped"] != true {
		t.Fatalf("check mode: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published (stat: %v)", err)
	}
	res = invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "creates": dir, "metrics_textfile": textfile})
	if res["changed"] != false {
		t.Fatalf("creates: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("a run that did not run the command published (stat: %v)", err)
	}
	invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "name": "ran"})
	if line := sock.next(t); !strings.Contains(line, "name=ran") {
		t.Errorf("check mode or a skipped run logged: %q", line)
	}
}

func TestModuleNameAndDestinationErrors(t *testing.T) {
	sock := newSyslogSocket(t)
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
		res := invokeModule(t, sock.path, tc.args)
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: result %v, want a failure starting %q", tc.args, res, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); !os.IsNotExist(err) {
		t.Error("the command ran despite a bad option")
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	res := invokeModule(t, sock.path, map[string]any{"argv": []string{"true"}, "pushgateway_url": closed.URL})
	warnings, _ := res["warnings"].([]any)
	if res["failed"] == true || len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want success with one warning, got %v", res)
	}
}

func TestCLIPublishesAndLogs(t *testing.T) {
	sock := newSyslogSocket(t)
	t.Setenv(observe.SyslogSocketEnv, sock.path)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	var stderr bytes.Buffer
	code := cli(context.Background(), []string{"--name", "ci-step", "--metrics-textfile", textfile, "2", "0", "--", "sh", "-c", "exit 4"}, nil, io.Discard, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	wantSeries(t, readFile(t, textfile), map[string]float64{
		`threader_guard_retry_attempts{name="ci-step"}`:                       2,
		`threader_guard_retry_last_exit_code{name="ci-step"}`:                 4,
		`threader_guard_retry_last_outcome{name="ci-step",outcome="failure"}`: 1,
	})
	lines := sock.lines(t, 3)
	wantInLine(t, lines[0], " retry_command[", "event=retry_attempt module=retry_command name=ci-step attempt=1 max_attempts=2 exit_code=4")
	wantInLine(t, lines[2], "event=retry_finished module=retry_command name=ci-step outcome=failure attempts=2")
	if strings.Contains(lines[0], "ansible-") {
		t.Errorf("the CLI logs as retry_command, not as the module: %q", lines[0])
	}
	// --no-syslog logs nothing: the next line is the following run's.
	cli(context.Background(), []string{"--no-syslog", "--", "true"}, nil, io.Discard, io.Discard)
	cli(context.Background(), []string{"--name", "after", "--", "true"}, nil, io.Discard, io.Discard)
	if line := sock.next(t); !strings.Contains(line, "name=after") {
		t.Errorf("--no-syslog logged: %q", line)
	}
}

func TestCLIRollbackFlag(t *testing.T) {
	sock := newSyslogSocket(t)
	t.Setenv(observe.SyslogSocketEnv, sock.path)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	var stderr bytes.Buffer
	code := cli(context.Background(), []string{"--rollback", "--name", "rollback", "--metrics-textfile", textfile, "1", "0", "--", "sh", "-c", "exit 5"},
		nil, io.Discard, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	wantSeries(t, readFile(t, textfile), map[string]float64{
		`threader_guard_rollback_last_outcome{name="rollback",outcome="failure"}`: 1,
		`threader_guard_retry_last_exit_code{name="rollback"}`:                    5,
	})
	lines := sock.lines(t, 3)
	wantInLine(t, lines[2], " retry_command[", "event=rollback module=retry_command name=rollback outcome=failure exit_code=5")
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
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var stderr bytes.Buffer
	if code := cli(context.Background(), []string{"--pushgateway-url", closed.URL, "--", "true"}, nil, io.Discard, &stderr); code != exitOK ||
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
