package qosguard

import (
	"bytes"
	"encoding/json"
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
	"github.com/threader/guard/internal/metrics/observe"
)

// moduleArgsEnv makes the test binary run the module (see TestMain):
// ansiblemod.Run takes over fd 1 for good, so a module run needs a process.
const moduleArgsEnv = "QOSGUARD_TEST_MODULE_ARGS"

func TestMain(m *testing.M) {
	if path := os.Getenv(moduleArgsEnv); path != "" {
		os.Exit(ansiblemod.Run(Module.Name, Module.Spec, Module.Handler, []string{"AnsiballZ_qos_guard", path}))
	}
	os.Exit(m.Run())
}

// invokeModule runs the module as Ansible does, under its FQCN, with the
// system log at socket, and returns its JSON result.
func invokeModule(t *testing.T, socket string, args map[string]any) map[string]any {
	t.Helper()
	full := map[string]any{"_ansible_module_name": "threader.guard.qos_guard"}
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
	dir, err := os.MkdirTemp("", "qg") // short: socket paths are limited to 108 bytes
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
	f, err := strconv.ParseFloat(sample(text, series), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// sample returns the value of one series in a textfile, "" when absent.
func sample(text, series string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestModuleLockPublishesAndLogsTheChange(t *testing.T) {
	sock := newSyslogSocket(t)
	pg := newFakePushgateway(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "threader_guard.prom")
	host, _ := os.Hostname()
	res := invokeModule(t, sock.path, map[string]any{
		"state": "locked", "path": filepath.Join(dir, "guard"), "minutes": 30, "reason": "rollback of build 7",
		"owner": "ci", "name": "web", "metrics_textfile": textfile, "pushgateway_url": pg.URL,
	})
	if res["failed"] == true || res["changed"] != true || res["warnings"] != nil {
		t.Fatalf("result %v", res)
	}
	text := readFile(t, textfile)
	expires, _ := time.Parse(time.RFC3339, res["expires_at"].(string))
	lockedAt, _ := time.Parse(time.RFC3339, res["locked_at"].(string))
	for series, want := range map[string]float64{
		`threader_guard_locked{name="web"}`:                        1,
		`threader_guard_lock_expiry_timestamp_seconds{name="web"}`: float64(expires.Unix()),
		`threader_guard_locked_at_timestamp_seconds{name="web"}`:   float64(lockedAt.Unix()),
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v\n%s", series, got, want, text)
		}
	}
	for _, series := range []string{`threader_guard_lock_last_change_timestamp_seconds{name="web"}`, `threader_guard_lock_last_evaluation_timestamp_seconds{name="web"}`} {
		if sample(text, series) == "" {
			t.Errorf("no %s\n%s", series, text)
		}
	}
	pushes, _ := pg.got()
	if want := "POST instance=" + host + " job=qos_guard name=web"; len(pushes) != 1 || groupingKey(pushes[0]) != want {
		t.Errorf("pushes %v, want one to %s", pushes, want)
	}
	line := sock.next(t)
	for _, want := range []string{" ansible-qos_guard[", "event=guard_state_change module=qos_guard name=web from=unlocked to=locked action=lock locked_at=",
		` reason="rollback of build 7" owner=ci check_mode=false`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
}

func TestModuleStatusAndRelockKeepTheLastChange(t *testing.T) {
	sock := newSyslogSocket(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	guardPath := filepath.Join(dir, "guard")
	lock := map[string]any{"state": "locked", "path": guardPath, "minutes": 30, "metrics_textfile": textfile}
	invokeModule(t, sock.path, lock)
	sock.next(t) // the lock's guard_state_change
	changed := sample(readFile(t, textfile), `threader_guard_lock_last_change_timestamp_seconds{name="qos_guard"}`)

	// A relock within the slack and a status change nothing: no log line,
	// and the last change stays the lock's.
	if res := invokeModule(t, sock.path, lock); res["changed"] != false {
		t.Fatalf("relock changed: %v", res)
	}
	res := invokeModule(t, sock.path, map[string]any{"path": guardPath, "metrics_textfile": textfile})
	if res["failed"] == true || res["locked"] != true {
		t.Fatalf("status: %v", res)
	}
	text := readFile(t, textfile)
	if got := value(text, `threader_guard_locked{name="qos_guard"}`); got != 1 {
		t.Errorf("locked = %v after status\n%s", got, text)
	}
	if got := sample(text, `threader_guard_lock_last_change_timestamp_seconds{name="qos_guard"}`); got != changed || changed == "" {
		t.Errorf("last change %q, want the lock's %q", got, changed)
	}

	res = invokeModule(t, sock.path, map[string]any{"state": "unlocked", "path": guardPath, "metrics_textfile": textfile})
	if res["changed"] != true {
		t.Fatalf("unlock: %v", res)
	}
	// The first line after the lock's is the unlock's: relock and status logged nothing.
	if line := sock.next(t); !strings.Contains(line, "event=guard_state_change module=qos_guard name=qos_guard from=locked to=unlocked action=unlock") {
		t.Errorf("unlock log line %q", line)
	}
	text = readFile(t, textfile)
	for _, series := range []string{`threader_guard_locked{name="qos_guard"}`,
		`threader_guard_lock_expiry_timestamp_seconds{name="qos_guard"}`, `threader_guard_locked_at_timestamp_seconds{name="qos_guard"}`} {
		if got := value(text, series); got != 0 {
			t.Errorf("after unlock %s = %v, want 0", series, got)
		}
	}
}

func TestModuleCheckModePublishesNothingAndNoLogLogsNothing(t *testing.T) {
	sock := newSyslogSocket(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	guardPath := filepath.Join(dir, "guard")
	res := invokeModule(t, sock.path, map[string]any{"state": "locked", "path": guardPath, "metrics_textfile": textfile, "_ansible_check_mode": true})
	if res["changed"] != true || res["failed"] == true {
		t.Fatalf("check mode: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published metrics (stat: %v)", err)
	}
	if line := sock.next(t); !strings.Contains(line, "action=lock") || !strings.Contains(line, "check_mode=true") {
		t.Errorf("check mode log line %q, want the planned change", line)
	}
	invokeModule(t, sock.path, map[string]any{"state": "locked", "path": guardPath, "name": "secret-task", "_ansible_no_log": true})
	invokeModule(t, sock.path, map[string]any{"state": "unlocked", "path": guardPath, "name": "loud"})
	if line := sock.next(t); !strings.Contains(line, "name=loud") {
		t.Errorf("the no_log task logged: %q", line)
	}
}

func TestModuleMasksThePushgatewayPassword(t *testing.T) {
	sock := newSyslogSocket(t)
	pg := newFakePushgateway(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	const secret = "pgw-s3cret"
	res := invokeModule(t, sock.path, map[string]any{
		"state": "locked", "path": filepath.Join(dir, "guard"), "reason": "token " + secret, "name": "web-" + secret,
		"metrics_textfile": textfile, "pushgateway_url": strings.Replace(pg.URL, "http://", "http://bot:"+secret+"@", 1),
	})
	if res["failed"] == true {
		t.Fatalf("result %v", res)
	}
	pushes, bodies := pg.got()
	line := sock.next(t)
	for where, text := range map[string]string{"textfile": readFile(t, textfile), "push": strings.Join(pushes, " ") + strings.Join(bodies, " "), "log": line} {
		if strings.Contains(text, secret) {
			t.Errorf("the password is in the %s: %q", where, text)
		}
	}
	if !strings.Contains(readFile(t, textfile), `name="web-********"`) || !strings.Contains(line, `reason="token ********"`) {
		t.Errorf("masked values missing:\n%s\n%s", readFile(t, textfile), line)
	}
}

func TestModuleOptionErrorsAndPublishWarnings(t *testing.T) {
	sock := newSyslogSocket(t)
	dir := t.TempDir()
	guardPath := filepath.Join(dir, "guard")
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"name": strings.Repeat("n", 200)}, "value of name "},
		{map[string]any{"name": "a\tb"}, `value of name "a\tb" contains control characters`},
		{map[string]any{"name": "  "}, "value of name must not be empty"},
		{map[string]any{"metrics_textfile": filepath.Join(dir, "g.txt")}, "metrics_textfile: "},
		{map[string]any{"pushgateway_url": "ftp://x"}, "pushgateway_url: "},
	} {
		tc.args["path"] = guardPath
		res := invokeModule(t, sock.path, tc.args)
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: result %v, want a failure starting %q", tc.args, res, tc.want)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	res := invokeModule(t, sock.path, map[string]any{"state": "locked", "path": guardPath, "pushgateway_url": closed.URL})
	warnings, _ := res["warnings"].([]any)
	if res["failed"] == true || res["changed"] != true || len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want the lock taken and one warning, got %v", res)
	}
}

func TestCLIPublishesAndLogs(t *testing.T) {
	sock := newSyslogSocket(t)
	t.Setenv(observe.SyslogSocketEnv, sock.path)
	pg := newFakePushgateway(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	guardPath := filepath.Join(dir, "guard")
	var stdout, stderr bytes.Buffer
	code := cli([]string{"--path", guardPath, "--name", "ci-window", "--metrics-textfile", textfile, "--pushgateway-url", pg.URL,
		"lock", "5", "--reason", "promotion"}, &stdout, &stderr)
	if code != exitOK || stderr.Len() != 0 {
		t.Fatalf("lock: exit %d, stderr %q", code, stderr.String())
	}
	if got := value(readFile(t, textfile), `threader_guard_locked{name="ci-window"}`); got != 1 {
		t.Errorf("locked = %v\n%s", got, readFile(t, textfile))
	}
	host, _ := os.Hostname()
	if pushes, _ := pg.got(); len(pushes) != 1 || groupingKey(pushes[0]) != "POST instance="+host+" job=qos_guard name=ci-window" {
		t.Errorf("pushes %v", pushes)
	}
	// The CLI logs as qos_guard, not ansible-qos_guard.
	if line := sock.next(t); !strings.Contains(line, " qos_guard[") || !strings.Contains(line, "module=qos_guard name=ci-window from=unlocked to=locked action=lock") {
		t.Errorf("log line %q", line)
	}
	// --no-syslog: the next line on the socket is the unlock's.
	cli([]string{"--path", guardPath, "--no-syslog", "lock", "60"}, io.Discard, io.Discard)
	if code := cli([]string{"--path", guardPath, "--metrics-textfile", textfile, "unlock"}, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("unlock exit %d", code)
	}
	if line := sock.next(t); !strings.Contains(line, "name=qos_guard from=locked to=unlocked action=unlock") {
		t.Errorf("log line %q, want the unlock's (the --no-syslog lock logged?)", line)
	}
	text := readFile(t, textfile)
	if value(text, `threader_guard_locked{name="qos_guard"}`) != 0 || value(text, `threader_guard_locked{name="ci-window"}`) != 1 {
		t.Errorf("two names share the file, each keeps its series:\n%s", text)
	}
}

func TestCLIFlagErrorsAndPublishWarnings(t *testing.T) {
	t.Setenv(observe.SyslogSocketEnv, filepath.Join(t.TempDir(), "none"))
	dir := t.TempDir()
	guardPath := filepath.Join(dir, "guard")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-textfile", filepath.Join(dir, "g.txt"), "status"}, "qos_guard: --metrics-textfile: "},
		{[]string{"--pushgateway-url", "ftp://x", "status"}, "qos_guard: --pushgateway-url: "},
		{[]string{"--name", "a\nb", "status"}, `qos_guard: --name "a\nb" contains control characters`},
	} {
		var stderr bytes.Buffer
		code := cli(append([]string{"--path", guardPath}, tc.args...), io.Discard, &stderr)
		if code != exitUsage || !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), exitUsage, tc.want)
		}
	}
	// A publish failure is a warning: status still answers with its exit code.
	cli([]string{"--path", guardPath, "lock"}, io.Discard, io.Discard)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	var stdout, stderr bytes.Buffer
	code := cli([]string{"--path", guardPath, "--pushgateway-url", closed.URL, "status"}, &stdout, &stderr)
	if code != exitLocked || !strings.HasPrefix(stderr.String(), "qos_guard: warning: metrics not published: --pushgateway-url ") {
		t.Errorf("unreachable Pushgateway: exit %d, stderr %q; want %d and a warning", code, stderr.String(), exitLocked)
	}
}
