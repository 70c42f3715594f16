package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// TestSLOGateRoleAnalysisOptions runs the slo_gate role through real
// ansible-playbook with the analysis options of slo_check v2 (issue 12) as
// role variables, and the error-log check on a real VictoriaLogs that
// requires basic auth: the variables must reach the module (validated by
// meta/argument_specs.yml on the way) and change what the gate does.
func TestSLOGateRoleAnalysisOptions(t *testing.T) {
	t.Parallel()
	c := testenv.InstallCollection(t)
	now := time.Now()
	data := testenv.NewSLOScenarios(now, time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	const password = "vl-pass-3c9e81"
	vl := testenv.StartVictoriaLogsWith(t, testenv.VictoriaLogsOptions{Username: "gate", Password: password})
	testenv.PushSLOLogs(t, vl, now)
	play := func(t *testing.T, job string, vars map[string]any) *testenv.PlaybookRun {
		t.Helper()
		all := map[string]any{"prom_url": prom.URL, "loki_url": "", "job": job, "slo_gate_victorialogs_url": vl.URL,
			"slo_gate_victorialogs_username": "gate", "slo_gate_victorialogs_password": password}
		for k, v := range vars {
			all[k] = v
		}
		run := c.Playbook(t, "---\n- name: gate\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: threader.guard.slo_gate\n",
			"-e", mustJSON(t, all))
		if strings.Contains(run.Output, password) {
			t.Errorf("the VictoriaLogs password is in the output:\n%s", run.Output)
		}
		return run
	}
	gate := func(t *testing.T, job string, vars map[string]any) (*testenv.PlaybookRun, testenv.TaskResult) {
		t.Helper()
		run := play(t, job, vars)
		return run, run.Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job "+job)
	}

	t.Run("polling with every analysis option, the log check on VictoriaLogs with basic auth", func(t *testing.T) {
		// A check that is inconclusive on purpose: both conditions set,
		// neither true for the value 1.
		inconclusive := map[string]any{"name": "undecided", "query": "vector(1)",
			"success_condition": "result[0] < 0", "failure_condition": "result[0] > 1000"}
		run, task := gate(t, "stable", map[string]any{"slo_gate_poll": true, "slo_interval_seconds": 1, "slo_consecutive": 2,
			"slo_timeout_seconds": 60, "slo_initial_delay_seconds": 0.5, "slo_measurement_retention": 1,
			"slo_fail_on_inconclusive": false, "slo_inconclusive_limit": 5, "slo_failure_limit": 3,
			"slo_gate_checks": []any{inconclusive}})
		if run.ExitCode != 0 {
			t.Fatalf("the gate failed:\n%s", run.Output)
		}
		res := task.Result
		logs := checkOf(t, res, "error_logs_per_min")
		if logs["source"] != "victorialogs" || logs["phase"] != "passed" || logs["value"] != 0.0 {
			t.Errorf("error-log check: %v", logs)
		}
		if res["phase"] != "inconclusive" || res["passed"] != true || checkOf(t, res, "undecided")["phase"] != "inconclusive" {
			t.Errorf("an inconclusive gate should pass with slo_fail_on_inconclusive false: %v", res)
		}
		if m, _ := res["measurements"].([]any); len(m) != 1 || res["evaluations"] != 2.0 {
			t.Errorf("slo_measurement_retention 1: %d measurements of %v evaluations", len(m), res["evaluations"])
		}
		args := res["invocation"].(map[string]any)["module_args"].(map[string]any)
		for option, want := range map[string]any{"initial_delay_seconds": 0.5, "failure_limit": 3.0, "inconclusive_limit": 5.0,
			"fail_on_inconclusive": false, "measurement_retention": 1.0, "victorialogs_username": "gate",
			"victorialogs_password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"} {
			if args[option] != want {
				t.Errorf("module_args %s = %#v, want %#v", option, args[option], want)
			}
		}
	})

	t.Run("slo_failure_limit 0 stops at the first failure; the tenant reaches VictoriaLogs", func(t *testing.T) {
		// Tenant 7:1 holds no logs (they were pushed to 0:0), so the error
		// lines of "unstable" are not seen there: no data.
		run, task := gate(t, "unstable", map[string]any{"slo_gate_poll": true, "slo_interval_seconds": 1, "slo_consecutive": 2,
			"slo_timeout_seconds": 600, "slo_failure_limit": 0,
			"slo_gate_victorialogs_account_id": "7", "slo_gate_victorialogs_project_id": 1})
		msg, _ := task.Result["msg"].(string)
		if run.ExitCode == 0 || task.Result["evaluations"] != 1.0 || !strings.HasPrefix(msg, "failure_limit 0 exceeded: 1 failed evaluation of 1: ") {
			t.Errorf("exit %d, evaluations %v, msg %q", run.ExitCode, task.Result["evaluations"], msg)
		}
		if logs := checkOf(t, task.Result, "error_logs_per_min"); logs["reason"] != "no data" {
			t.Errorf("error-log check in tenant 7:1: %v", logs)
		}
	})

	t.Run("a wrong VictoriaLogs password is an error, not a pass", func(t *testing.T) {
		run, task := gate(t, "stable", map[string]any{"slo_gate_victorialogs_password": "wrong-" + password[:4]})
		logs := checkOf(t, task.Result, "error_logs_per_min")
		if run.ExitCode == 0 || logs["phase"] != "error" || !strings.HasPrefix(fmt.Sprint(logs["reason"]), "victorialogs: 401") {
			t.Errorf("exit %d, error-log check %v", run.ExitCode, logs)
		}
	})

	t.Run("argument_specs refuse a limit that is not a number", func(t *testing.T) {
		run := play(t, "stable", map[string]any{"slo_failure_limit": "none"})
		if run.ExitCode == 0 || !strings.Contains(run.Output, "slo_failure_limit") {
			t.Errorf("exit %d:\n%s", run.ExitCode, run.Output)
		}
	})
}
