package qosguard

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/moduletest"
)

// qosGuard is the module run by this test binary (TestMain) as Ansible
// runs it, under its FQCN.
var qosGuard = moduletest.Self(Module)

func TestMain(m *testing.M) { moduletest.Main(m, Module) }

func TestModuleLockPublishesAndLogsTheChange(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	pg := moduletest.NewFakePushgateway(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "threader_guard.prom")
	host, _ := os.Hostname()
	res := qosGuard.Run(t, map[string]any{
		"state": "locked", "path": filepath.Join(dir, "guard"), "minutes": 30, "reason": "rollback of build 7",
		"owner": "ci", "name": "web", "metrics_textfile": textfile, "pushgateway_url": pg.URL,
	}, sock.Env()).JSON
	if res["failed"] == true || res["changed"] != true || res["warnings"] != nil {
		t.Fatalf("result %v", res)
	}
	text := moduletest.ReadFile(t, textfile)
	expires, _ := time.Parse(time.RFC3339, res["expires_at"].(string))
	lockedAt, _ := time.Parse(time.RFC3339, res["locked_at"].(string))
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_locked{name="web"}`:                        1,
		`threader_guard_lock_expiry_timestamp_seconds{name="web"}`: float64(expires.Unix()),
		`threader_guard_locked_at_timestamp_seconds{name="web"}`:   float64(lockedAt.Unix()),
	})
	for _, series := range []string{`threader_guard_lock_last_change_timestamp_seconds{name="web"}`, `threader_guard_lock_last_evaluation_timestamp_seconds{name="web"}`} {
		if moduletest.Sample(text, series) == "" {
			t.Errorf("no %s\n%s", series, text)
		}
	}
	pushes := pg.Pushes()
	if want := "POST instance=" + host + " job=qos_guard name=web"; len(pushes) != 1 || pushes[0].GroupingKey() != want {
		t.Errorf("pushes %v, want one to %s", pushes, want)
	}
	line := sock.Next(t)
	for _, want := range []string{" ansible-qos_guard[", "event=guard_state_change module=qos_guard name=web from=unlocked to=locked action=lock locked_at=",
		` reason="rollback of build 7" owner=ci check_mode=false`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
}

func TestModuleStatusAndRelockKeepTheLastChange(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	guardPath := filepath.Join(dir, "guard")
	lock := map[string]any{"state": "locked", "path": guardPath, "minutes": 30, "metrics_textfile": textfile}
	qosGuard.Run(t, lock, sock.Env())
	sock.Next(t) // the lock's guard_state_change
	changed := moduletest.Sample(moduletest.ReadFile(t, textfile), `threader_guard_lock_last_change_timestamp_seconds{name="qos_guard"}`)

	// A relock within the slack and a status change nothing: no log line,
	// and the last change stays the lock's.
	if res := qosGuard.Run(t, lock, sock.Env()).JSON; res["changed"] != false {
		t.Fatalf("relock changed: %v", res)
	}
	res := qosGuard.Run(t, map[string]any{"path": guardPath, "metrics_textfile": textfile}, sock.Env()).JSON
	if res["failed"] == true || res["locked"] != true {
		t.Fatalf("status: %v", res)
	}
	text := moduletest.ReadFile(t, textfile)
	if got := moduletest.Value(text, `threader_guard_locked{name="qos_guard"}`); got != 1 {
		t.Errorf("locked = %v after status\n%s", got, text)
	}
	if got := moduletest.Sample(text, `threader_guard_lock_last_change_timestamp_seconds{name="qos_guard"}`); got != changed || changed == "" {
		t.Errorf("last change %q, want the lock's %q", got, changed)
	}

	res = qosGuard.Run(t, map[string]any{"state": "unlocked", "path": guardPath, "metrics_textfile": textfile}, sock.Env()).JSON
	if res["changed"] != true {
		t.Fatalf("unlock: %v", res)
	}
	// The first line after the lock's is the unlock's: relock and status logged nothing.
	if line := sock.Next(t); !strings.Contains(line, "event=guard_state_change module=qos_guard name=qos_guard from=locked to=unlocked action=unlock") {
		t.Errorf("unlock log line %q", line)
	}
	text = moduletest.ReadFile(t, textfile)
	for _, series := range []string{`threader_guard_locked{name="qos_guard"}`,
		`threader_guard_lock_expiry_timestamp_seconds{name="qos_guard"}`, `threader_guard_locked_at_timestamp_seconds{name="qos_guard"}`} {
		if got := moduletest.Value(text, series); got != 0 {
			t.Errorf("after unlock %s = %v, want 0", series, got)
		}
	}
}

func TestModuleCheckModePublishesNothingAndNoLogLogsNothing(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	guardPath := filepath.Join(dir, "guard")
	res := qosGuard.Run(t, map[string]any{"state": "locked", "path": guardPath, "metrics_textfile": textfile, "_ansible_check_mode": true}, sock.Env()).JSON
	if res["changed"] != true || res["failed"] == true {
		t.Fatalf("check mode: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published metrics (stat: %v)", err)
	}
	if line := sock.Next(t); !strings.Contains(line, "action=lock") || !strings.Contains(line, "check_mode=true") {
		t.Errorf("check mode log line %q, want the planned change", line)
	}
	qosGuard.Run(t, map[string]any{"state": "locked", "path": guardPath, "name": "secret-task", "_ansible_no_log": true}, sock.Env())
	qosGuard.Run(t, map[string]any{"state": "unlocked", "path": guardPath, "name": "loud"}, sock.Env())
	if line := sock.Next(t); !strings.Contains(line, "name=loud") {
		t.Errorf("the no_log task logged: %q", line)
	}
}

func TestModuleMasksThePushgatewayPassword(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	pg := moduletest.NewFakePushgateway(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	const secret = "pgw-s3cret"
	res := qosGuard.Run(t, map[string]any{
		"state": "locked", "path": filepath.Join(dir, "guard"), "reason": "token " + secret, "name": "web-" + secret,
		"metrics_textfile": textfile, "pushgateway_url": strings.Replace(pg.URL, "http://", "http://bot:"+secret+"@", 1),
	}, sock.Env()).JSON
	if res["failed"] == true {
		t.Fatalf("result %v", res)
	}
	if pushes := pg.Pushes(); len(pushes) != 1 || pushes[0].User != "bot" || pushes[0].Password != secret {
		t.Errorf("pushes %+v, want one with the basic auth of the URL", pushes)
	}
	line := sock.Next(t)
	for where, text := range map[string]string{"textfile": moduletest.ReadFile(t, textfile), "push": pg.Sent(), "log": line} {
		if strings.Contains(text, secret) {
			t.Errorf("the password is in the %s: %q", where, text)
		}
	}
	if !strings.Contains(moduletest.ReadFile(t, textfile), `name="web-********"`) || !strings.Contains(line, `reason="token ********"`) {
		t.Errorf("masked values missing:\n%s\n%s", moduletest.ReadFile(t, textfile), line)
	}
}

func TestModuleOptionErrorsAndPublishWarnings(t *testing.T) {
	sock := moduletest.NewSyslog(t)
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
		res := qosGuard.Run(t, tc.args, sock.Env()).JSON
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: result %v, want a failure starting %q", tc.args, res, tc.want)
		}
	}
	res := qosGuard.Run(t, map[string]any{"state": "locked", "path": guardPath, "pushgateway_url": moduletest.ClosedURL()}, sock.Env()).JSON
	warnings, _ := res["warnings"].([]any)
	if res["failed"] == true || res["changed"] != true || len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want the lock taken and one warning, got %v", res)
	}
}

func TestCLIPublishesAndLogs(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	t.Setenv(observe.SyslogSocketEnv, sock.Path)
	pg := moduletest.NewFakePushgateway(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "g.prom")
	guardPath := filepath.Join(dir, "guard")
	var stdout, stderr bytes.Buffer
	code := cli([]string{"--path", guardPath, "--name", "ci-window", "--metrics-textfile", textfile, "--pushgateway-url", pg.URL,
		"lock", "5", "--reason", "promotion"}, &stdout, &stderr)
	if code != exitOK || stderr.Len() != 0 {
		t.Fatalf("lock: exit %d, stderr %q", code, stderr.String())
	}
	if got := moduletest.Value(moduletest.ReadFile(t, textfile), `threader_guard_locked{name="ci-window"}`); got != 1 {
		t.Errorf("locked = %v\n%s", got, moduletest.ReadFile(t, textfile))
	}
	host, _ := os.Hostname()
	if pushes := pg.Pushes(); len(pushes) != 1 || pushes[0].GroupingKey() != "POST instance="+host+" job=qos_guard name=ci-window" {
		t.Errorf("pushes %v", pushes)
	}
	// The CLI logs as qos_guard, not ansible-qos_guard.
	if line := sock.Next(t); !strings.Contains(line, " qos_guard[") || !strings.Contains(line, "module=qos_guard name=ci-window from=unlocked to=locked action=lock") {
		t.Errorf("log line %q", line)
	}
	// --no-syslog: the next line on the socket is the unlock's.
	cli([]string{"--path", guardPath, "--no-syslog", "lock", "60"}, io.Discard, io.Discard)
	if code := cli([]string{"--path", guardPath, "--metrics-textfile", textfile, "unlock"}, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("unlock exit %d", code)
	}
	if line := sock.Next(t); !strings.Contains(line, "name=qos_guard from=locked to=unlocked action=unlock") {
		t.Errorf("log line %q, want the unlock's (the --no-syslog lock logged?)", line)
	}
	text := moduletest.ReadFile(t, textfile)
	if moduletest.Value(text, `threader_guard_locked{name="qos_guard"}`) != 0 || moduletest.Value(text, `threader_guard_locked{name="ci-window"}`) != 1 {
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
		{[]string{"--metrics-textfile", "g.prom", "status"}, `qos_guard: --metrics-textfile: "g.prom" must be an absolute path`},
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
	var stdout, stderr bytes.Buffer
	code := cli([]string{"--path", guardPath, "--pushgateway-url", moduletest.ClosedURL(), "status"}, &stdout, &stderr)
	if code != exitLocked || !strings.HasPrefix(stderr.String(), "qos_guard: warning: metrics not published: --pushgateway-url ") {
		t.Errorf("unreachable Pushgateway: exit %d, stderr %q; want %d and a warning", code, stderr.String(), exitLocked)
	}
}

// A break-glass over a lock and a freeze: threader_guard_frozen 1, the
// audit log's break-glass count as threader_guard_break_glass_total (a
// counter), and one event=guard_break_glass line; a later status run
// publishes the same count.
func TestModuleBreakGlassPublishesFrozenCountAndLogs(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	dir := t.TempDir()
	textfile := filepath.Join(dir, "threader_guard.prom")
	guardPath, audit := filepath.Join(dir, "guard"), filepath.Join(dir, "log", "audit.jsonl")
	lock := qosGuard.Run(t, map[string]any{"state": "locked", "path": guardPath, "reason": "rollback 7", "audit_log": audit}, sock.Env()).JSON
	if lock["failed"] == true {
		t.Fatalf("lock: %v", lock)
	}
	sock.Next(t) // the lock's guard_state_change
	always := []any{map[string]any{"name": "always", "start": "* * * * *", "duration": "24h"}}
	args := map[string]any{"path": guardPath, "fail_when_locked": true, "break_glass": true, "reason": "hotfix INC-1",
		"owner": "alice", "name": "web", "audit_log": audit, "metrics_textfile": textfile, "freeze_windows": always}
	res := qosGuard.Run(t, args, sock.Env()).JSON
	if res["failed"] == true || res["break_glass_used"] != true {
		t.Fatalf("break glass: %v", res)
	}
	text := moduletest.ReadFile(t, textfile)
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_frozen{name="web"}`:            1,
		`threader_guard_break_glass_total{name="web"}`: 1,
		`threader_guard_locked{name="web"}`:            1,
	})
	if !strings.Contains(text, "# TYPE threader_guard_break_glass_total counter\n") {
		t.Errorf("threader_guard_break_glass_total is not a counter:\n%s", text)
	}
	line := sock.Next(t)
	for _, want := range []string{"event=guard_break_glass module=qos_guard name=web guard=" + guardPath, `owner=alice reason="hotfix INC-1" locked=true lock_reason="rollback 7" windows=always`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	args["break_glass"], args["fail_when_locked"] = false, false
	qosGuard.Run(t, args, sock.Env())
	moduletest.WantSeries(t, moduletest.ReadFile(t, textfile), map[string]float64{`threader_guard_break_glass_total{name="web"}`: 1})
}
