package slocheck

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/modules/moduletest"
	"github.com/threader/guard/internal/testenv"
)

// sloCheck is modules/slo_check, built, run as Ansible runs it.
var sloCheck = moduletest.Built("slo_check")

// invoke runs the built module with args and env (NAME=value entries) and
// returns its JSON result, exit code and output.
func invoke(t *testing.T, args map[string]any, env ...string) (map[string]any, int, string) {
	t.Helper()
	r := sloCheck.Run(t, args, env...)
	return r.JSON, r.Code, r.Stdout
}

func TestModule(t *testing.T) {
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	loki := testenv.StartFakeLoki(t)
	answerLogQueries(loki)
	// The gap job logs nothing: a count over no lines is no series.
	loki.Answer(tenant, `sum(count_over_time({job="gap"}[15m]))`, testenv.LokiVector())
	args := func(job string, more ...any) map[string]any {
		a := map[string]any{"prometheus_url": p.URL, "loki_url": loki.URL, "loki_tenant": tenant, "job": job,
			"request_timeout_seconds": 5, "_ansible_module_name": "threader.guard.slo_check"}
		for i := 0; i+1 < len(more); i += 2 {
			a[more[i].(string)] = more[i+1]
		}
		return a
	}

	t.Run("stable passes, changed false", func(t *testing.T) {
		res, code, _ := invoke(t, args("stable"))
		if code != 0 || res["failed"] != false || res["changed"] != false || res["passed"] != true ||
			len(res["checks"].([]any)) != 3 || res["msg"] != "all 3 checks passed" || res["evaluations"] != 1.0 {
			t.Errorf("exit %d: %v", code, res)
		}
	})
	t.Run("unstable fails the task with the values", func(t *testing.T) {
		res, code, _ := invoke(t, args("unstable"))
		if code != 1 || res["failed"] != true || res["passed"] != false ||
			res["msg"] != "5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995; error_logs_per_min 2 > 1" {
			t.Errorf("exit %d: %v", code, res)
		}
		if c := checkByName(t, res, "health_ratio"); c["value"] != 0.97 || c["comparison"] != ">=" {
			t.Errorf("%v", c)
		}
	})
	t.Run("fail_on_violation false reports without failing", func(t *testing.T) {
		res, code, _ := invoke(t, args("gap", "fail_on_violation", "no"))
		if code != 0 || res["failed"] != false || res["passed"] != false ||
			res["msg"] != "5xx_ratio: no data; health_ratio: no data; error_logs_per_min: no data" {
			t.Errorf("exit %d: %v", code, res)
		}
	})
	t.Run("check mode evaluates too", func(t *testing.T) {
		res, code, _ := invoke(t, args("stable", "_ansible_check_mode", true))
		if code != 0 || res["skipped"] != nil || res["passed"] != true || res["changed"] != false {
			t.Errorf("exit %d: %v", code, res)
		}
	})
	t.Run("string values are coerced as Ansible does", func(t *testing.T) {
		res, code, _ := invoke(t, args("unstable", "max_5xx_ratio", "0.05", "min_health_ratio", "0.9", "max_error_logs_per_min", "2"))
		if code != 0 || res["passed"] != true {
			t.Errorf("exit %d: %v", code, res)
		}
	})
	t.Run("empty loki_url warns", func(t *testing.T) {
		res, code, _ := invoke(t, args("stable", "loki_url", ""))
		w, _ := res["warnings"].([]any)
		if code != 0 || len(w) != 1 || w[0] != "loki_url is empty: the error-log check (error_logs_per_min) is off (victorialogs_url is empty too)" || len(res["checks"].([]any)) != 2 {
			t.Errorf("exit %d: %v", code, res)
		}
	})
	t.Run("extra checks", func(t *testing.T) {
		res, code, _ := invoke(t, args("stable", "default_checks", false, "checks", []any{
			map[string]any{"name": "five", "query": `avg_over_time(job:http_5xx_ratio_1m{job="multi"}[15m])`, "max": "0.01"},
			map[string]any{"name": "lines", "source": "loki", "query": `sum(count_over_time({job="gap"}[15m]))`, "min": 1, "on_empty": "pass"},
		}))
		c := checkByName(t, res, "five")
		if code != 1 || res["msg"] != `five{instance="b", job="multi"} 0.02 > 0.01` || c["series"].(map[string]any)["instance"] != "b" {
			t.Errorf("exit %d: %v", code, res)
		}
		if c := checkByName(t, res, "lines"); c["passed"] != true || c["reason"] != "no data (on_empty: pass)" {
			t.Errorf("%v", c)
		}
	})
	t.Run("validation errors name the option", func(t *testing.T) {
		for want, a := range map[string]map[string]any{
			"one of the following is required: max, min, success_condition, failure_condition found in checks": args("stable", "checks", []any{map[string]any{"name": "x", "query": "up"}}),
			`checks[1].success_condition (check "p99") is not a valid boolean expression over result`: args("stable", "checks", []any{
				map[string]any{"name": "ok", "query": "up", "max": 1}, map[string]any{"name": "p99", "query": "up", "success_condition": "result[0] <"}}),
			"consecutive_error_limit must be -1 (no limit) or 0 or greater, got -5":                                 args("stable", "consecutive_error_limit", -5),
			`window: "15x" is not a Prometheus duration`:                                                            args("stable", "window", "15x"),
			"consecutive 2 needs interval_seconds greater than 0":                                                   args("stable", "consecutive", 2),
			"interval_seconds must be 0 or at least 0.001 (1 ms), got: 1e-10":                                       args("stable", "interval_seconds", 1e-10),
			"timeout_seconds must be at most 1e+09 (about 31 years), got: 1e+300":                                   args("stable", "timeout_seconds", 1e300, "interval_seconds", 1),
			"no checks to run: default_checks is false and checks is empty":                                         args("stable", "default_checks", false),
			"Unsupported parameters for (threader.guard.slo_check) module: max_5xx":                                 args("stable", "max_5xx", 1),
			`checks: check name "5xx_ratio" is used twice: it is the name of a default check`:                       args("stable", "checks", []any{map[string]any{"name": "5xx_ratio", "query": "up", "max": 1}}),
			"prometheus_ca_path: open /nonexistent/ca.pem: no such file or directory":                               args("stable", "prometheus_ca_path", "/nonexistent/ca.pem"),
			"loki_tenant: tenant ID \"a:b\" contains ':'":                                                           args("stable", "loki_tenant", "a:b"),
			"prometheus_bearer_token: cannot be combined with basic auth (prometheus_username/prometheus_password)": args("stable", "prometheus_bearer_token", "tok-51c2e", "prometheus_username", "deploy"),
		} {
			res, code, _ := invoke(t, a)
			if msg, _ := res["msg"].(string); code != 1 || !strings.HasPrefix(msg, want) {
				t.Errorf("want %q, got exit %d: %v", want, code, res["msg"])
			}
		}
	})
}

// TestModulePollingRealClock polls a Prometheus whose data turns healthy
// some seconds after the test starts (samples every second), and checks that
// the module passes only once the window is clean. How soon after is load,
// not logic: the fake-clock tests pin the schedule. The lead before the data
// turns healthy grows when the machine was too slow for it
// (testenv.SoonStable).
func TestModulePollingRealClock(t *testing.T) {
	testenv.SoonStable(t, func(lead time.Duration) bool {
		data := testenv.NewSLOScenarios(time.Now(), lead)
		p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
		defer p.Stop()
		const window, interval = 3 * time.Second, time.Second
		// Bad samples end at SoonStableAt-1s; Prometheus 2.42 windows include
		// both ends, so the window is clean once t-3s > SoonStableAt-1s.
		stableAfter := data.SoonStableAt.Add(window - time.Second)
		res, code, _ := invoke(t, map[string]any{"prometheus_url": p.URL, "loki_url": "", "job": "recovers_soon",
			"window": "3s", "interval_seconds": interval.Seconds(), "timeout_seconds": (lead + time.Minute).Seconds()})
		if code != 0 || res["passed"] != true {
			t.Fatalf("exit %d: %v", code, res)
		}
		at, err := time.Parse(time.RFC3339, res["evaluated_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if late := at.Sub(stableAfter); late <= 0 {
			t.Errorf("passed at %s, %s before the window turned clean", at.Format(timeFormat), -late)
		}
		// One evaluation: the module started after the data turned healthy.
		return res["evaluations"].(float64) >= 2
	})
}

func TestModuleSecretsAreSentButNeverShown(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// An instant vector is stamped with the evaluation time asked for.
		io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[`+r.FormValue("time")+`,"0.999"]}]}}`)
	}))
	defer prom.Close()
	const token = "tok-3f9a1c"
	res, code, out := invoke(t, map[string]any{
		"prometheus_url": prom.URL, "loki_url": "", "default_checks": false,
		"checks": []any{map[string]any{"name": "echo_" + token, "query": "up", "min": 0.99}},
	}, "SLO_CHECK_PROMETHEUS_BEARER_TOKEN="+token)
	if code != 0 || res["passed"] != true {
		t.Fatalf("exit %d: %v", code, res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 1 || auth[0] != "Bearer "+token {
		t.Errorf("Authorization headers %q", auth)
	}
	if strings.Contains(out, token) {
		t.Errorf("the token from the environment appears in the result:\n%s", out)
	}
}
