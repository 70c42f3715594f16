package slocheck

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Issue 10 item 8, against a real Prometheus: answers the gate must not
// believe. Each of these passed before the fix.

// proxy puts an HTTP proxy in front of target that may rewrite the request
// and the answer, as a cache or a broken gateway would.
func proxy(t *testing.T, target string, rewriteQuery func(url.Values), rewriteBody func([]byte) []byte) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		if rewriteQuery != nil {
			q := r.URL.Query()
			rewriteQuery(q)
			r.URL.RawQuery = q.Encode()
		}
		r.Header.Del("Accept-Encoding") // keep the body readable for rewriteBody
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if rewriteBody == nil {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = rewriteBody(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

func startScenarioPrometheus(t *testing.T) *testenv.Prometheus {
	t.Helper()
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	// "broken" records impossible ratios, as a recording rule with a wrong
	// sign or a swapped numerator and denominator would.
	now := time.Now().Truncate(15 * time.Second)
	from, to := now.Add(-time.Hour), now.Add(time.Hour)
	series := append(data.Series,
		testenv.MetricSeries{Name: testenv.Metric5xxRatio, Labels: map[string]string{"job": "broken"},
			Points: testenv.Constant(from, to, 15*time.Second, -0.5)},
		testenv.MetricSeries{Name: testenv.MetricHealthRatio, Labels: map[string]string{"job": "broken"},
			Points: testenv.Constant(from, to, 15*time.Second, 7)})
	return testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: series})
}

func promOnly(promURL, job string, extra ...string) []string {
	return append([]string{"--prometheus-url", promURL, "--loki-url", "", "--job", job,
		"--request-timeout-seconds", "5", "--request-retries", "1"}, extra...)
}

func TestTrustRulesAgainstRealPrometheus(t *testing.T) {
	p := startScenarioPrometheus(t)

	t.Run("ratios outside [0, 1] fail although they meet the thresholds", func(t *testing.T) {
		res, r := jsonResult(t, nil, promOnly(p.URL, "broken")...)
		if r.code != exitFailed || res["passed"] != false {
			t.Fatalf("exit %d: %v", r.code, res)
		}
		for name, v := range map[string]string{"5xx_ratio": "-0.5", "health_ratio": "7"} {
			c := checkByName(t, res, name)
			if c["passed"] != false || c["value"] != nil || c["reason"] != v+" is outside [0, 1], the valid range of this check: broken data" {
				t.Errorf("%s: %v", name, c)
			}
		}
	})

	t.Run("an hour-old answer replayed by a proxy fails", func(t *testing.T) {
		// The proxy asks Prometheus for the answer of an hour ago, as a
		// cache that kept it would serve it: same query, same data, old
		// timestamps.
		stale := proxy(t, p.URL, func(q url.Values) {
			at, _ := strconv.ParseFloat(q.Get("time"), 64)
			q.Set("time", strconv.FormatFloat(at-3600, 'f', 3, 64))
		}, nil)
		res, r := jsonResult(t, nil, promOnly(stale, "stable")...)
		c := checkByName(t, res, "5xx_ratio")
		reason, _ := c["reason"].(string)
		if r.code != exitFailed || c["passed"] != false ||
			!strings.HasPrefix(reason, "prometheus answered a sample timestamped 1h0m0") || !strings.Contains(reason, "s before, more than 5m0s from the evaluation time") {
			t.Errorf("exit %d: %v", r.code, c)
		}
		// Straight to Prometheus, the same gate passes.
		if r := invokeCLI(t, nil, promOnly(p.URL, "stable")...); r.code != exitPassed {
			t.Errorf("direct: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("a bare range selector returns samples older than 5 minutes and fails", func(t *testing.T) {
		check := `{name: raw, query: 'job:http_5xx_ratio_1m{job="stable"}[15m]', max: 0.01}`
		res, r := jsonResult(t, nil, promOnly(p.URL, "stable", "--default-checks=false", "--checks", check)...)
		c := checkByName(t, res, "raw")
		if reason, _ := c["reason"].(string); r.code != exitFailed || !strings.Contains(reason, "before, more than 5m0s from the evaluation time") {
			t.Errorf("exit %d: %v", r.code, c)
		}
		check = `{name: avg, query: 'avg_over_time(job:http_5xx_ratio_1m{job="stable"}[15m])', max: 0.01}`
		if r := invokeCLI(t, nil, promOnly(p.URL, "stable", "--default-checks=false", "--checks", check)...); r.code != exitPassed {
			t.Errorf("avg_over_time: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("warnings fail the check unless accepted", func(t *testing.T) {
		warned := proxy(t, p.URL, nil, func(body []byte) []byte {
			return bytes.Replace(body, []byte(`{"status":"success",`), []byte(`{"status":"success","warnings":["remote read failed: store-2 unreachable"],`), 1)
		})
		res, r := jsonResult(t, nil, promOnly(warned, "stable")...)
		want := "prometheus answered with warnings, so the data may be incomplete: remote read failed: store-2 unreachable"
		if c := checkByName(t, res, "5xx_ratio"); r.code != exitFailed || c["reason"] != want {
			t.Errorf("exit %d: %v", r.code, c)
		}
		r = invokeCLI(t, nil, promOnly(warned, "stable", "--accept-warnings")...)
		if r.code != exitPassed || !strings.Contains(r.stderr, "slo_check: warning: 5xx_ratio: remote read failed: store-2 unreachable") {
			t.Errorf("--accept-warnings: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// The module option, through the built module.
		args := map[string]any{"prometheus_url": warned, "loki_url": "", "job": "stable", "request_timeout_seconds": 5}
		if res, code, _ := invoke(t, args); code != 1 || res["passed"] != false {
			t.Errorf("module: exit %d: %v", code, res)
		}
		args["accept_warnings"] = true
		if res, code, _ := invoke(t, args); code != 0 || res["passed"] != true {
			t.Errorf("module, accept_warnings: exit %d: %v", code, res)
		}
	})
}

// Loki's envelope carries warnings the same way (for example when a
// querier hit a limit and the answer is partial): the error-log check fails
// unless accepted.
func TestLokiWarningsFailTheErrorLogCheck(t *testing.T) {
	p := startScenarioPrometheus(t)
	loki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// A count over some lines, stamped at the query time, with a warning.
		at, _ := strconv.ParseInt(r.FormValue("time"), 10, 64)
		io.WriteString(w, `{"status":"success","warnings":["max entries limit reached"],"data":{"resultType":"vector","result":[`+
			`{"metric":{},"value":[`+strconv.FormatFloat(float64(at)/1e9, 'f', 3, 64)+`,"3"]}]}}`)
	}))
	t.Cleanup(loki.Close)
	args := []string{"--prometheus-url", p.URL, "--loki-url", loki.URL, "--loki-tenant", tenant, "--job", "stable",
		"--request-timeout-seconds", "5", "--default-checks=false",
		"--checks", `{name: lines, source: loki, query: 'sum(count_over_time({job="stable"}[15m]))', min: 1}`}
	res, r := jsonResult(t, nil, args...)
	want := "loki answered with warnings, so the data may be incomplete: max entries limit reached"
	if c := checkByName(t, res, "lines"); r.code != exitFailed || c["reason"] != want {
		t.Errorf("exit %d: %v", r.code, c)
	}
	if r := invokeCLI(t, nil, append(args, "--accept-warnings")...); r.code != exitPassed {
		t.Errorf("--accept-warnings: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
