package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// canary_judge through real ansible-playbook and the built CLI, against a
// real Prometheus holding the canary scenarios (testenv.NewCanaryScenarios),
// backfilled by promtool before it starts.

func canaryBackend(t *testing.T) (testenv.CanaryScenarios, *testenv.Prometheus) {
	t.Helper()
	data := testenv.NewCanaryScenarios(time.Now())
	return data, testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
}

// canaryMetric is one entry of the metrics option for a scenario, as YAML
// flow text.
func canaryMetric(name, metric, scenario, extra string) string {
	return fmt.Sprintf("{name: %s, canary_query: '%s', baseline_query: '%s'%s}", name,
		testenv.CanaryQuery(metric, scenario, "canary"), testenv.CanaryQuery(metric, scenario, "baseline"), extra)
}

func TestCanaryJudgeModuleInPlaybook(t *testing.T) {
	c := testenv.InstallCollection(t)
	data, p := canaryBackend(t)
	equal := canaryMetric("latency", testenv.CanaryLatency, "equal", ", direction: increase")
	slow := canaryMetric("latency", testenv.CanaryLatency, "slow", ", direction: increase, critical: true")
	run := c.Playbook(t, fmt.Sprintf(`---
- name: canary_judge test
  hosts: localhost
  gather_facts: false
  module_defaults:
    threader.guard.canary_judge:
      prometheus_url: %s
      start: %s
      end: %s
      request_retries: 0
  tasks:
    - name: equal
      threader.guard.canary_judge:
        metrics: [%s]
      register: equal
    - name: slow
      threader.guard.canary_judge:
        metrics: [%s]
      ignore_errors: true
    - name: marginal reported
      threader.guard.canary_judge:
        metrics:
          - %s
          - %s
        group_weights: {fast: 80, slow: 20}
        fail_on_marginal: false
      register: marginal
    - name: lookback ending now
      threader.guard.canary_judge:
        start: "{{ omit }}"
        end: "{{ omit }}"
        lookback: 30m
        metrics: [%s]
    - name: check mode
      threader.guard.canary_judge:
        metrics: [%s]
      check_mode: true
    - name: two series
      threader.guard.canary_judge:
        metrics: [%s]
      ignore_errors: true
    - name: unknown direction
      threader.guard.canary_judge:
        metrics: [{name: x, canary_query: up, baseline_query: up, direction: up}]
      ignore_errors: true
    - name: secret
      threader.guard.canary_judge:
        prometheus_username: deploy
        prometheus_password: pw-5c1e9b
        metrics: [%s]
    - name: decide later
      ansible.builtin.assert:
        that:
          - equal.classification == 'pass'
          - equal.metrics[0].canary.count == 31
          - equal.interval.points == 31
          - marginal.classification == 'marginal'
          - marginal.score == 80
          - marginal.passed
          - marginal.decisive == ['slow_latency']
`, p.URL, data.Now.Add(-30*time.Minute).Format(time.RFC3339), data.Now.Format(time.RFC3339),
		equal, slow,
		canaryMetric("fast_latency", testenv.CanaryLatency, "equal", ", group: fast"),
		canaryMetric("slow_latency", testenv.CanaryLatency, "slow", ", group: slow, direction: increase"),
		equal, equal, canaryMetric("latency", testenv.CanaryLatency, "multi", ""), equal))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	for _, task := range []string{"equal", "lookback ending now", "check mode", "secret"} {
		if tr := run.Task(t, task); tr.Status != "ok" || tr.Result["classification"] != "pass" || tr.Result["changed"] != false {
			t.Errorf("%s: %s %v", task, tr.Status, tr.Result)
		}
	}
	tr := run.Task(t, "slow")
	if msg, _ := tr.Result["msg"].(string); tr.Status != "ignored" || tr.Result["classification"] != "fail" ||
		!strings.HasPrefix(msg, "canary failed: score 0 (marginal_score 75); deciding metrics: latency high (critical): ") {
		t.Errorf("slow: %s %v", tr.Status, tr.Result)
	}
	tr = run.Task(t, "two series")
	if msg, _ := tr.Result["msg"].(string); tr.Status != "ignored" || !strings.Contains(msg, "metrics[0].canary_query: returned 2 series") {
		t.Errorf("two series: %s %v", tr.Status, tr.Result)
	}
	tr = run.Task(t, "unknown direction")
	if msg, _ := tr.Result["msg"].(string); tr.Status != "ignored" || !strings.Contains(msg, "direction must be one of") {
		t.Errorf("unknown direction: %s %v", tr.Status, tr.Result)
	}
	if strings.Contains(run.Output, "pw-5c1e9b") || strings.Contains(fmt.Sprint(run.Task(t, "secret").Result), "pw-5c1e9b") {
		t.Errorf("the Prometheus password leaked into the output")
	}
}

func TestCanaryJudgeDoc(t *testing.T) {
	c := testenv.InstallCollection(t)
	out := strings.Join(strings.Fields(c.Doc(t, "threader.guard.canary_judge")), " ")
	for _, want := range []string{"canary group of hosts", "baseline_query", "nan_strategy", "max_canary_value", "group_weights",
		"fail_on_marginal", "prometheus_tenant", "CANARY_JUDGE_PROMETHEUS_PASSWORD", "RETURN VALUES", "ci_lower", "EXAMPLES",
		"it judges in check mode too"} {
		if !strings.Contains(out, want) {
			t.Errorf("ansible-doc lacks %q", want)
		}
	}
}

func runCanaryCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testenv.BuildCLI(t, "canary_judge"), append(args, "--no-syslog")...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCanaryJudgeCLI(t *testing.T) {
	data, p := canaryBackend(t)
	dir := t.TempDir()
	config := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	equal := config("equal.yml", "metrics:\n  - "+canaryMetric("latency", testenv.CanaryLatency, "equal", ", direction: increase")+"\n")
	slow := config("slow.yml", "metrics:\n  - "+canaryMetric("latency", testenv.CanaryLatency, "slow", ", direction: increase")+"\n")
	base := []string{"--prometheus-url", p.URL, "--start", data.Now.Add(-30 * time.Minute).Format(time.RFC3339),
		"--end", data.Now.Format(time.RFC3339), "--step", "1m"}

	out, errOut, code := runCanaryCLI(t, nil, append(base, "--config", equal)...)
	if code != 0 || !strings.HasPrefix(out, "interval ") || !strings.Contains(out, "\nMETRIC ") ||
		!strings.HasSuffix(out, "PASSED: canary passed: score 100 (pass_score 95), 1 metrics judged\n") {
		t.Errorf("equal: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCanaryCLI(t, nil, append(base, "--config", slow, "--json")...)
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res["classification"] != "fail" || res["failed"] != true {
		t.Errorf("slow --json: exit %d (%v)\n%s%s", code, err, out, errOut)
	}
	out, errOut, code = runCanaryCLI(t, nil, "--prometheus-url", p.URL, "--lookback", "30m", "--config", equal)
	if code != 0 || !strings.Contains(out, "PASSED") {
		t.Errorf("--lookback: exit %d\n%s%s", code, out, errOut)
	}
	// The password comes from the environment; a wrong one is sent (the
	// test Prometheus ignores it) and never printed.
	out, errOut, code = runCanaryCLI(t, []string{"CANARY_JUDGE_PROMETHEUS_PASSWORD=pw-88f1"},
		append(base, "--config", equal, "--prometheus-username", "deploy", "--json")...)
	if code != 0 || strings.Contains(out+errOut, "pw-88f1") {
		t.Errorf("password from the environment: exit %d\n%s%s", code, out, errOut)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", equal, "--lookback", "30m"}, "--lookback and --start are mutually exclusive"},
		{[]string{"--config", config("dir.yml", "metrics: [{name: a, canary_query: up, baseline_query: up, direction: sideways}]")},
			dir + "/dir.yml: metrics[0].direction must be"},
		{[]string{"--config", config("score.yml", "metrics: [{name: a, canary_query: up, baseline_query: up}]\npass_score: 101")},
			dir + "/score.yml: pass_score must be between 0 and 100, got 101"},
		{[]string{"--config", equal, "--step", "1 minute"}, `--step "1 minute" is not a duration`},
		{[]string{"--config", filepath.Join(dir, "missing.yml")}, "--config " + dir + "/missing.yml cannot be read: no such file or directory"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--config", equal, "--prometheus-password", "pw-on-the-command-line"}, "--prometheus-password: "},
	} {
		_, errOut, code := runCanaryCLI(t, nil, append(base, bad.args...)...)
		if code != 2 || !strings.Contains(errOut, "canary_judge: "+bad.want) || strings.Contains(errOut, "pw-on-the-command-line") {
			t.Errorf("%v: exit %d, want 2 and %q\n%s", bad.args, code, bad.want, errOut)
		}
	}
	p.Stop()
	out, errOut, code = runCanaryCLI(t, nil, append(base, "--config", equal, "--request-timeout-seconds", "2", "--request-retries", "0")...)
	if code != 1 || !strings.Contains(out, "ERROR") || !strings.Contains(out, "connection refused") {
		t.Errorf("stopped Prometheus: exit %d\n%s%s", code, out, errOut)
	}
}

// TestPromoWithGuardsCanaryAnalysis runs promo_with_guards with its opt-in
// canary step: canary promotion, the canary_analysis role, then the full
// promotion only when the canary passed. Off by default: no canary task runs.
func TestPromoWithGuardsCanaryAnalysis(t *testing.T) {
	c := testenv.InstallCollection(t)
	slo := testenv.NewSLOScenarios(time.Now(), time.Minute)
	canary := testenv.NewCanaryScenarios(time.Now())
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: append(slo.Series, canary.Series...),
		RuleFiles: []string{testenv.RecordingRulesFile()}})
	qosGuard := testenv.BuildCLI(t, "qos_guard")
	for _, tc := range []struct {
		name     string
		enabled  bool
		scenario string
		promoted bool
	}{
		{"canary like its baseline: promoted", true, "equal", true},
		{"canary 50% slower: stopped before the full promotion", true, "slow", false},
		{"canary analysis off by default", false, "slow", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &playbookEnv{c: c, prom: prom, data: slo, guard: filepath.Join(t.TempDir(), "threader.qos.guard"), cli: qosGuard}
			dir := t.TempDir()
			canaryMarker, fullMarker := filepath.Join(dir, "canary"), filepath.Join(dir, "full")
			vars := map[string]any{"job": "stable", "promote_command": []string{"touch", fullMarker},
				"canary_promote_command": []string{"touch", canaryMarker}, "threader_guard_run_id": "canary-1",
				"canary_analysis_metrics": []any{map[string]any{"name": "latency", "direction": "increase", "critical": true,
					"canary_query":   testenv.CanaryQuery(testenv.CanaryLatency, tc.scenario, "canary"),
					"baseline_query": testenv.CanaryQuery(testenv.CanaryLatency, tc.scenario, "baseline")}}}
			if tc.enabled {
				vars["canary_analysis_enabled"] = true
			}
			run := e.play(t, "promo_with_guards", nil, vars)
			_, canaryErr := os.Stat(canaryMarker)
			_, fullErr := os.Stat(fullMarker)
			judged := false
			for _, tr := range run.Tasks {
				judged = judged || (strings.HasSuffix(tr.Action, "canary_judge") && tr.Status != "skipped")
			}
			st := e.state(t, e.guard)
			switch {
			case !tc.enabled:
				if run.ExitCode != 0 || judged || canaryErr == nil || fullErr != nil {
					t.Errorf("off: exit %d, judged %v, canary promoted %v, full promotion %v\n%s", run.ExitCode, judged,
						canaryErr == nil, fullErr == nil, run.Output)
				}
			case tc.promoted:
				if run.ExitCode != 0 || canaryErr != nil || fullErr != nil || !st.Locked || st.Hold {
					t.Errorf("passing canary: exit %d, canary %v, full %v, guard %+v\n%s", run.ExitCode, canaryErr, fullErr, st, run.Output)
				}
			default:
				if run.ExitCode == 0 || canaryErr != nil || fullErr == nil {
					t.Errorf("failing canary: exit %d, canary %v, full promotion ran %v\n%s", run.ExitCode, canaryErr, fullErr == nil, run.Output)
				}
				if !st.Locked || st.Reason == nil || !strings.Contains(*st.Reason, "failed at Fail unless the canary passed: Canary analysis failed: canary failed: score 0") ||
					!strings.Contains(*st.Reason, "latency high (critical)") {
					t.Errorf("guard after the failed canary: %+v (reason %v)", st, st.Reason)
				}
			}
		})
	}
	t.Run("canary analysis on without its settings: refused before the guard is taken", func(t *testing.T) {
		t.Parallel()
		e := &playbookEnv{c: c, prom: prom, data: slo, guard: filepath.Join(t.TempDir(), "threader.qos.guard"), cli: qosGuard}
		full := filepath.Join(t.TempDir(), "full")
		run := e.play(t, "promo_with_guards", nil, map[string]any{"job": "stable", "promote_command": []string{"touch", full},
			"canary_analysis_enabled": true})
		if run.ExitCode == 0 || !strings.Contains(run.Output, "canary_analysis_enabled needs canary_promote_command") {
			t.Errorf("exit %d\n%s", run.ExitCode, run.Output)
		}
		if st := e.state(t, e.guard); st.Locked || st.Revision != 0 {
			t.Errorf("the guard was touched: %+v", st)
		}
		if _, err := os.Stat(full); err == nil {
			t.Error("the promotion ran")
		}
	})
}
