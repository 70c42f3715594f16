package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// slo_check through real ansible-playbook and the built CLI, against a real
// Prometheus 2.42 started here (with the SLO scenario data backfilled by
// promtool) and the fake Loki (real Loki cannot be installed here).

const sloTenant = "team-a"

func sloPlay(promURL, lokiURL, tasks string) string {
	return fmt.Sprintf(`---
- name: slo_check test
  hosts: localhost
  gather_facts: false
  module_defaults:
    threader.guard.slo_check:
      prometheus_url: %s
      loki_url: %s
      loki_tenant: %s
      request_timeout_seconds: 5
  tasks:
%s`, promURL, lokiURL, sloTenant, tasks)
}

func sloBackends(t *testing.T, soon time.Duration) (testenv.SLOScenarios, *testenv.Prometheus, *testenv.FakeLoki) {
	t.Helper()
	data := testenv.NewSLOScenarios(time.Now(), soon)
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	loki := testenv.StartFakeLoki(t)
	testenv.AnswerSLOLogQueries(loki, sloTenant, 15) // the default 15m window
	return data, p, loki
}

func checkOf(t *testing.T, result map[string]any, name string) map[string]any {
	t.Helper()
	checks, _ := result["checks"].([]any)
	for _, c := range checks {
		if m, _ := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no check %s in %v", name, result)
	return nil
}

func TestSLOCheckModuleInPlaybook(t *testing.T) {
	c := testenv.InstallCollection(t)
	_, p, loki := sloBackends(t, time.Minute)
	run := c.Playbook(t, sloPlay(p.URL, loki.URL, `
    - name: stable
      threader.guard.slo_check: {job: stable}
    - name: unstable
      threader.guard.slo_check: {job: unstable}
      ignore_errors: true
    - name: no data
      threader.guard.slo_check: {job: gap}
      ignore_errors: true
    - name: nan
      threader.guard.slo_check: {job: nan}
      ignore_errors: true
    - name: several series
      threader.guard.slo_check: {job: multi}
      ignore_errors: true
    - name: exact thresholds
      threader.guard.slo_check: {job: exact, max_5xx_ratio: 0.0078125, min_health_ratio: 0.99609375}
    - name: default thresholds met exactly
      threader.guard.slo_check: {job: exact_default}
    - name: report only
      threader.guard.slo_check: {job: unstable, fail_on_violation: false}
      register: slo
    - name: decide later
      ansible.builtin.assert:
        that:
          - not slo.passed
          - slo.checks | selectattr('passed', 'equalto', false) | map(attribute='name') | list == ['5xx_ratio', 'health_ratio', 'error_logs_per_min']
          - (slo.checks | selectattr('name', 'equalto', '5xx_ratio') | first).value == 0.023
    - name: check mode
      threader.guard.slo_check: {job: stable}
      check_mode: true
    - name: secret
      threader.guard.slo_check: {job: stable, loki_username: deploy, loki_password: pw-7d3e0a}
`))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	if tr := run.Task(t, "stable"); tr.Status != "ok" || tr.Result["passed"] != true || tr.Result["changed"] != false ||
		tr.Result["msg"] != "all 3 checks passed" {
		t.Errorf("stable: %s %v", tr.Status, tr.Result)
	}
	for task, msg := range map[string]string{
		"unstable":       "5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995; error_logs_per_min 2 > 1",
		"no data":        "5xx_ratio: no data; health_ratio: no data; error_logs_per_min: no data",
		"nan":            "5xx_ratio: NaN",
		"several series": `5xx_ratio{instance="b", job="multi"} 0.02 > 0.01`,
	} {
		if tr := run.Task(t, task); tr.Status != "ignored" || tr.Result["msg"] != msg || tr.Result["passed"] != false {
			t.Errorf("%s: status %s msg %q, want %q", task, tr.Status, tr.Result["msg"], msg)
		}
	}
	if c := checkOf(t, run.Task(t, "no data").Result, "error_logs_per_min"); c["value"] != nil || c["reason"] != "no data" {
		t.Errorf("no data: %v", c)
	}
	for _, task := range []string{"exact thresholds", "default thresholds met exactly", "check mode", "secret"} {
		if tr := run.Task(t, task); tr.Status != "ok" || tr.Result["passed"] != true {
			t.Errorf("%s: %s %v", task, tr.Status, tr.Result)
		}
	}
	if tr := run.Task(t, "check mode"); tr.Result["skipped"] == true {
		t.Errorf("check mode skipped the gate: %v", tr.Result)
	}
	if tr := run.Task(t, "report only"); tr.Status != "ok" || tr.Result["passed"] != false {
		t.Errorf("report only: %s %v", tr.Status, tr.Result)
	}
	if got := loki.Requests(); len(got) == 0 || got[len(got)-1].Authorization != "Basic ZGVwbG95OnB3LTdkM2UwYQ==" {
		t.Errorf("basic auth not sent to Loki: %+v", got[len(got)-1])
	}
	if strings.Contains(run.Output, "pw-7d3e0a") || strings.Contains(fmt.Sprint(run.Task(t, "secret").Result), "pw-7d3e0a") {
		t.Errorf("the Loki password leaked into the output")
	}
}

// TestSLOCheckModulePollsUntilStable uses data that turns healthy some
// seconds after Prometheus starts (1s samples, 3s window) and checks that
// the task polls and passes only once the window is clean (how soon after is
// load, not logic: internal/modules/slocheck's fake-clock tests pin the
// schedule). The lead grows when ansible-playbook started too late to see
// the unhealthy data (testenv.SoonStable).
func TestSLOCheckModulePollsUntilStable(t *testing.T) {
	c := testenv.InstallCollection(t)
	testenv.SoonStable(t, func(lead time.Duration) bool {
		data, p, loki := sloBackends(t, lead)
		defer p.Stop()
		stableAfter := data.SoonStableAt.Add(2 * time.Second) // bad samples end at SoonStableAt-1s; the 3s window includes both ends
		run := c.Playbook(t, sloPlay(p.URL, loki.URL, fmt.Sprintf(`
    - name: poll
      threader.guard.slo_check: {job: recovers_soon, window: 3s, loki_url: "", interval_seconds: 1, timeout_seconds: %d}
`, int((lead+time.Minute).Seconds()))))
		tr := run.Task(t, "poll")
		if run.ExitCode != 0 || tr.Result["passed"] != true {
			t.Fatalf("poll: %s %v\n%s", tr.Status, tr.Result, run.Output)
		}
		at, err := time.Parse(time.RFC3339, tr.Result["evaluated_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if late := at.Sub(stableAfter); late <= 0 {
			t.Errorf("passed %s before the window turned clean", -late)
		}
		// One evaluation: ansible-playbook started after the data turned healthy.
		n, _ := tr.Result["evaluations"].(float64)
		return n >= 2
	})
}

func TestSLOCheckModuleFailsClosedWhenPrometheusIsDown(t *testing.T) {
	c := testenv.InstallCollection(t)
	_, p, loki := sloBackends(t, time.Minute)
	p.Stop()
	run := c.Playbook(t, sloPlay(p.URL, loki.URL, `
    - name: down
      threader.guard.slo_check: {job: stable, request_timeout_seconds: 3, request_retries: 2}
      ignore_errors: true
`))
	tr := run.Task(t, "down")
	msg, _ := tr.Result["msg"].(string)
	if tr.Status != "ignored" || !strings.HasPrefix(msg, "5xx_ratio: prometheus: dial tcp ") || !strings.Contains(msg, "connection refused (after 3 attempts)") {
		t.Errorf("%s %q", tr.Status, msg)
	}
	if c := checkOf(t, tr.Result, "error_logs_per_min"); c["passed"] != true {
		t.Errorf("Loki was up, its check should pass: %v", c)
	}
}

func TestSLOCheckDoc(t *testing.T) {
	c := testenv.InstallCollection(t)
	out := c.Doc(t, "threader.guard.slo_check")
	for _, want := range []string{"passes only when every check has a measured, good value", "max_error_logs_per_min", "loki_tenant",
		"RETURN VALUES", "evaluated_at", "per minute averaged over the window"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("ansible-doc lacks %q", want)
		}
	}
}

func runSLOCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return testenv.RunCmd(t, exec.Command(testenv.BuildCLI(t, "slo_check"), args...))
}

// interruptSLOCLI starts a polling CLI, interrupts it after its second
// evaluation and expects exit 130 with the last evaluation reported.
func interruptSLOCLI(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(testenv.BuildCLI(t, "slo_check"), args...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "evaluation 2 at ") {
			cmd.Process.Signal(syscall.SIGINT)
			break
		}
	}
	io.Copy(io.Discard, pipe)
	err = cmd.Wait()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != 130 || !strings.Contains(stdout.String(), "FAILED: canceled after ") {
		t.Errorf("interrupted CLI: %v\n%s", err, stdout.String())
	}
}

func TestSLOCheckCLI(t *testing.T) {
	var p *testenv.Prometheus
	var loki *testenv.FakeLoki
	var base []string
	// Polling first, while the recovers_soon data is still in the future (the
	// lead grows when the CLI started too late: testenv.SoonStable). It passes
	// only once the window is clean; how soon after is load, not logic.
	testenv.SoonStable(t, func(lead time.Duration) bool {
		var data testenv.SLOScenarios
		data, p, loki = sloBackends(t, lead)
		base = []string{"--prometheus-url", p.URL, "--loki-url", loki.URL, "--loki-tenant", sloTenant}
		stableAfter := data.SoonStableAt.Add(2 * time.Second)
		out, errOut, code := runSLOCLI(t, append(base, "--job", "recovers_soon", "--window", "3s", "--loki-url", "",
			"--interval-seconds", "1", "--timeout-seconds", fmt.Sprint(int((lead+time.Minute).Seconds())), "--json")...)
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res["passed"] != true {
			t.Fatalf("polling: exit %d (%v)\n%s%s", code, err, out, errOut)
		}
		at, _ := time.Parse(time.RFC3339, res["evaluated_at"].(string))
		n, _ := res["evaluations"].(float64)
		if late := at.Sub(stableAfter); late <= 0 {
			t.Errorf("passed after %v evaluations, %s before the window turned clean", n, -late)
		}
		if lines := strings.Count(errOut, "slo_check: evaluation "); lines != int(n) {
			t.Errorf("%d progress lines for %v evaluations:\n%s", lines, n, errOut)
		}
		if n < 2 { // the CLI started after the data turned healthy
			p.Stop()
			return false
		}
		return true
	})

	out, errOut, code := runSLOCLI(t, append(base, "--job", "stable")...)
	if code != 0 || !strings.HasPrefix(out, "CHECK") || !strings.HasSuffix(out, "PASSED: all 3 checks passed\n") {
		t.Errorf("stable: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSLOCLI(t, append(base, "--job", "unstable")...)
	if code != 1 || !strings.HasSuffix(out, "FAILED: 5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995; error_logs_per_min 2 > 1\n") {
		t.Errorf("unstable: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runSLOCLI(t, append(base, "--job", "gap")...)
	if code != 1 || !strings.Contains(out, "5xx_ratio: no data") {
		t.Errorf("gap: exit %d\n%s%s", code, out, errOut)
	}
	for _, bad := range [][]string{{"--max-5xx-ratio", "lots"}, {"--window", "15x"}, {"--consecutive", "2"}, {"extra"}, {"--checks", "{name: x}"}} {
		_, errOut, code := runSLOCLI(t, append(base, bad...)...)
		if code != 2 || !strings.Contains(errOut, "slo_check: ") {
			t.Errorf("%v: exit %d, want 2\n%s", bad, code, errOut)
		}
	}
	interruptSLOCLI(t, append(base, "--job", "unstable", "--interval-seconds", "0.2", "--timeout-seconds", "60")...)

	p.Stop()
	out, errOut, code = runSLOCLI(t, append(base, "--job", "stable", "--request-timeout-seconds", "2")...)
	if code != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("stopped Prometheus: exit %d\n%s%s", code, out, errOut)
	}
}

// Issue 10 item 3 through real ansible-playbook: the configured Prometheus
// URL redirects to another host (here the real Prometheus, on another
// port, which would answer "stable"). The task fails naming the redirect
// target; the bearer token, tenant and custom header never reach the other
// host (a recording stand-in for it in the second task).
func TestSLOCheckModuleRefusesRedirectsToAnotherHost(t *testing.T) {
	c := testenv.InstallCollection(t)
	_, p, loki := sloBackends(t, time.Minute)
	var mu sync.Mutex
	var received []http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.Header.Clone())
		mu.Unlock()
		http.Error(w, "should never be asked", http.StatusTeapot)
	}))
	defer other.Close()
	redirectTo := func(target string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusFound)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	toPrometheus, toOther := redirectTo(p.URL), redirectTo(other.URL)
	run := c.Playbook(t, sloPlay(toPrometheus.URL, loki.URL, fmt.Sprintf(`
    - name: redirected to a real Prometheus
      threader.guard.slo_check: {job: stable}
      ignore_errors: true
    - name: redirected with credentials
      threader.guard.slo_check:
        job: stable
        prometheus_url: %s
        prometheus_bearer_token: tok-5be2
        prometheus_tenant: team-a
        prometheus_headers: {X-Api-Key: key-81c0}
      ignore_errors: true
`, toOther.URL)))
	for task, target := range map[string]string{"redirected to a real Prometheus": p.URL, "redirected with credentials": other.URL} {
		tr := run.Task(t, task)
		msg, _ := tr.Result["msg"].(string)
		want := "5xx_ratio: prometheus: redirect (302) to " + target + "/api/v1/query?"
		if tr.Status != "ignored" || tr.Result["passed"] != false || !strings.HasPrefix(msg, want) || !strings.Contains(msg, " refused: only redirects within ") {
			t.Errorf("%s: %s %q, want it to start with %q", task, tr.Status, msg, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 0 {
		t.Fatalf("the other host received %d requests, the first with %v", len(received), received[0])
	}
	if strings.Contains(run.Output, "tok-5be2") {
		t.Error("the bearer token appears in the output")
	}
}
