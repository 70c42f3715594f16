package tests

import (
	"fmt"
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
)

// e2ePlaybook runs, through the installed collection, what issue #7's
// acceptance asks for: a lock, a retried command (a flaky one that fails
// once and succeeds, one that exhausts 4 attempts) and, once slo_check is
// wired, an SLO check. Every module publishes to node_exporter's textfile
// and to the Pushgateway and logs to the test's socket.
func e2ePlaybook(work, textfile, pushgatewayURL, socket string) string {
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

    # ---- SLO CHECK (lead: add here once slo_check publishes) ----------
    # - name: slo check
    #   threader.guard.slo_check:
    #     name: e2e-gate
    #     ...
    #     metrics_textfile: "{{ obs.metrics_textfile }}"
    #     pushgateway_url: "{{ obs.pushgateway_url }}"
    # and assert its series, its slo_evaluation lines and the
    # ThreaderGuardSLOViolationDuringGuardWindow alert in the "slo_check"
    # subtest of TestObservabilityEndToEnd.
    # ---------------------------------------------------------------

    # The last task: once its lines arrive, every earlier line has (the
    # socket keeps order and each module exits before the next starts).
    - name: sentinel
      threader.guard.retry_command:
        argv: ["true"]
        name: e2e-sentinel
`, work, textfile, pushgatewayURL, socket, e2eEnvToken, e2eNoLogSecret)
}

// TestObservabilityEndToEnd: after a lock and retried commands run through
// ansible-playbook, a real Prometheus scraping a real node_exporter
// (textfile collector) and a real Pushgateway shows their metrics, the
// alert rules load and ExcessiveRetries fires for the command that needed
// more than 3 attempts (and nothing else fires), and the system log got one
// line per attempt and per guard change, without secrets.
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

	run := c.Playbook(t, e2ePlaybook(work, textfile, pushURL, logs.path))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	for task, status := range map[string]string{"lock in check mode": "ok", "lock": "ok", "flaky": "ok", "exhausted": "ignored", "no_log": "ignored", "sentinel": "ok"} {
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
			func(s []testenv.PromSample) bool { return len(s) == 2 && s[0].Value == "3" && s[1].Value == "3" }) // flaky, exhausted, quiet
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
		// The lock is fresh (30 minutes, just taken), no rollback ran and
		// no SLO check failed: nothing else is pending or firing.
		for _, a := range prom.Alerts(t) {
			if strings.HasPrefix(a.Labels["alertname"], "ThreaderGuard") && strings.HasPrefix(a.Labels["name"], "e2e-") && a.Labels["alertname"] != "ThreaderGuardExcessiveRetries" {
				t.Errorf("unexpected alert %v (%s)", a.Labels, a.State)
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
			"name=e2e-quiet": 0, // no_log: true
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
			for _, secret := range []string{e2eEnvToken, e2ePushPass, e2eNoLogSecret} {
				if strings.Contains(text, secret) {
					t.Errorf("the %s holds the secret %q", where, secret)
				}
			}
		}
	})

	t.Run("slo_check", func(t *testing.T) {
		// Lead: extend once slo_check publishes (see "SLO CHECK" in
		// e2ePlaybook): its threader_guard_slo_check_* series by both paths,
		// one slo_evaluation line per check, and a failing check inside the
		// locked e2e-window firing ThreaderGuardSLOViolationDuringGuardWindow.
		t.Skip("slo_check is not wired to metrics and logs yet")
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
	for _, module := range []string{"qos_guard", "retry_command"} {
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
	deadline := time.After(30 * time.Second) // only bounds a broken test
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
