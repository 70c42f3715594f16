package slocheck

import (
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// TestCLIAgainstVictoriaLogs runs the default checks with the error-log
// check on a real VictoriaLogs (the metrics on a real Prometheus), the log
// lines shipped through VictoriaLogs' Loki push API.
func TestCLIAgainstVictoriaLogs(t *testing.T) {
	now := time.Now()
	data := testenv.NewSLOScenarios(now, time.Minute)
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	vl := testenv.StartVictoriaLogs(t)
	testenv.PushSLOLogs(t, vl, now)
	args := func(job string, extra ...string) []string {
		return append([]string{"--prometheus-url", p.URL, "--victorialogs-url", vl.URL, "--job", job,
			"--request-timeout-seconds", "5", "--request-retries", "1"}, extra...)
	}
	t.Run("a stream without errors passes with 0 errors a minute", func(t *testing.T) {
		res, r := jsonResult(t, nil, args("stable")...)
		c := checkByName(t, res, "error_logs_per_min")
		if r.code != exitPassed || c["source"] != "victorialogs" || c["value"] != 0.0 || c["phase"] != "passed" || r.stderr != "" {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("error lines fail the check with their rate", func(t *testing.T) {
		res, r := jsonResult(t, nil, args("unstable", "--max-5xx-ratio", "1", "--min-health-ratio", "0")...)
		c := checkByName(t, res, "error_logs_per_min")
		v, _ := c["value"].(float64)
		if r.code != exitFailed || c["phase"] != "failed" || v < 1.9 || v > 2.2 || !strings.HasPrefix(res["msg"].(string), "error_logs_per_min 2") {
			t.Errorf("exit %d %v %v\n%s", r.code, c, res["msg"], r.stderr)
		}
	})
	t.Run("a stream with no lines at all is no data", func(t *testing.T) {
		res, r := jsonResult(t, nil, args("gap", "--default-checks=true", "--max-5xx-ratio", "1")...)
		c := checkByName(t, res, "error_logs_per_min")
		if r.code != exitFailed || c["phase"] != "error" || c["reason"] != "no data" {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("another tenant's logs are not seen", func(t *testing.T) {
		res, r := jsonResult(t, nil, args("stable", "--victorialogs-account-id", "7", "--victorialogs-project-id", "1")...)
		if c := checkByName(t, res, "error_logs_per_min"); r.code != exitFailed || c["reason"] != "no data" {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("a given loki_url keeps the error-log check on Loki", func(t *testing.T) {
		loki := testenv.StartFakeLoki(t)
		answerLogQueries(loki)
		res, r := jsonResult(t, nil, args("stable", "--loki-url", loki.URL, "--loki-tenant", tenant)...)
		if c := checkByName(t, res, "error_logs_per_min"); r.code != exitPassed || c["source"] != "loki" ||
			!strings.Contains(r.stderr, "--loki-url and --victorialogs-url are both set: the error-log check (error_logs_per_min) runs on Loki") {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("a LogsQL check of its own, with a condition", func(t *testing.T) {
		check := `{name: panics, source: victorialogs, query: '_stream:{job="unstable"} _time:10m panicked | stats count() as panics', failure_condition: "result[0] > 0"}`
		res, r := jsonResult(t, nil, "--default-checks=false", "--loki-url", "", "--victorialogs-url", vl.URL, "--checks", check)
		c := checkByName(t, res, "panics")
		if r.code != exitFailed || c["phase"] != "failed" || c["value"] != 20.0 {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("a LogsQL syntax error is an error naming VictoriaLogs", func(t *testing.T) {
		check := `{name: bad, source: victorialogs, query: 'panicked | stats', max: 1}`
		res, r := jsonResult(t, nil, "--default-checks=false", "--loki-url", "", "--victorialogs-url", vl.URL, "--checks", check)
		c := checkByName(t, res, "bad")
		if r.code != exitFailed || c["phase"] != "error" || !strings.HasPrefix(c["reason"].(string), "victorialogs: ") {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("the tenant IDs are checked before any query", func(t *testing.T) {
		r := invokeCLI(t, nil, args("stable", "--victorialogs-account-id", "-1")...)
		if r.code != exitUsage || !strings.Contains(r.stderr, `--victorialogs-account-id: must be a decimal number from 0 to 4294967295, got "-1"`) {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestCLIVictoriaLogsBasicAuthFromTheEnvironment: against a VictoriaLogs
// that requires basic auth, the password comes from
// SLO_CHECK_VICTORIALOGS_PASSWORD (never from the command line), and a wrong
// one is an error, not a pass.
func TestCLIVictoriaLogsBasicAuthFromTheEnvironment(t *testing.T) {
	now := time.Now()
	const password = "vl-env-pass-62d0"
	vl := testenv.StartVictoriaLogsWith(t, testenv.VictoriaLogsOptions{Username: "gate", Password: password})
	testenv.PushSLOLogs(t, vl, now)
	check := `{name: lines, source: victorialogs, query: '_stream:{job="stable"} _time:10m | stats count() as lines', min: 1}`
	args := []string{"--default-checks=false", "--loki-url", "", "--victorialogs-url", vl.URL, "--victorialogs-username", "gate",
		"--checks", check}
	t.Setenv("SLO_CHECK_VICTORIALOGS_PASSWORD", password)
	res, r := jsonResult(t, nil, args...)
	if c := checkByName(t, res, "lines"); r.code != exitPassed || c["phase"] != "passed" {
		t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
	}
	t.Setenv("SLO_CHECK_VICTORIALOGS_PASSWORD", "wrong-"+password)
	res, r = jsonResult(t, nil, args...)
	if c := checkByName(t, res, "lines"); r.code != exitFailed || c["phase"] != "error" || !strings.HasPrefix(c["reason"].(string), "victorialogs: 401") {
		t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Errorf("the password is shown:\n%s%s", r.stdout, r.stderr)
	}
}
