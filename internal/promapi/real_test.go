package promapi

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// These tests run the client against a real Prometheus 2.42 and
// VictoriaMetrics started with the SLO scenario data, and against the fake
// Loki (real Loki cannot run here).

func scenarioValue(t *testing.T, c *Client, query string) (*Result, error) {
	t.Helper()
	return c.Query(context.Background(), query, time.Time{})
}

func onlyValue(t *testing.T, res *Result) float64 {
	t.Helper()
	if len(res.Series) != 1 || len(res.Series[0].Samples) != 1 {
		t.Fatalf("want one sample, got %+v", res)
	}
	return res.Series[0].Samples[0].Value
}

func TestRealPrometheus(t *testing.T) {
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	c := mustNew(t, Prometheus, Endpoint{URL: p.URL, Timeout: 5 * time.Second, Retries: 2, RetryWaitMin: 10 * time.Millisecond})

	t.Run("vector", func(t *testing.T) {
		res, err := scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="unstable"}[15m])`)
		if err != nil {
			t.Fatal(err)
		}
		if v := onlyValue(t, res); res.Type != Vector || v != 0.023 || res.Series[0].Labels["job"] != "unstable" {
			t.Errorf("%+v", res)
		}
	})
	t.Run("NaN", func(t *testing.T) {
		res, err := scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="nan"}[15m])`)
		if err != nil || !math.IsNaN(onlyValue(t, res)) {
			t.Errorf("%+v %v", res, err)
		}
	})
	t.Run("+Inf", func(t *testing.T) {
		res, err := scenarioValue(t, c, `job:http_5xx_ratio_1m{job="stable"} / 0`)
		if err != nil || !math.IsInf(onlyValue(t, res), 1) {
			t.Errorf("%+v %v", res, err)
		}
	})
	t.Run("no data", func(t *testing.T) {
		res, err := scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="gap"}[15m])`)
		if err != nil || res.Type != Vector || len(res.Series) != 0 {
			t.Errorf("%+v %v", res, err)
		}
	})
	t.Run("several series", func(t *testing.T) {
		res, err := scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="multi"}[15m])`)
		if err != nil || len(res.Series) != 3 {
			t.Errorf("%+v %v", res, err)
		}
	})
	t.Run("matrix", func(t *testing.T) {
		res, err := scenarioValue(t, c, `job:http_5xx_ratio_1m{job="stable"}[1m]`)
		if err != nil || res.Type != Matrix || len(res.Series) != 1 || len(res.Series[0].Samples) < 4 {
			t.Errorf("%+v %v", res, err)
		}
		end := data.Now.Add(-time.Minute)
		res, err = c.QueryRange(context.Background(), `job:health_ok_ratio_1m{job="recovering"}`, data.RecoversAt.Add(-time.Minute), end, time.Minute)
		if err != nil || res.Type != Matrix || len(res.Series) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		s := res.Series[0].Samples
		if len(s) != 31 || s[0].Value != 0.5 || s[1].Value != 0.999 || !s[0].Time.Equal(data.RecoversAt.Add(-time.Minute)) {
			t.Errorf("%d samples: %+v", len(s), s[:2])
		}
	})
	t.Run("scalar and string", func(t *testing.T) {
		res, err := scenarioValue(t, c, `scalar(job:http_5xx_ratio_1m{job="stable"})`)
		if err != nil || res.Type != Scalar || res.Series[0].Labels != nil || onlyValue(t, res) != 0.001 {
			t.Errorf("%+v %v", res, err)
		}
		res, err = scenarioValue(t, c, `"foo"`)
		if err != nil || res.Type != String || res.Text != "foo" {
			t.Errorf("%+v %v", res, err)
		}
	})
	t.Run("evaluated at a time", func(t *testing.T) {
		q := `avg_over_time(job:health_ok_ratio_1m{job="recovering"}[5m])`
		res, err := c.Query(context.Background(), q, data.RecoversAt.Add(-time.Minute))
		if err != nil || onlyValue(t, res) != 0.5 {
			t.Errorf("before recovery: %+v %v", res, err)
		}
		res, err = c.Query(context.Background(), q, data.RecoversAt.Add(10*time.Minute))
		if err != nil || onlyValue(t, res) != 0.999 {
			t.Errorf("after recovery: %+v %v", res, err)
		}
	})
	t.Run("bad_data 400", func(t *testing.T) {
		_, err := scenarioValue(t, c, `sum(`)
		var qerr *Error
		if !errors.As(err, &qerr) || qerr.StatusCode != 400 || qerr.Type != "bad_data" || qerr.Attempts != 1 ||
			!strings.HasPrefix(err.Error(), `prometheus: 400 bad_data: invalid parameter "query": 1:5: parse error`) {
			t.Errorf("%v", err)
		}
	})
	t.Run("execution 422", func(t *testing.T) {
		_, err := scenarioValue(t, c, `job:http_5xx_ratio_1m + on() job:http_5xx_ratio_1m`)
		var qerr *Error
		if !errors.As(err, &qerr) || qerr.StatusCode != 422 || qerr.Type != "execution" || qerr.Attempts != 1 {
			t.Errorf("%v", err)
		}
	})
	t.Run("stopped server fails within the timeout", func(t *testing.T) {
		p.Stop()
		ep := Endpoint{URL: p.URL, Timeout: 2 * time.Second, Retries: 3, RetryWaitMin: 50 * time.Millisecond}
		var err error
		testenv.Within(t, 20*time.Second, func() { _, err = mustNew(t, Prometheus, ep).Query(context.Background(), "up", time.Time{}) })
		var qerr *Error
		if !errors.As(err, &qerr) || !qerr.Temporary() || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%v", err)
		}
	})
}

func TestRealVictoriaMetrics(t *testing.T) {
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	vm := testenv.StartVictoriaMetrics(t, data.Series)
	c := mustNew(t, Prometheus, Endpoint{URL: vm.URL, Timeout: 5 * time.Second})

	res, err := scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="exact"}[15m])`)
	if err != nil || onlyValue(t, res) != testenv.Exact5xxRatio {
		t.Errorf("exact: %+v %v", res, err)
	}
	res, err = scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="multi"}[15m])`)
	if err != nil || len(res.Series) != 3 {
		t.Errorf("multi: %+v %v", res, err)
	}
	// VictoriaMetrics drops NaN samples: the nan scenario is no data here.
	res, err = scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="nan"}[15m])`)
	if err != nil || len(res.Series) != 0 {
		t.Errorf("nan: %+v %v", res, err)
	}
	res, err = scenarioValue(t, c, `avg_over_time(job:http_5xx_ratio_1m{job="gap"}[15m])`)
	if err != nil || len(res.Series) != 0 {
		t.Errorf("gap: %+v %v", res, err)
	}
	res, err = c.Query(context.Background(), `avg_over_time(job:health_ok_ratio_1m{job="recovering"}[5m])`, data.RecoversAt.Add(-time.Minute))
	if err != nil || onlyValue(t, res) != 0.5 {
		t.Errorf("evaluated at a time: %+v %v", res, err)
	}
	_, err = scenarioValue(t, c, `sum(`)
	var qerr *Error
	if !errors.As(err, &qerr) || qerr.StatusCode != 422 || qerr.Attempts != 1 || !strings.HasPrefix(err.Error(), "victoria") &&
		!strings.HasPrefix(err.Error(), "prometheus: 422 422: error when executing query=") {
		t.Errorf("parse error: %v", err)
	}
}

// TestFakeLoki runs the client against the fake Loki, which serves the
// answers registered here in Loki's documented wire format.
func TestFakeLoki(t *testing.T) {
	f := testenv.StartFakeLoki(t)
	now := time.Now().Truncate(time.Second)
	errorsPerMin := `sum(count_over_time({job="threader"} |~ "ERROR|Exception|Traceback" [15m])) / 15`
	f.Answer("team-a", errorsPerMin, testenv.LokiVector(testenv.LokiSeries{Value: 3.0 / 15})) // 3 errors in 15m
	ep := Endpoint{URL: f.URL, Tenant: "team-a", Timeout: 5 * time.Second, Retries: 2, RetryWaitMin: time.Millisecond}
	c := mustNew(t, Loki, ep)

	res, err := c.Query(context.Background(), errorsPerMin, now)
	if err != nil || onlyValue(t, res) != 0.2 || len(res.Series[0].Labels) != 0 || !res.Series[0].Samples[0].Time.Equal(now) {
		t.Errorf("3 errors in 15m: %+v %v", res, err)
	}
	if got := f.Requests()[0]; got.Tenant != "team-a" || got.Time != strconv.FormatInt(now.UnixNano(), 10) {
		t.Errorf("request %+v", got)
	}
	noMatch := `sum(count_over_time({job="threader"} |= "panic" [15m]))`
	f.Answer("team-a", noMatch, testenv.LokiVector())
	res, err = c.Query(context.Background(), noMatch, now)
	if err != nil || res.Type != Vector || len(res.Series) != 0 {
		t.Errorf("no match: %+v %v", res, err)
	}
	f.Answer("team-a", noMatch, testenv.LokiResult{Type: "vector", Null: true})
	res, err = c.Query(context.Background(), noMatch, now)
	if err != nil || res.Type != Vector || len(res.Series) != 0 {
		t.Errorf("null result: %+v %v", res, err)
	}
	perMinute := `sum by (level) (count_over_time({job="threader"}[1m]))`
	f.Answer("team-a", perMinute, testenv.LokiMatrix(testenv.LokiSeries{Labels: map[string]string{"level": "error"},
		Points: []testenv.LokiPoint{{At: now.Add(-time.Minute), Value: 1}, {At: now, Value: 2}}}))
	res, err = c.QueryRange(context.Background(), perMinute, now.Add(-time.Minute), now, time.Minute)
	if err != nil || res.Type != Matrix || len(res.Series) != 1 || res.Series[0].Labels["level"] != "error" ||
		len(res.Series[0].Samples) != 2 || res.Series[0].Samples[1].Value != 2 || !res.Series[0].Samples[1].Time.Equal(now) {
		t.Errorf("matrix: %+v %v", res, err)
	}
	if got := f.Requests(); got[len(got)-1].Start != strconv.FormatInt(now.Add(-time.Minute).UnixNano(), 10) {
		t.Errorf("range request %+v", got[len(got)-1])
	}

	f.FailNext(testenv.LokiFault{Status: 429, RetryAfter: "0"}, testenv.LokiFault{Status: 504})
	if _, err := c.Query(context.Background(), errorsPerMin, now); err != nil {
		t.Errorf("429 then 504 then success: %v", err)
	}
	f.FailNext(testenv.LokiFault{Status: 504}, testenv.LokiFault{Status: 504}, testenv.LokiFault{Status: 504})
	_, err = c.Query(context.Background(), errorsPerMin, now)
	if err == nil || !strings.HasPrefix(err.Error(), "loki: 504 request timed out, decrease the duration") || !strings.HasSuffix(err.Error(), "(after 3 attempts)") {
		t.Errorf("504s: %v", err)
	}
	internal := testenv.LokiFault{Status: 500, Body: "rpc error: code = Internal desc = boom"}
	f.FailNext(internal, internal, internal)
	_, err = c.Query(context.Background(), errorsPerMin, now)
	if err == nil || err.Error() != "loki: 500 rpc error: code = Internal desc = boom (after 3 attempts)" {
		t.Errorf("500s: %v", err)
	}
	f.FailNext(testenv.LokiFault{Status: 400, Body: "parse error at line 1, col 43: syntax error: unexpected $end"})
	before := len(f.Requests())
	_, err = c.Query(context.Background(), errorsPerMin, now)
	if err == nil || !strings.HasPrefix(err.Error(), "loki: 400 parse error") || len(f.Requests()) != before+1 {
		t.Errorf("400 is not retried: %v", err)
	}
	_, err = c.Query(context.Background(), `{job="threader"}`, now)
	if err == nil || err.Error() != "loki: 400 log queries are not supported as an instant query type, please change your query to a range query type" {
		t.Errorf("log query: %v", err)
	}

	noTenant := ep
	noTenant.Tenant = ""
	_, err = mustNew(t, Loki, noTenant).Query(context.Background(), errorsPerMin, now)
	if err == nil || err.Error() != "loki: 401 no org id" {
		t.Errorf("no tenant: %v", err)
	}
}
