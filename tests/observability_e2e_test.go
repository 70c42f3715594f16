package tests

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Secrets the e2e playbook hands to the modules; none may reach a metric,
// the Pushgateway or a log line.
const (
	e2eEnvToken    = "e2e-env-t0ken-7731"  // in a command's environment, echoed to its output
	e2ePushPass    = "e2e-pgw-s3cret-4410" // the Pushgateway basic-auth password
	e2eNoLogSecret = "e2e-nolog-s3cret-95" // in a no_log task's command, environment and output
	e2ePromPass    = "e2e-prom-s3cret-58"  // slo_check's Prometheus password (a no_log option)
)

// e2ePlaybook runs, through the installed collection, what issue #7's
// acceptance asks for: a lock, retried commands (a flaky one that fails
// once and succeeds, one that exhausts 4 attempts), an SLO gate that fails
// inside the locked guard-window, and a rollback that fails. Every module
// publishes to node_exporter's textfile and to the Pushgateway and logs to
// the test's socket. sloPrometheusURL serves the SLO scenario data
// (testenv.NewSLOScenarios).
func e2ePlaybook(work, textfile, pushgatewayURL, socket, sloPrometheusURL string) string {
	return fmt.Sprintf(`---
- name: observability end to end
  hosts: localhost
  gather_facts: false
  vars:
    work: %[1]s
    obs:
      metrics_textfile: %[2]s
      pushgateway_url: %[3]s
  # Inherited by every task's environment: the modules log to the test's
  # socket instead of /dev/log.
  environment:
    THREADER_GUARD_SYSLOG_SOCKET: %[4]s
  tasks:
    - name: lock in check mode
      threader.guard.qos_guard:
        state: locked
        path: "{{ work }}/check.guard"
        name: e2e-check-window
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"
      check_mode: true

    - name: lock
      threader.guard.qos_guard:
        state: locked
        path: "{{ work }}/e2e.guard"
        minutes: 30
        reason: e2e deployment
        owner: ci
        name: e2e-window
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"
      register: lock

    - name: flaky
      threader.guard.retry_command:
        argv: [/bin/sh, -c, 'echo "token=$API_TOKEN"; echo "token=$API_TOKEN" >&2; [ -e {{ work }}/flaky ] || { touch {{ work }}/flaky; exit 1; }']
        env:
          API_TOKEN: %[5]s
        attempts: 5
        base_seconds: 0.05
        name: e2e-flaky
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"

    - name: exhausted
      threader.guard.retry_command:
        cmd: sh -c 'echo "token=$API_TOKEN" >&2; exit 2'
        env:
          API_TOKEN: %[5]s
        attempts: 4
        base_seconds: 0
        name: e2e-exhausted
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"
      ignore_errors: true

    - name: no_log
      threader.guard.retry_command:
        argv: [/bin/sh, -c, 'echo %[6]s; exit 1']
        env:
          SECRET: %[6]s
        attempts: 2
        base_seconds: 0
        name: e2e-quiet
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"
      no_log: true
      ignore_errors: true

    # While e2e-window is locked: error_ratio fails (0.023 > 0.01),
    # health passes, no_data has no data (NaN). The gate fails the task.
    - name: slo check
      threader.guard.slo_check:
        prometheus_url: %[7]s
        prometheus_username: e2e
        prometheus_password: %[8]s
        loki_url: ""
        default_checks: false
        checks:
          - name: error_ratio
            query: avg_over_time(job:http_5xx_ratio_1m{job="unstable"}[15m])
            max: 0.01
          - name: health
            query: avg_over_time(job:health_ok_ratio_1m{job="stable"}[15m])
            min: 0.995
          - name: no_data
            query: avg_over_time(job:http_5xx_ratio_1m{job="gap"}[15m])
            max: 0.01
        request_retries: 0
        name: e2e-gate
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"
      ignore_errors: true

    - name: rollback
      threader.guard.retry_command:
        argv: [/bin/sh, -c, 'exit 3']
        attempts: 2
        base_seconds: 0
        rollback: true
        name: e2e-rollback
        metrics_textfile: "{{ obs.metrics_textfile }}"
        pushgateway_url: "{{ obs.pushgateway_url }}"
      ignore_errors: true

    # The last task: once its lines arrive, every earlier line has (the
    # socket keeps order and each module exits before the next starts).
    - name: sentinel
      threader.guard.retry_command:
        argv: ["true"]
        name: e2e-sentinel
`, work, textfile, pushgatewayURL, socket, e2eEnvToken, e2eNoLogSecret, sloPrometheusURL, e2ePromPass)
}

// TestObservabilityEndToEnd: after a lock, retried commands, an SLO gate
// and a rollback run through ansible-playbook, a real Prometheus scraping a
// real node_exporter (textfile collector) and a real Pushgateway shows
// their metrics; the alert rules load; ExcessiveRetries fires for the
// command that needed more than 3 attempts, SLOViolationDuringGuardWindow
// for the checks that failed while the guard-window was locked, and
// RollbackFailed for the rollback (and nothing else fires); and the system
// log got one line per attempt, guard change, check and rollback, without
// secrets.
func TestObservabilityEndToEnd(t *testing.T) {
	stack := testenv.StartObservabilityStack(t,
		filepath.Join(testenv.RepoRoot(), "files", "prometheus", "threader_guard.rules.yml"),
		filepath.Join(testenv.RepoRoot(), "files", "prometheus", "recording.rules.yml"))
	prom := stack.Prometheus
	c := testenv.InstallCollection(t)
	logs := listenSyslog(t)
	work := t.TempDir()
	textfile := stack.TextfilePath("threader_guard.prom")
	pushURL := strings.Replace(stack.Pushgateway.URL, "http://", "http://ci:"+e2ePushPass+"@", 1)
	sloData := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: testenv.NewSLOScenarios(time.Now(), time.Minute).Series})

	run := c.Playbook(t, e2ePlaybook(work, textfile, pushURL, logs.path, sloData.URL))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	for task, status := range map[string]string{"lock in check mode": "ok", "lock": "ok", "flaky": "ok", "exhausted": "ignored", "no_log": "ignored",
		"slo check": "ignored", "rollback": "ignored", "sentinel": "ok"} {
		if tr := run.Task(t, task); tr.Status != status || len(anyList(tr.Result["warnings"])) > 0 {
			t.Errorf("task %s: status %s (want %s), warnings %v", task, tr.Status, status, tr.Result["warnings"])
		}
	}
	lock := run.Task(t, "lock").Result
	lines := logs.until(t, "name=e2e-sentinel outcome=success")

	t.Run("metrics", func(t *testing.T) {
		// Every series arrives twice: job="node" (the textfile) and
		// job=<module> (the Pushgateway).
		prom.WaitQuery(t, `count by (job) (threader_guard_retry_attempts{name=~"e2e-.*"})`, "retry series by both paths",
			func(s []testenv.PromSample) bool { return len(s) == 2 && s[0].Value == "4" && s[1].Value == "4" }) // flaky, exhausted, quiet, rollback
		expires, _ := time.Parse(time.RFC3339, lock["expires_at"].(string))
		for query, want := range map[string]float64{
			`threader_guard_locked{name="e2e-window"}`:                                   1,
			`threader_guard_lock_expiry_timestamp_seconds{name="e2e-window"}`:            float64(expires.Unix()),
			`threader_guard_retry_attempts{name="e2e-flaky"}`:                            2,
			`threader_guard_retry_last_exit_code{name="e2e-flaky"}`:                      0,
			`threader_guard_retry_last_outcome{name="e2e-flaky", outcome="success"}`:     1,
			`threader_guard_retry_attempts{name="e2e-exhausted"}`:                        4,
			`threader_guard_retry_max_attempts{name="e2e-exhausted"}`:                    4,
			`threader_guard_retry_last_exit_code{name="e2e-exhausted"}`:                  2,
			`threader_guard_retry_last_outcome{name="e2e-exhausted", outcome="failure"}`: 1,
			`threader_guard_retry_last_outcome{name="e2e-exhausted", outcome="success"}`: 0,
			`threader_guard_retry_attempts{name="e2e-quiet"}`:                            2,
		} {
			wantBothPaths(t, prom.WaitQuery(t, query, query+" from both paths",
				func(s []testenv.PromSample) bool { return len(s) == 2 }), query, want)
		}
		for _, s := range prom.Query(t, `threader_guard_locked{name="e2e-window"}`) {
			if s.Metric["job"] != testenv.NodeJob && s.Metric["job"] != "qos_guard" {
				t.Errorf("the guard's series came by job %q; want node or qos_guard", s.Metric["job"])
			}
		}
		for _, s := range prom.Query(t, `threader_guard_retry_attempts{job!="node", name=~"e2e-.*"}`) {
			if s.Metric["job"] != "retry_command" {
				t.Errorf("pushed retry series with job %q, want retry_command", s.Metric["job"])
			}
		}
		if got := prom.Query(t, `{__name__=~"threader_guard_.+", name="e2e-check-window"}`); len(got) != 0 {
			t.Errorf("check mode published: %v", got)
		}
		if got := prom.Query(t, `node_textfile_scrape_error`); len(got) != 1 || got[0].Value != "0" {
			t.Errorf("node_textfile_scrape_error %v:\n%s", got, stack.NodeExporter.Output())
		}
	})

	t.Run("rules and alerts", func(t *testing.T) {
		rules := prom.Rules(t)
		var names []string
		for _, r := range rules {
			names = append(names, r.Name)
			if r.Health != "ok" && r.Health != "unknown" || r.LastError != "" {
				t.Errorf("rule %s/%s: health %s, error %q", r.Group, r.Name, r.Health, r.LastError)
			}
		}
		for _, want := range []string{"ThreaderGuardLockedTooLong", "ThreaderGuardSLOViolationDuringGuardWindow", "ThreaderGuardRollbackFailed",
			"ThreaderGuardExcessiveRetries", "threader_guard:lock_held_seconds", "job:http_5xx_ratio_1m"} {
			if !slices.Contains(names, want) {
				t.Errorf("rule %s is not loaded; loaded: %v", want, names)
			}
		}
		// Only this test's names (e2e-*) count: other tests on the machine
		// run servers too, and a port reused between them can mix data in.
		firing := prom.WaitQuery(t, `ALERTS{alertname="ThreaderGuardExcessiveRetries", alertstate="firing", name=~"e2e-.*"}`, "ExcessiveRetries for e2e-exhausted on both paths",
			func(s []testenv.PromSample) bool { return len(s) == 2 })
		for _, a := range firing {
			if a.Metric["name"] != "e2e-exhausted" {
				t.Errorf("ExcessiveRetries fired for %v; only e2e-exhausted made more than 3 attempts", a.Metric)
			}
		}
		if held := prom.Query(t, `threader_guard:lock_held_seconds{name="e2e-window"}`); len(held) != 2 {
			t.Errorf("threader_guard:lock_held_seconds %v, want the lock by both paths", held)
		}
	})

	t.Run("logs", func(t *testing.T) {
		want := map[string]int{
			"ansible-qos_guard[": 2, // the check-mode plan and the lock
			"event=guard_state_change module=qos_guard name=e2e-window from=unlocked to=locked action=lock": 1,
			"name=e2e-check-window from=unlocked to=locked action=lock":                                     1,
			"event=retry_attempt module=retry_command name=e2e-flaky ":                                      2,
			"event=retry_finished module=retry_command name=e2e-flaky outcome=success attempts=2":           1,
			"event=retry_attempt module=retry_command name=e2e-exhausted ":                                  4,
			"event=retry_finished module=retry_command name=e2e-exhausted outcome=failure attempts=4":       1,
			"name=e2e-quiet":     0, // no_log: true
			"ansible-slo_check[": 3, // one line per check
			"event=slo_evaluation module=slo_check name=e2e-gate check=error_ratio value=0.023":                1,
			`check=health value=0.999 comparison=">=" threshold=0.995 passed=true evaluation=1`:                1,
			`check=no_data value=NaN comparison="<=" threshold=0.01 passed=false evaluation=1 error="no data"`: 1,
			"event=retry_finished module=retry_command name=e2e-rollback outcome=failure attempts=2":           1,
			`event=rollback module=retry_command name=e2e-rollback outcome=failure exit_code=3`:                1,
		}
		for part, n := range want {
			if got := countContaining(lines, part); got != n {
				t.Errorf("%d log lines contain %q, want %d", got, part, n)
			}
		}
		for _, l := range lines {
			if strings.Contains(l, "ansible-threader.guard") || strings.Contains(l, "module=threader.guard") {
				t.Errorf("a line names the module by its FQCN: %q", l)
			}
		}
		t.Logf("log lines:\n%s", strings.Join(lines, "\n"))
	})

	t.Run("no secrets", func(t *testing.T) {
		textfileData, err := os.ReadFile(textfile)
		if err != nil {
			t.Fatal(err)
		}
		var labels strings.Builder
		for _, s := range prom.Query(t, `{__name__=~"threader_guard_.+|ALERTS"}`) {
			fmt.Fprintln(&labels, s.Metric)
		}
		sources := map[string]string{
			"textfile":          string(textfileData),
			"Pushgateway":       stack.Pushgateway.Metrics(t),
			"Prometheus labels": labels.String(),
			"system log":        strings.Join(lines, "\n"),
		}
		for where, text := range sources {
			for _, secret := range []string{e2eEnvToken, e2ePushPass, e2eNoLogSecret, e2ePromPass} {
				if strings.Contains(text, secret) {
					t.Errorf("the %s holds the secret %q", where, secret)
				}
			}
		}
	})

	t.Run("slo_check", func(t *testing.T) {
		gate := run.Task(t, "slo check").Result
		if gate["passed"] != false || gate["msg"] != "error_ratio 0.023 > 0.01; no_data: no data" {
			t.Errorf("slo check result: %v", gate)
		}
		// Each check by both paths: job="node" and job="slo_check".
		prom.WaitQuery(t, `count by (job) (threader_guard_slo_check_passed{name="e2e-gate"})`, "slo series by both paths",
			func(s []testenv.PromSample) bool { return len(s) == 2 && s[0].Value == "3" && s[1].Value == "3" })
		for _, s := range prom.Query(t, `threader_guard_slo_check_passed{name="e2e-gate"}`) {
			if s.Metric["job"] != testenv.NodeJob && s.Metric["job"] != "slo_check" {
				t.Errorf("an SLO series came by job %q; want node or slo_check", s.Metric["job"])
			}
		}
		for query, want := range map[string]float64{
			`threader_guard_slo_check_passed{name="e2e-gate", check="error_ratio"}`:    0,
			`threader_guard_slo_check_threshold{name="e2e-gate", check="error_ratio"}`: 0.01,
			`threader_guard_slo_check_passed{name="e2e-gate", check="health"}`:         1,
			`threader_guard_slo_check_threshold{name="e2e-gate", check="health"}`:      0.995,
			`threader_guard_slo_check_passed{name="e2e-gate", check="no_data"}`:        0,
		} {
			wantBothPaths(t, prom.WaitQuery(t, query, query+" from both paths",
				func(s []testenv.PromSample) bool { return len(s) == 2 }), query, want)
		}
		// The averages of constant series; no data is published as NaN.
		for check, want := range map[string]float64{"error_ratio": 0.023, "health": 0.999, "no_data": math.NaN()} {
			for _, s := range prom.Query(t, `threader_guard_slo_check_value{name="e2e-gate", check="`+check+`"}`) {
				v, err := strconv.ParseFloat(s.Value, 64)
				if err != nil || math.IsNaN(want) != math.IsNaN(v) || math.Abs(v-want) > 1e-12 {
					t.Errorf("value of %s = %s (job %s), want %v", check, s.Value, s.Metric["job"], want)
				}
			}
		}
		if got := prom.Query(t, `threader_guard_slo_check_last_evaluation_timestamp_seconds{name="e2e-gate"} >= on (instance) group_left () threader_guard_locked_at_timestamp_seconds{name="e2e-window"}`); len(got) != 6 {
			t.Errorf("%d checks evaluated after the lock was taken (by path), want 6: %v", len(got), got)
		}
		// The failing checks ran inside the locked e2e-window on the same
		// instance: the alert fires for error_ratio and no_data, by both
		// paths, and not for the passing health check.
		firing := prom.WaitQuery(t, `ALERTS{alertname="ThreaderGuardSLOViolationDuringGuardWindow", alertstate="firing", name=~"e2e-.*"}`,
			"SLOViolationDuringGuardWindow for error_ratio and no_data on both paths", func(s []testenv.PromSample) bool { return len(s) == 4 })
		var fired []string
		for _, a := range firing {
			fired = append(fired, a.Metric["name"]+"/"+a.Metric["check"])
		}
		slices.Sort(fired)
		if want := []string{"e2e-gate/error_ratio", "e2e-gate/error_ratio", "e2e-gate/no_data", "e2e-gate/no_data"}; !slices.Equal(fired, want) {
			t.Errorf("SLOViolationDuringGuardWindow fired for %v, want %v", fired, want)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		for query, want := range map[string]float64{
			`threader_guard_rollback_last_outcome{name="e2e-rollback", outcome="failure"}`: 1,
			`threader_guard_rollback_last_outcome{name="e2e-rollback", outcome="success"}`: 0,
			`threader_guard_retry_attempts{name="e2e-rollback"}`:                           2,
		} {
			wantBothPaths(t, prom.WaitQuery(t, query, query+" from both paths",
				func(s []testenv.PromSample) bool { return len(s) == 2 }), query, want)
		}
		if got := prom.Query(t, `threader_guard_rollback_last_failure_timestamp_seconds{name="e2e-rollback"} > 0`); len(got) != 2 {
			t.Errorf("rollback failure timestamp by both paths: %v", got)
		}
		if got := prom.Query(t, `threader_guard_rollback_last_outcome{name=~"e2e-.*", name!="e2e-rollback"}`); len(got) != 0 {
			t.Errorf("commands without rollback: true published rollback metrics: %v", got)
		}
		firing := prom.WaitQuery(t, `ALERTS{alertname="ThreaderGuardRollbackFailed", alertstate="firing", name=~"e2e-.*"}`,
			"RollbackFailed for e2e-rollback on both paths", func(s []testenv.PromSample) bool { return len(s) == 2 })
		for _, a := range firing {
			if a.Metric["name"] != "e2e-rollback" || a.Metric["outcome"] != "failure" {
				t.Errorf("RollbackFailed fired for %v; want e2e-rollback, outcome failure", a.Metric)
			}
		}
	})

	// Last, once the expected alerts fire: the lock is fresh (30 minutes,
	// just taken), so nothing else is pending or firing.
	t.Run("no other alerts", func(t *testing.T) {
		expected := map[string]string{"ThreaderGuardExcessiveRetries": "e2e-exhausted",
			"ThreaderGuardSLOViolationDuringGuardWindow": "e2e-gate", "ThreaderGuardRollbackFailed": "e2e-rollback"}
		for _, a := range prom.Alerts(t) {
			name := a.Labels["name"]
			if strings.HasPrefix(a.Labels["alertname"], "ThreaderGuard") && strings.HasPrefix(name, "e2e-") && expected[a.Labels["alertname"]] != name {
				t.Errorf("unexpected alert %v (%s)", a.Labels, a.State)
			}
		}
	})
}

// wantBothPaths checks that each sample (one per path) has the value want.
func wantBothPaths(t *testing.T, got []testenv.PromSample, query string, want float64) {
	t.Helper()
	for _, s := range got {
		v, err := strconv.ParseFloat(s.Value, 64)
		if err != nil || v != want {
			t.Errorf("%s = %s (job %s), want %v", query, s.Value, s.Metric["job"], want)
		}
	}
}

// TestObservabilityOptionsInAnsibleDoc: ansible-doc renders the shared
// fragment (threader.guard.observability) into each wired module's page.
func TestObservabilityOptionsInAnsibleDoc(t *testing.T) {
	c := testenv.InstallCollection(t)
	for _, module := range []string{"qos_guard", "retry_command", "slo_check", "canary_judge"} {
		doc := c.Doc(t, "threader.guard."+module)
		for _, want := range []string{"- metrics_textfile", "- pushgateway_url", "- name", "THREADER_GUARD_SYSLOG_SOCKET", "docs/metrics.md"} {
			if !strings.Contains(doc, want) {
				t.Errorf("ansible-doc threader.guard.%s lacks %q", module, want)
			}
		}
	}
}

// syslogListener is a unixgram socket standing in for /dev/log, read as
// the modules write to it.
type syslogListener struct {
	path  string
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func listenSyslog(t *testing.T) *syslogListener {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l := &syslogListener{path: filepath.Join(dir, "log"), added: make(chan struct{}, 1)}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: l.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			l.mu.Lock()
			l.lines = append(l.lines, string(buf[:n]))
			l.mu.Unlock()
			select {
			case l.added <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

// until returns every line received once one contains last.
func (l *syslogListener) until(t *testing.T, last string) []string {
	t.Helper()
	deadline := time.After(120 * time.Second) // only bounds a broken test (generous: a loaded machine is slow)
	for {
		l.mu.Lock()
		lines := append([]string(nil), l.lines...)
		l.mu.Unlock()
		if countContaining(lines, last) > 0 {
			return lines
		}
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("no log line containing %q; got:\n%s", last, strings.Join(lines, "\n"))
		}
	}
}

func countContaining(lines []string, part string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, part) {
			n++
		}
	}
	return n
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}
