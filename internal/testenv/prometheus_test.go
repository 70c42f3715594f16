package testenv

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// instant runs an instant query with plain net/http (this package must not
// depend on the client it helps to test) and returns value by job label.
func instant(t *testing.T, base, query string, at time.Time) map[string]float64 {
	t.Helper()
	params := url.Values{"query": {query}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatInt(at.Unix(), 10))
	}
	resp, err := http.Get(base + "/api/v1/query?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Status != "success" {
		t.Fatalf("%s: status %q error %q decode %v", query, env.Status, env.Error, err)
	}
	out := map[string]float64{}
	for _, r := range env.Data.Result {
		v, err := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		key := r.Metric["job"]
		if inst := r.Metric["instance"]; inst != "" {
			key += "/" + inst
		}
		out[key] = v
	}
	return out
}

func TestRecordingRulesUnitTests(t *testing.T) {
	promtool := RequireBinary(t, "promtool", "prometheus")
	out, code := Run(t, nil, promtool, "check", "rules", RecordingRulesFile())
	Must(t, out, code, "promtool check rules")
	cmd := []string{"test", "rules", filepath.Join(RepoRoot(), "files", "prometheus", "tests", "recording_rules_test.yml")}
	out, code = Run(t, nil, promtool, cmd...)
	Must(t, out, code, "promtool test rules")
}

// TestRecordingRulesBackfilledFromRawCounters runs the shipped rules the way
// an operator backfills them: raw counters in Prometheus, `promtool tsdb
// create-blocks-from rules` against it, and the recorded series queried
// after a restart.
func TestRecordingRulesBackfilledFromRawCounters(t *testing.T) {
	now := time.Now().Truncate(time.Minute)
	from, to := now.Add(-2*time.Hour), now
	counter := func(perStep float64) []Point {
		start := from
		return Stepped(from, to, 15*time.Second, func(ts time.Time) float64 {
			return perStep * float64(ts.Sub(start)/(15*time.Second))
		})
	}
	series := []MetricSeries{
		{Name: "http_requests_total", Labels: map[string]string{"job": "ruled", "code": "200"}, Points: counter(990)},
		{Name: "http_requests_total", Labels: map[string]string{"job": "ruled", "code": "500"}, Points: counter(10)},
		{Name: "up", Labels: map[string]string{"job": "ruled", "instance": "a"}, Points: Constant(from, to, 15*time.Second, 1)},
		{Name: "up", Labels: map[string]string{"job": "ruled", "instance": "b"}, Points: Stepped(from, to, 15*time.Second,
			func(ts time.Time) float64 { return float64(ts.Unix() / 15 % 2) })}, // every other scrape fails
	}
	p := StartPrometheus(t, PrometheusOptions{
		Series:            series,
		RuleFiles:         []string{RecordingRulesFile()},
		BackfillRulesFrom: now.Add(-90 * time.Minute),
		BackfillRulesTo:   now.Add(-time.Minute),
	})
	at := now.Add(-2 * time.Minute)
	ratio := instant(t, p.URL, `avg_over_time(job:http_5xx_ratio_1m{job="ruled"}[15m])`, at)
	if v, ok := ratio["ruled"]; !ok || math.Abs(v-0.01) > 1e-9 {
		t.Errorf("5xx ratio = %v (present %v), want 0.01", v, ok)
	}
	health := instant(t, p.URL, `avg_over_time(job:health_ok_ratio_1m{job="ruled"}[15m])`, at)
	if v, ok := health["ruled"]; !ok || v < 0.7 || v > 0.8 {
		t.Errorf("health ratio = %v (present %v), want about 0.75", v, ok)
	}
}

func TestScenarioDataOnPrometheusAndVictoriaMetrics(t *testing.T) {
	data := NewSLOScenarios(time.Now(), 30*time.Second)
	p := StartPrometheus(t, PrometheusOptions{Series: data.Series, RuleFiles: []string{RecordingRulesFile()}})
	vm := StartVictoriaMetrics(t, data.Series)
	for name, base := range map[string]string{"prometheus": p.URL, "victoria-metrics": vm.URL} {
		got := instant(t, base, `avg_over_time(job:http_5xx_ratio_1m[15m])`, time.Time{})
		want := map[string]float64{"stable": 0.001, "unstable": 0.023, "multi/a": 0.001, "multi/b": 0.02,
			"multi/c": 0.005, "exact": Exact5xxRatio, "exact_default": 0.01, "recovering": 0.001, "recovers_soon": 0.001}
		for job, w := range want {
			if v, ok := got[job]; !ok || math.Abs(v-w) > 1e-12 {
				t.Errorf("%s: %s = %v (present %v), want %v", name, job, v, ok, w)
			}
		}
		if v, ok := got["exact"]; !ok || v != Exact5xxRatio {
			t.Errorf("%s: exact average %v is not exactly %v", name, v, Exact5xxRatio)
		}
		if _, ok := got["gap"]; ok {
			t.Errorf("%s: gap has data in the last 15m", name)
		}
		if v, ok := got["nan"]; name == "prometheus" && (!ok || !math.IsNaN(v)) {
			t.Errorf("prometheus: nan = %v (present %v)", v, ok)
		}
	}
	got := instant(t, p.URL, `avg_over_time(job:http_5xx_ratio_1m{job="exact_default"}[15m])`, time.Time{})
	if got["exact_default"] != 0.01 {
		t.Errorf("prometheus averages a constant 0.01 to %v, not exactly 0.01", got["exact_default"])
	}
}
