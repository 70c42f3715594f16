package slocheck

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/testenv"
)

// The same scenarios run against a real Prometheus 2.42 and a real
// VictoriaMetrics: the gate must pass and fail the same way on both.

func TestCLIAgainstPrometheus(t *testing.T) {
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	b := backends{data: data, promURL: p.URL, loki: testenv.StartFakeLoki(t)}
	answerLogQueries(b.loki)
	scenarios(t, b, "prometheus")

	t.Run("NaN fails", func(t *testing.T) {
		r := invokeCLI(t, nil, b.args("nan")...)
		if r.code != exitFailed || !strings.Contains(r.stdout, "FAILED: 5xx_ratio: NaN\n") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		res, _ := jsonResult(t, nil, b.args("nan")...)
		if c := checkByName(t, res, "5xx_ratio"); c["value"] != nil || c["reason"] != "NaN" || c["passed"] != false {
			t.Errorf("%v", c)
		}
	})
	t.Run("NaN reaches the conditions and never passes unasked", func(t *testing.T) {
		q := `avg_over_time(job:http_5xx_ratio_1m{job="nan"}[15m])`
		for _, tc := range []struct{ check, phase, reason string }{
			// Argo Rollouts passes this one: NaN > 0.01 is false.
			{`{name: c, query: '` + q + `', failure_condition: "result[0] > 0.01"}`, "error", "result [NaN] holds NaN or ±Inf"},
			{`{name: c, query: '` + q + `', success_condition: "result[0] <= 0.01"}`, "failed", "result [NaN] does not meet the success condition"},
			{`{name: c, query: '` + q + `', failure_condition: "isNaN(result[0]) || result[0] > 0.01"}`, "failed", "result [NaN] meets the failure condition"},
			{`{name: c, query: '` + q + `', success_condition: "default(result[0], 0) <= 0.01"}`, "passed", "result [NaN] meets the success condition"},
		} {
			res, r := jsonResult(t, nil, b.args("nan", "--default-checks=false", "--loki-url", "", "--checks", tc.check)...)
			c := checkByName(t, res, "c")
			if c["phase"] != tc.phase || !strings.HasPrefix(c["reason"].(string), tc.reason) || (r.code == exitPassed) != (tc.phase == "passed") {
				t.Errorf("%s: exit %d, phase %v, reason %q", tc.check, r.code, c["phase"], c["reason"])
			}
		}
	})
	t.Run("default thresholds met exactly pass", func(t *testing.T) {
		if r := invokeCLI(t, nil, b.args("exact_default")...); r.code != exitPassed {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("stopped server fails closed within the timeout", func(t *testing.T) {
		p.Stop()
		var r run
		testenv.Within(t, 30*time.Second, func() {
			r = invokeCLI(t, nil, b.args("stable", "--request-timeout-seconds", "2", "--request-retries", "3")...)
		})
		if r.code != exitFailed || !strings.Contains(r.stdout, "5xx_ratio: prometheus: dial tcp") ||
			!strings.Contains(r.stdout, "connection refused") || !strings.Contains(r.stdout, "health_ratio: prometheus: ") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestCLIAgainstVictoriaMetrics(t *testing.T) {
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	vm := testenv.StartVictoriaMetrics(t, data.Series)
	b := backends{data: data, promURL: vm.URL, loki: testenv.StartFakeLoki(t)}
	answerLogQueries(b.loki)
	scenarios(t, b, "victoria-metrics")

	t.Run("NaN fails as no data", func(t *testing.T) {
		// VictoriaMetrics drops NaN samples, so the series is not there at
		// all: still a failure, with another reason.
		r := invokeCLI(t, nil, b.args("nan")...)
		if r.code != exitFailed || !strings.Contains(r.stdout, "FAILED: 5xx_ratio: no data\n") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

func scenarios(t *testing.T, b backends, backend string) {
	analysisScenarios(t, b)
	t.Run("stable window passes", func(t *testing.T) {
		r := invokeCLI(t, nil, b.args("stable")...)
		if r.code != exitPassed || !strings.HasSuffix(r.stdout, "PASSED: all 3 checks passed\n") || r.stderr != "" {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"CHECK", "5xx_ratio", "prometheus  pass    0.001  <= 0.01", "health_ratio", ">= 0.995",
			"error_logs_per_min  loki        pass    0      <= 1"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("unstable window fails with the values", func(t *testing.T) {
		r := invokeCLI(t, nil, b.args("unstable")...)
		want := "FAILED: 5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995; error_logs_per_min 2 > 1\n"
		if r.code != exitFailed || !strings.HasSuffix(r.stdout, want) {
			t.Errorf("exit %d, want %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	})
	t.Run("no data fails closed", func(t *testing.T) {
		r := invokeCLI(t, nil, b.args("gap")...)
		want := "FAILED: 5xx_ratio: no data; health_ratio: no data; error_logs_per_min: no data\n"
		if r.code != exitFailed || !strings.HasSuffix(r.stdout, want) {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		res, _ := jsonResult(t, nil, b.args("gap")...)
		c := checkByName(t, res, "error_logs_per_min")
		if res["passed"] != false || res["failed"] != true || c["value"] != nil || c["series"] != nil || c["source"] != "loki" {
			t.Errorf("%v", res)
		}
	})
	t.Run("several series: the worst decides and is named", func(t *testing.T) {
		r := invokeCLI(t, nil, b.args("multi")...)
		if r.code != exitFailed || !strings.Contains(r.stdout, `instance="b"`) || !strings.Contains(r.stdout, "} 0.02 > 0.01\n") ||
			!strings.Contains(r.stdout, "SERIES") {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		res, _ := jsonResult(t, nil, b.args("multi")...)
		c := checkByName(t, res, "5xx_ratio")
		v, _ := c["value"].(float64)
		if s, _ := c["series"].(map[string]any); s["instance"] != "b" || s["job"] != "multi" || math.Abs(v-0.02) > 1e-12 {
			t.Errorf("%v", c)
		}
	})
	t.Run("values exactly at the thresholds pass", func(t *testing.T) {
		r := invokeCLI(t, nil, b.args("exact", "--max-5xx-ratio", "0.0078125", "--min-health-ratio", "0.99609375")...)
		if r.code != exitPassed {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = invokeCLI(t, nil, b.args("exact", "--max-5xx-ratio", "0.0078124", "--min-health-ratio", "0.99609376")...)
		if r.code != exitFailed || !strings.Contains(r.stdout, "5xx_ratio 0.0078125 > 0.0078124; health_ratio 0.99609375 < 0.99609376") {
			t.Errorf("just past the thresholds: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("JSON result", func(t *testing.T) {
		before := time.Now().Truncate(time.Second) // evaluated_at has whole seconds
		res, r := jsonResult(t, nil, b.args("stable")...)
		if r.code != exitPassed || res["passed"] != true || res["failed"] != false || res["changed"] != false ||
			res["evaluations"] != 1.0 || res["msg"] != "all 3 checks passed" {
			t.Fatalf("%v", res)
		}
		if at, err := time.Parse(time.RFC3339, res["evaluated_at"].(string)); err != nil || at.Before(before) || at.After(time.Now()) {
			t.Errorf("evaluated_at %v (%v)", res["evaluated_at"], err)
		}
		c := checkByName(t, res, "5xx_ratio")
		if c["query"] != `avg_over_time(job:http_5xx_ratio_1m{job="stable"}[15m])` || c["comparison"] != "<=" ||
			c["threshold"] != 0.01 || c["passed"] != true || c["reason"] != "0.001 <= 0.01" {
			t.Errorf("%v", c)
		}
		c = checkByName(t, res, "error_logs_per_min")
		if c["query"] != `sum(count_over_time({job="stable"} |~ "ERROR|Exception|Traceback" [15m])) / 15` || c["value"] != 0.0 {
			t.Errorf("%v", c)
		}
		if c := checkByName(t, res, "health_ratio"); c["comparison"] != ">=" || c["threshold"] != 0.995 {
			t.Errorf("%v", c)
		}
	})
	t.Run("log stream without the tenant fails", func(t *testing.T) {
		args := append(b.args("stable"), "--loki-tenant", "")
		r := invokeCLI(t, nil, args...)
		if r.code != exitFailed || !strings.Contains(r.stdout, "error_logs_per_min: loki: 401 no org id") {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("empty loki url drops the log check with a warning", func(t *testing.T) {
		args := append(b.args("stable"), "--loki-url", "")
		r := invokeCLI(t, nil, args...)
		if r.code != exitPassed || !strings.Contains(r.stderr, "warning: --loki-url is empty: the error-log check (error_logs_per_min) is off") ||
			strings.Contains(r.stdout, "error_logs_per_min") || !strings.Contains(r.stdout, "all 2 checks passed") {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("extra checks", func(t *testing.T) {
		// 5 minutes of the stable job's info lines, one every 20s.
		b.loki.Answer(tenant, `sum(count_over_time({job="stable"}[5m]))`, testenv.LokiVector(testenv.LokiSeries{Value: 15}))
		r := invokeCLI(t, nil, b.args("stable", "--default-checks=false",
			"--checks", `{"name": "up_ratio", "query": "avg_over_time(job:health_ok_ratio_1m{job=\"stable\"}[5m])", "min": 0.99, "max": 1}`,
			"--checks", `[{name: gone, query: 'job:health_ok_ratio_1m{job="gap"}', max: 1, on_empty: pass},
			             {name: loki_lines, source: loki, query: 'sum(count_over_time({job="stable"}[5m]))', min: 1}]`)...)
		if r.code != exitPassed || !strings.Contains(r.stdout, "all 3 checks passed") || !strings.Contains(r.stdout, "no data (on_empty: pass)") {
			t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("fail-on-violation=false reports without failing", func(t *testing.T) {
		res, r := jsonResult(t, nil, b.args("unstable", "--fail-on-violation=false")...)
		if r.code != exitPassed || res["passed"] != false || res["failed"] != false {
			t.Errorf("exit %d: %v", r.code, res)
		}
	})
	t.Run("polling turns stable after a few intervals", func(t *testing.T) {
		// The recovering job turns healthy at RecoversAt; with a 5m window
		// every sample is good from RecoversAt+5m-15s on (the last bad sample
		// is at RecoversAt-15s). A fake clock starts the gate off the sample
		// grid, before the recovery, and polls every minute.
		stableFrom := b.data.RecoversAt.Add(5*time.Minute - 15*time.Second)
		clk := clock.NewFake(b.data.RecoversAt.Add(-113 * time.Second))
		res, r := jsonResult(t, clk, b.args("recovering", "--window", "5m", "--interval-seconds", "60", "--timeout-seconds", "1200")...)
		if r.code != exitPassed || res["passed"] != true || res["evaluations"] != 8.0 {
			t.Fatalf("exit %d: %v\n%s", r.code, res, r.stderr)
		}
		at, _ := time.Parse(time.RFC3339, res["evaluated_at"].(string))
		if late := at.Sub(stableFrom); late <= 0 || late > time.Minute {
			t.Errorf("returned %s after the window turned stable, want within one interval", late)
		}
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if len(lines) != 8 || !strings.Contains(lines[0], "evaluation 1 at ") || !strings.Contains(lines[0], "FAIL (0/1 in a row): health_ratio 0.") ||
			!strings.HasSuffix(lines[7], ": pass (1/1 in a row)") {
			t.Errorf("progress lines:\n%s", r.stderr)
		}
	})
	t.Run("polling needs consecutive passes", func(t *testing.T) {
		clk := clock.NewFake(b.data.RecoversAt.Add(-113 * time.Second))
		res, r := jsonResult(t, clk, b.args("recovering", "--window", "5m", "--interval-seconds", "60", "--timeout-seconds", "1200", "--consecutive", "3")...)
		if r.code != exitPassed || res["evaluations"] != 10.0 || res["msg"] != "all 3 checks passed 3 times in a row (10 evaluations)" {
			t.Errorf("exit %d: %v", r.code, res)
		}
	})
	t.Run("polling times out with the last evaluation", func(t *testing.T) {
		clk := clock.NewFake(b.data.Now.Add(-20 * time.Minute))
		r := invokeCLI(t, clk, b.args("unstable", "--interval-seconds", "60", "--timeout-seconds", "180")...)
		want := "FAILED: not stable within 3m0s (4 evaluations): 5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995; error_logs_per_min 2 > 1\n"
		if r.code != exitFailed || !strings.HasSuffix(r.stdout, want) || strings.Count(r.stderr, "\n") != 4 {
			t.Errorf("exit %d, want %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	})
	_ = backend
}

func TestCLIUsageErrors(t *testing.T) {
	base := []string{"--prometheus-url", "http://127.0.0.1:9", "--loki-url", "http://127.0.0.1:9"}
	tokenFile, authHeaderFile := filepath.Join(t.TempDir(), "token"), filepath.Join(t.TempDir(), "headers")
	os.WriteFile(tokenFile, []byte("t0k\n"), 0o600)
	os.WriteFile(authHeaderFile, []byte("Authorization: x\n"), 0o600)
	// Two files put together: the second's checks were silently dropped.
	twoDocs := filepath.Join(t.TempDir(), "checks.yml")
	os.WriteFile(twoDocs, []byte("[{name: a, query: up, max: 1}]\n---\n[{name: b, query: up, min: 1}]\n"), 0o600)
	cases := map[string][]string{
		"for flag -checks: holds more than one YAML document":                                                                                                     {"--checks", "@" + twoDocs},
		`--window: "15x" is not a Prometheus duration such as 15m, 1h or 90s`:                                                                                     {"--window", "15x"},
		"--consecutive 2 needs --interval-seconds greater than 0":                                                                                                 {"--consecutive", "2"},
		"--timeout-seconds must be greater than 0 when --interval-seconds is set":                                                                                 {"--interval-seconds", "10", "--timeout-seconds", "0"},
		"--timeout-seconds 60s is too short for 3 passing evaluations in a row 60s apart: it must be at least 120s":                                               {"--interval-seconds", "1m", "--timeout-seconds", "60", "--consecutive", "3"},
		"check l queries Loki, but --loki-url is empty":                                                                                                           {"--loki-url", "", "--checks", "{name: l, source: loki, query: x, max: 1}"},
		`unknown key "maximum" (known: name, source, query, max, min, on_empty, success_condition`:                                                                {"--checks", "{name: x, query: up, maximum: 1}"},
		`check 1 ("p99"): success_condition is not a valid boolean expression over result`:                                                                        {"--checks", "{name: p99, query: up, success_condition: 'result[0] <='}"},
		`check 1 ("p99"): failure_condition is not a valid boolean expression over result`:                                                                        {"--checks", "{name: p99, query: up, failure_condition: 'len(result)'}"},
		"--failure-limit must be -1 (no limit) or 0 or greater, got -2":                                                                                           {"--failure-limit", "-2"},
		"--checks: every check is a dry_run, so nothing would decide the gate":                                                                                    {"--default-checks=false", "--checks", "{name: d, query: up, max: 1, dry_run: true}"},
		"--measurement-retention must be 1 or greater, got 0":                                                                                                     {"--measurement-retention", "0"},
		`invalid value "-1" for flag -initial-delay-seconds: must be 0 or greater`:                                                                                {"--initial-delay-seconds", "-1"},
		"check 1: check x: needs max, min, success_condition or failure_condition":                                                                                {"--checks", "[{name: x, query: up}]"},
		"--max-5xx-ratio must be a finite number, got NaN":                                                                                                        {"--max-5xx-ratio", "NaN"},
		`--prometheus-url: "ftp://x" must start with http:// or https://`:                                                                                         {"--prometheus-url", "ftp://x"},
		"--prometheus-client-key: is required with --prometheus-client-cert":                                                                                      {"--prometheus-client-cert", "/c.pem"},
		"--loki-bearer-token-file: cannot be combined with basic auth (--loki-username/--loki-password-file)":                                                     {"--loki-bearer-token-file", tokenFile, "--loki-username", "u"},
		"--loki-bearer-token: a secret on the command line can be read by every local user (ps); set SLO_CHECK_LOKI_BEARER_TOKEN or use --loki-bearer-token-file": {"--loki-bearer-token", "t0k"},
		"--prometheus-headers: sets Authorization, which is also set by --prometheus-bearer-token-file":                                                           {"--prometheus-headers", "@" + authHeaderFile, "--prometheus-bearer-token-file", tokenFile},
		"--prometheus-headers: Authorization on the command line can be read by every local user (ps); put it in a file given as @FILE":                           {"--prometheus-headers", "Authorization: x"},
		"--loki-headers: sets X-Scope-OrgID, which is also set by --loki-tenant":                                                                                  {"--loki-headers", "X-Scope-OrgID: a", "--loki-tenant", "b"},
		`invalid value "1e-10" for flag -interval-seconds: must be 0 or at least 0.001 (1 ms), got: 1e-10`:                                                        {"--interval-seconds", "1e-10"},
		`invalid value "1e300" for flag -request-timeout-seconds: must be at most 1e+09 (about 31 years), got: 1e+300`:                                            {"--request-timeout-seconds", "1e300"},
		`invalid value "-2s" for flag -timeout-seconds: must be 0 or greater, got: -2`:                                                                            {"--timeout-seconds", "-2s"},
		"--loki-headers: want 'Name: value' (the argument is not repeated":                                                                                        {"--loki-headers", "bad"},
		// Read until memory ran out before.
		`invalid value "@/dev/zero" for flag -checks: /dev/zero is not a regular file (a character device)`: {"--checks", "@/dev/zero"},
		`unexpected argument "now" (every option is a flag)`:                                                {"now"},
		"--request-timeout-seconds must be greater than 0":                                                  {"--request-timeout-seconds", "0"},
		"--job must not be empty":                                           {"--job", ""},
		"--error-log-regex: error parsing regexp":                           {"--error-log-regex", "ERROR("},
		"no checks to run: --default-checks is false and --checks is empty": {"--default-checks=false"},
	}
	for want, args := range cases {
		r := invokeCLI(t, nil, append(append([]string{}, base...), args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", args, r.code, want, r.stderr)
		}
	}
	r := invokeCLI(t, nil, "-h")
	if r.code != exitPassed || !strings.Contains(r.stderr, "usage: slo_check [flags]") || !strings.Contains(r.stderr, "-max-error-logs-per-min") {
		t.Errorf("-h: exit %d\n%s", r.code, r.stderr)
	}
}

func TestOnlyTheBackendsInUseAreConfigured(t *testing.T) {
	loki := testenv.StartFakeLoki(t)
	loki.Answer(tenant, `sum(count_over_time({job="x"}[5m]))`, testenv.LokiVector(testenv.LokiSeries{Value: 1}))
	r := invokeCLI(t, nil, "--prometheus-url", "", "--loki-url", loki.URL, "--loki-tenant", tenant, "--default-checks=false",
		"--checks", `{name: lines, source: loki, query: 'sum(count_over_time({job="x"}[5m]))', min: 1}`)
	if r.code != exitPassed || !strings.Contains(r.stdout, "PASSED: the check passed") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// analysisScenarios are the Argo-style options against a real server.
func analysisScenarios(t *testing.T, b backends) {
	q := func(job string) string { return `avg_over_time(job:http_5xx_ratio_1m{job="` + job + `"}[15m])` }
	only := func(job string, check string, extra ...string) []string {
		return b.args(job, append([]string{"--default-checks=false", "--loki-url", "", "--checks", check}, extra...)...)
	}
	t.Run("conditions decide with the real answer", func(t *testing.T) {
		for _, tc := range []struct {
			job, check, phase string
			code              int
		}{
			{"stable", `{name: c, query: '` + q("stable") + `', success_condition: "result[0] <= 0.01"}`, "passed", exitPassed},
			{"unstable", `{name: c, query: '` + q("unstable") + `', success_condition: "result[0] <= 0.01"}`, "failed", exitFailed},
			{"unstable", `{name: c, query: '` + q("unstable") + `', success_condition: "result[0] <= 0.01", failure_condition: "result[0] > 0.1"}`, "inconclusive", exitFailed},
			{"multi", `{name: c, query: '` + q("multi") + `', success_condition: "all(result, {# <= 0.01})"}`, "failed", exitFailed},
			{"gap", `{name: c, query: '` + q("gap") + `', success_condition: "result[0] <= 0.01"}`, "error", exitFailed},
		} {
			res, r := jsonResult(t, nil, only(tc.job, tc.check)...)
			if r.code != tc.code || res["phase"] != tc.phase || checkByName(t, res, "c")["phase"] != tc.phase {
				t.Errorf("%s: exit %d, phase %v\n%s%s", tc.check, r.code, res["phase"], r.stdout, r.stderr)
			}
		}
		res, _ := jsonResult(t, nil, only("multi", `{name: c, query: '`+q("multi")+`', success_condition: "all(result, {# <= 0.01})"}`)...)
		if vals := checkByName(t, res, "c")["values"].([]any); len(vals) != 3 {
			t.Errorf("every series is in result: %v", vals)
		}
		// The inconclusive gate passes only when allowed.
		r := invokeCLI(t, nil, only("unstable", `{name: c, query: '`+q("unstable")+`', success_condition: "result[0] <= 0.01", failure_condition: "result[0] > 0.1"}`,
			"--fail-on-inconclusive=false")...)
		if r.code != exitPassed || !strings.Contains(r.stdout, "INCONCLUSIVE") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("conditions on empty answers and answers they cannot index", func(t *testing.T) {
		for _, tc := range []struct{ job, check, phase, reason string }{
			// gap has no recent samples: result is [].
			{"gap", `{name: c, query: '` + q("gap") + `', success_condition: "all(result, {# <= 0.01})"}`, "error",
				"no data (the conditions pass on an empty result; on_empty: pass accepts that)"},
			{"gap", `{name: c, query: '` + q("gap") + `', on_empty: pass, success_condition: "len(result) == 0 || result[0] <= 0.01"}`, "passed",
				"result [] meets the success condition"},
			{"gap", `{name: c, query: '` + q("gap") + `', failure_condition: "len(result) == 0"}`, "failed", "result [] meets the failure condition"},
			{"stable", `{name: c, query: '` + q("stable") + `', success_condition: "result[1] <= 0.01"}`, "error",
				"the success condition result[1] <= 0.01 cannot be evaluated on result [0.001]: "},
		} {
			res, r := jsonResult(t, nil, only(tc.job, tc.check)...)
			c := checkByName(t, res, "c")
			if c["phase"] != tc.phase || !strings.HasPrefix(c["reason"].(string), tc.reason) || (r.code == exitPassed) != (tc.phase == "passed") {
				t.Errorf("%s: exit %d, phase %v, reason %q", tc.check, r.code, c["phase"], c["reason"])
			}
		}
	})
	t.Run("inconclusive limit 0 stops polling at the first inconclusive evaluation", func(t *testing.T) {
		clk := clock.NewFake(time.Now())
		res, r := jsonResult(t, clk, only("unstable", `{name: c, query: '`+q("unstable")+`', success_condition: "result[0] <= 0.01", failure_condition: "result[0] > 0.1"}`,
			"--interval-seconds", "10", "--timeout-seconds", "600", "--inconclusive-limit", "0")...)
		if r.code != exitFailed || res["evaluations"] != 1.0 || res["phase"] != "inconclusive" ||
			!strings.HasPrefix(res["msg"].(string), "--inconclusive-limit 0 exceeded: ") {
			t.Errorf("exit %d %v %v %v\n%s", r.code, res["evaluations"], res["phase"], res["msg"], r.stderr)
		}
	})
	t.Run("a dry-run check is reported but does not decide", func(t *testing.T) {
		res, r := jsonResult(t, nil, b.args("stable", "--checks", `{name: trial, query: '`+q("unstable")+`', max: 0.01, dry_run: true}`)...)
		c := checkByName(t, res, "trial")
		if r.code != exitPassed || res["phase"] != "passed" || c["phase"] != "failed" || c["dry_run"] != true {
			t.Errorf("exit %d %v\n%s", r.code, c, r.stderr)
		}
	})
	t.Run("failure limit 0 stops polling at the first failure", func(t *testing.T) {
		clk := clock.NewFake(time.Now())
		res, r := jsonResult(t, clk, b.args("unstable", "--interval-seconds", "10", "--timeout-seconds", "600", "--failure-limit", "0")...)
		if r.code != exitFailed || res["evaluations"] != 1.0 || res["phase"] != "failed" ||
			!strings.HasPrefix(res["msg"].(string), "--failure-limit 0 exceeded: 1 failed evaluation of 1: ") {
			t.Errorf("exit %d %v %v\n%s", r.code, res["evaluations"], res["msg"], r.stderr)
		}
	})
	t.Run("no data in a row stops at the consecutive error limit", func(t *testing.T) {
		clk := clock.NewFake(time.Now())
		res, r := jsonResult(t, clk, b.args("gap", "--interval-seconds", "10", "--timeout-seconds", "600", "--consecutive-error-limit", "2",
			"--measurement-retention", "2")...)
		if r.code != exitFailed || res["evaluations"] != 3.0 || res["phase"] != "error" || len(res["measurements"].([]any)) != 2 ||
			!strings.HasPrefix(res["msg"].(string), "--consecutive-error-limit 2 exceeded: 3 errored evaluations in a row: ") {
			t.Errorf("exit %d %v %v\n%s", r.code, res["evaluations"], res["msg"], r.stderr)
		}
	})
	t.Run("initial delay comes before the first evaluation", func(t *testing.T) {
		start := time.Now()
		clk := clock.NewFake(start)
		res, r := jsonResult(t, clk, b.args("stable", "--initial-delay-seconds", "90")...)
		if r.code != exitPassed || res["evaluated_at"] != start.Add(90*time.Second).UTC().Format(timeFormat) {
			t.Errorf("exit %d %v\n%s", r.code, res["evaluated_at"], r.stderr)
		}
	})
}
