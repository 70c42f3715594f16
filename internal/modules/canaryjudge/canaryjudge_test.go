package canaryjudge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/canary"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/modules/moduletest"
	"github.com/threader/guard/internal/promapi"
	"github.com/threader/guard/internal/testenv"
)

func TestMain(m *testing.M) { moduletest.Main(m, Module) }

var t0 = time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)

func TestResolveInterval(t *testing.T) {
	now := t0.Add(30*time.Minute + 500*time.Millisecond)
	for _, tc := range []struct {
		name                       string
		lookback, start, end, step string
		want                       interval
		err                        string
	}{
		{name: "lookback ends now, to the second", lookback: "30m", step: "1m",
			want: interval{t0, t0.Add(30 * time.Minute), time.Minute}},
		{name: "start and end", start: "2026-11-29T16:00:00Z", end: "2026-11-29T17:00:00+01:00", step: "30s",
			want: interval{t0, t0, 30 * time.Second}, err: "end 2026-11-29T17:00:00+01:00 must be after start 2026-11-29T16:00:00Z"},
		{name: "start and end in order", start: "2026-11-29T16:00:00Z", end: "2026-11-29T16:10:00Z", step: "1m",
			want: interval{t0, t0.Add(10 * time.Minute), time.Minute}},
		{name: "lookback and start", lookback: "30m", start: "2026-11-29T16:00:00Z", step: "1m",
			err: "lookback and start are mutually exclusive"},
		{name: "lookback and end", lookback: "30m", end: "2026-11-29T16:00:00Z", step: "1m",
			err: "lookback and end are mutually exclusive"},
		{name: "neither", step: "1m", err: "the interval is missing: give lookback"},
		{name: "start alone", start: "2026-11-29T16:00:00Z", step: "1m", err: "end is required with start"},
		{name: "bad start", start: "yesterday", end: "2026-11-29T16:00:00Z", step: "1m",
			err: `start "yesterday" is not an RFC 3339 time`},
		{name: "bad end", start: "2026-11-29T16:00:00Z", end: "2026-11-29 17:00", step: "1m",
			err: `end "2026-11-29 17:00" is not an RFC 3339 time`},
		// A future end would judge steps that have no data yet: with
		// nan_strategy replace, zeros on both sides that drown a real
		// shift (30 minutes of errors and a 5-hour future end passed).
		{name: "end in the future", start: "2026-11-29T16:00:00Z", end: "2026-11-29T21:00:00Z", step: "1m",
			err: "end 2026-11-29T21:00:00Z is in the future (now is 2026-11-29T16:30:00Z)"},
		{name: "start and end in the future", start: "2026-11-29T16:31:00Z", end: "2026-11-29T16:40:00Z", step: "1m",
			err: "end 2026-11-29T16:40:00Z is in the future"},
		{name: "end a second ago", start: "2026-11-29T16:00:00Z", end: "2026-11-29T16:30:00Z", step: "1m",
			want: interval{t0, t0.Add(30 * time.Minute), time.Minute}},
		{name: "bad lookback", lookback: "30 minutes", step: "1m", err: `lookback "30 minutes" is not a duration`},
		{name: "zero step", lookback: "30m", step: "0s", err: "step must be greater than 0"},
		{name: "step longer than the interval", lookback: "30m", step: "1h", err: "step 1h is longer than the interval (30m)"},
		{name: "too many points", lookback: "8d", step: "1m", err: "has 11520 steps, more than the 11000 points"},
		{name: "exactly the most points", lookback: "11000m", step: "1m",
			want: interval{t0.Add(30*time.Minute - 11000*time.Minute), t0.Add(30 * time.Minute), time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			c.lookback, c.start, c.end, c.step = tc.lookback, tc.start, tc.end, tc.step
			got, err := c.resolveInterval(now, optionName)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !got.start.Equal(tc.want.start) || !got.end.Equal(tc.want.end) || got.step != tc.want.step {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestGridFillsMissingStepsWithNaN(t *testing.T) {
	iv := interval{t0, t0.Add(4 * time.Minute), time.Minute}
	res := &promapi.Result{Type: promapi.Matrix, Series: []promapi.Series{{Samples: []promapi.Sample{
		{Time: t0, Value: 1}, {Time: t0.Add(2 * time.Minute), Value: 3}, {Time: t0.Add(4*time.Minute + 10*time.Millisecond), Value: 5},
		{Time: t0.Add(9 * time.Minute), Value: 9}, // outside: ignored
	}}}}
	got, err := iv.grid(res)
	if err != nil || len(got) != 5 || got[0] != 1 || !math.IsNaN(got[1]) || got[2] != 3 || !math.IsNaN(got[3]) || got[4] != 5 {
		t.Errorf("grid = %v, %v", got, err)
	}
	// No series at all is no data, not five missing points: under
	// nan_strategy replace those would be five zeros, and a dead canary
	// would pass its errors metric.
	got, err = iv.grid(&promapi.Result{Type: promapi.Matrix})
	if err != nil || len(got) != 0 {
		t.Errorf("no series: %v, %v; want no points", got, err)
	}
}

func TestGridFailsClosed(t *testing.T) {
	iv := interval{t0, t0.Add(time.Minute), time.Minute}
	two := []promapi.Series{{Labels: map[string]string{"instance": "a"}}, {Labels: map[string]string{"instance": "b"}}}
	for _, tc := range []struct {
		res  promapi.Result
		want string
	}{
		{promapi.Result{Type: promapi.Matrix, Series: two}, `returned 2 series ({instance="a"}, {instance="b"}); it must return one`},
		{promapi.Result{Type: promapi.Matrix, Warnings: []string{"remote read failed"}}, "may be incomplete: remote read failed"},
		{promapi.Result{Type: promapi.Vector}, "the answer is a vector, not a range"},
		{promapi.Result{Type: promapi.Matrix, Series: []promapi.Series{{Samples: []promapi.Sample{{Time: t0, Value: math.Inf(1)}}}}},
			"returned +Inf at 2026-11-29T16:00:00Z"},
		// Two points on one step: a repeated timestamp, or an answer at a
		// finer step than asked for (the later point used to win).
		{promapi.Result{Type: promapi.Matrix, Series: []promapi.Series{{Samples: []promapi.Sample{{Time: t0, Value: 1}, {Time: t0, Value: 100}}}}},
			"returned two points for the step at 2026-11-29T16:00:00Z (the second at 2026-11-29T16:00:00Z)"},
		{promapi.Result{Type: promapi.Matrix, Series: []promapi.Series{{Samples: []promapi.Sample{{Time: t0, Value: 1},
			{Time: t0.Add(30 * time.Second), Value: 2}, {Time: t0.Add(time.Minute), Value: 3}}}}},
			"returned two points for the step at 2026-11-29T16:01:00Z (the second at 2026-11-29T16:01:00Z): the answer is not on the step of 1m"},
	} {
		if _, err := iv.grid(&tc.res); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.res, err, tc.want)
		}
	}
}

func TestConfigNamerNamesFileKeysAndFlags(t *testing.T) {
	name := configNamer("judge.yml")
	for option, want := range map[string]string{
		"metrics[2].direction": "judge.yml: metrics[2].direction", "pass_score": "judge.yml: pass_score",
		"group_weights.web": "judge.yml: group_weights.web", "lookback": "--lookback", "prometheus_ca_path": "--prometheus-ca-path",
	} {
		if got := name(option); got != want {
			t.Errorf("name(%q) = %q, want %q", option, got, want)
		}
	}
}

func TestConfigFileRefusesUnknownKeys(t *testing.T) {
	for text, want := range map[string]string{
		"metrics: [{name: a, canary_query: x, baseline_query: y, directon: increase}]": `metrics[0]: unknown key "directon"`,
		"metric: []": `unknown key "metric"`,
		"metrics: [{name: a, effect_size: {measure: cles, allowed: 1}}]": `metrics[0].effect_size: unknown key "allowed"`,
		"- a": "want a mapping with a metrics list",
		// A second document was ignored: its settings never applied.
		"metrics: [{name: a, canary_query: x, baseline_query: y}]\n---\npass_score: 99\n": "holds more than one YAML document",
	} {
		if _, err := decodeJudgeFile([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", text, err, want)
		}
	}
}

// An error metric fails the judgement whatever the score: the score leaves
// a failed query out only partly (10 metrics, one error: 90, marginal).
func TestDecideFailsOnAnErrorMetric(t *testing.T) {
	p := plan{failOnMarginal: false}
	v := canary.Verdict{Score: 90, Classification: canary.Marginal, Metrics: []canary.MetricResult{
		{Name: "a", Classification: canary.Pass}, {Name: "b", Classification: canary.Error, Reason: "metrics[1].canary_query: timeout"}}}
	j := p.decide(v)
	if !j.failed || j.verdict.Classification != canary.Fail ||
		j.msg != "canary failed: score 90 (marginal_score 75); deciding metrics: b error: metrics[1].canary_query: timeout" {
		t.Errorf("judgement %+v", j)
	}
	v = canary.Verdict{Score: 80, Classification: canary.Marginal, Decisive: []string{"a"},
		Metrics: []canary.MetricResult{{Name: "a", Classification: canary.High}}}
	if j := p.decide(v); j.failed {
		t.Errorf("marginal with fail_on_marginal false failed: %+v", j)
	}
	p.failOnMarginal = true
	if j := p.decide(v); !j.failed {
		t.Errorf("marginal with fail_on_marginal true passed: %+v", j)
	}
}

// cliRun is one in-process CLI invocation.
type cliRun struct {
	code           int
	stdout, stderr string
}

func invokeCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// Now: the scenarios' data lies around the time the test runs, and an
	// end after the clock's now is refused.
	code := cli(context.Background(), append(args, "--no-syslog"), &stdout, &stderr, clock.NewFake(time.Now()))
	return cliRun{code, stdout.String(), stderr.String()}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "judge.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAgainstPrometheus runs the judge on the scenarios of
// testenv.NewCanaryScenarios, backfilled into one real Prometheus.
func TestAgainstPrometheus(t *testing.T) {
	data := testenv.NewCanaryScenarios(time.Now())
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
	window := []string{"--prometheus-url", prom.URL, "--start", data.Now.Add(-30 * time.Minute).Format(time.RFC3339),
		"--end", data.Now.Format(time.RFC3339), "--step", "1m", "--request-retries", "0"}
	metric := func(name, m, scenario, extra string) string {
		return "  - {name: " + name + ", canary_query: '" + testenv.CanaryQuery(m, scenario, "canary") +
			"', baseline_query: '" + testenv.CanaryQuery(m, scenario, "baseline") + "'" + extra + "}\n"
	}
	judge := func(t *testing.T, metrics string, args ...string) (map[string]any, cliRun) {
		t.Helper()
		r := invokeCLI(t, append(append(window, "--json", "--config", writeConfig(t, "metrics:\n"+metrics)), args...)...)
		var res map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("exit %d, no JSON (%v)\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return res, r
	}
	first := func(res map[string]any) map[string]any { return res["metrics"].([]any)[0].(map[string]any) }

	t.Run("equal passes", func(t *testing.T) {
		res, r := judge(t, metric("latency", testenv.CanaryLatency, "equal", ", direction: increase"))
		m := first(res)
		if r.code != 0 || res["classification"] != "pass" || res["score"] != 100.0 || m["classification"] != "pass" ||
			m["canary"].(map[string]any)["count"] != 31.0 || m["baseline"].(map[string]any)["count"] != 31.0 {
			t.Errorf("exit %d: %v", r.code, res)
		}
		iv := res["interval"].(map[string]any)
		if iv["points"] != 31.0 || iv["step"] != "1m" || iv["start"] != data.Now.Add(-30*time.Minute).Format(time.RFC3339) {
			t.Errorf("interval %v", iv)
		}
	})
	t.Run("canary 50% slower fails high", func(t *testing.T) {
		res, r := judge(t, metric("latency", testenv.CanaryLatency, "slow", ", direction: increase"))
		m := first(res)
		if r.code != 1 || res["classification"] != "fail" || m["classification"] != "high" || res["passed"] != false ||
			!strings.Contains(res["msg"].(string), "deciding metrics: latency high") {
			t.Errorf("exit %d: %v", r.code, res)
		}
		if ratio, _ := m["effect_size"].(float64); math.Abs(ratio-1.5) > 0.05 {
			t.Errorf("effect size %v, want about 1.5", m["effect_size"])
		}
		if lo, _ := m["ci_lower"].(float64); lo <= 0 {
			t.Errorf("ci_lower %v, want above 0", m["ci_lower"])
		}
	})
	t.Run("fewer errors with direction increase pass", func(t *testing.T) {
		res, r := judge(t, metric("errors", testenv.CanaryErrors, "fewer_errors", ", direction: increase"))
		if r.code != 0 || first(res)["classification"] != "pass" {
			t.Errorf("exit %d: %v", r.code, res)
		}
		res, r = judge(t, metric("errors", testenv.CanaryErrors, "fewer_errors", ", direction: either"))
		if r.code != 1 || first(res)["classification"] != "low" {
			t.Errorf("direction either: exit %d: %v", r.code, res)
		}
	})
	t.Run("missing canary data", func(t *testing.T) {
		two := metric("latency", testenv.CanaryLatency, "missing", ", must_have_data: true") +
			metric("control", testenv.CanaryLatency, "equal", "")
		res, r := judge(t, two)
		if r.code != 1 || first(res)["classification"] != "nodata_fail" || first(res)["estimate"] != nil {
			t.Errorf("must_have_data: exit %d: %v", r.code, res)
		}
		res, r = judge(t, metric("latency", testenv.CanaryLatency, "missing", "")+
			metric("control", testenv.CanaryLatency, "equal", "")+metric("control2", testenv.CanaryLatency, "equal", ""))
		if r.code != 0 || first(res)["classification"] != "nodata" || first(res)["canary"].(map[string]any)["count"] != 0.0 {
			t.Errorf("without must_have_data: exit %d: %v", r.code, res)
		}
	})
	t.Run("a gap in the canary is zeros with nan_strategy replace", func(t *testing.T) {
		res, r := judge(t, metric("rps", testenv.CanaryThroughput, "gap", ", direction: decrease, nan_strategy: replace"))
		m := first(res)
		if r.code != 1 || m["classification"] != "low" || m["canary"].(map[string]any)["count"] != 31.0 {
			t.Errorf("replace: exit %d: %v", r.code, res)
		}
		res, r = judge(t, metric("rps", testenv.CanaryThroughput, "gap", ", direction: decrease"))
		m = first(res)
		if n := m["canary"].(map[string]any)["count"].(float64); r.code != 0 || m["classification"] != "pass" ||
			n >= 31-testenv.GapMinutes+2 || n < 31-testenv.GapMinutes {
			t.Errorf("remove: exit %d: %v", r.code, res)
		}
	})
	t.Run("marginal: exit 1 unless fail_on_marginal is false", func(t *testing.T) {
		metrics := metric("fast", testenv.CanaryLatency, "equal", ", group: fast") +
			metric("slow", testenv.CanaryLatency, "slow", ", group: slow, direction: increase")
		weights := "group_weights: {fast: 80, slow: 20}\n"
		for _, tc := range []struct {
			file  string
			flags []string
			code  int
		}{
			{weights, nil, 1},
			{weights, []string{"--fail-on-marginal=false"}, 0},
			{weights + "fail_on_marginal: false\n", nil, 0},
			{weights + "fail_on_marginal: false\n", []string{"--fail-on-marginal"}, 1},
		} {
			cfg := writeConfig(t, "metrics:\n"+metrics+tc.file)
			r := invokeCLI(t, append(append(window, "--config", cfg), tc.flags...)...)
			if r.code != tc.code || !strings.Contains(r.stdout, "MARGINAL: canary is marginal: score 80 is below pass_score 95; deciding metrics: slow high") {
				t.Errorf("%q %v: exit %d, want %d\n%s%s", tc.file, tc.flags, r.code, tc.code, r.stdout, r.stderr)
			}
		}
	})
	t.Run("a query returning two series is an error naming it", func(t *testing.T) {
		res, r := judge(t, metric("control", testenv.CanaryLatency, "equal", "")+
			metric("latency", testenv.CanaryLatency, "multi", ""))
		m := res["metrics"].([]any)[1].(map[string]any)
		if r.code != 1 || res["classification"] != "fail" || m["classification"] != "error" ||
			!strings.Contains(m["reason"].(string), "metrics[1].canary_query: returned 2 series") {
			t.Errorf("exit %d: %v", r.code, res)
		}
	})
	t.Run("table", func(t *testing.T) {
		cfg := writeConfig(t, "metrics:\n"+metric("latency", testenv.CanaryLatency, "slow", ", direction: increase, critical: true"))
		r := invokeCLI(t, append(window, "--config", cfg)...)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 1 || len(lines) != 4 || !strings.HasPrefix(lines[1], "METRIC") || !strings.HasPrefix(lines[2], "latency") ||
			!strings.Contains(lines[2], "HIGH (critical)") || !strings.HasPrefix(lines[3], "FAILED: canary failed: score 0") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("the module", func(t *testing.T) {
		args := map[string]any{"prometheus_url": prom.URL, "start": data.Now.Add(-30 * time.Minute).Format(time.RFC3339),
			"end": data.Now.Format(time.RFC3339), "request_retries": 0,
			"metrics": []any{map[string]any{"name": "latency", "direction": "increase",
				"canary_query":   testenv.CanaryQuery(testenv.CanaryLatency, "slow", "canary"),
				"baseline_query": testenv.CanaryQuery(testenv.CanaryLatency, "slow", "baseline")}}}
		r := moduletest.Self(Module).Run(t, args)
		if r.Code != 1 || r.JSON["failed"] != true || r.JSON["classification"] != "fail" || r.JSON["changed"] != false ||
			!strings.HasPrefix(r.JSON["msg"].(string), "canary failed: score 0") {
			t.Errorf("exit %d: %v", r.Code, r.JSON)
		}
		args["_ansible_check_mode"] = true
		args["metrics"].([]any)[0].(map[string]any)["canary_query"] = testenv.CanaryQuery(testenv.CanaryLatency, "equal", "canary")
		args["metrics"].([]any)[0].(map[string]any)["baseline_query"] = testenv.CanaryQuery(testenv.CanaryLatency, "equal", "baseline")
		if r := moduletest.Self(Module).Run(t, args); r.Code != 0 || r.JSON["classification"] != "pass" || r.JSON["passed"] != true {
			t.Errorf("check mode: exit %d: %v", r.Code, r.JSON)
		}
	})
	t.Run("the module publishes and logs the judgement", func(t *testing.T) {
		sock := moduletest.NewSyslog(t)
		textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
		args := map[string]any{"prometheus_url": prom.URL, "start": data.Now.Add(-30 * time.Minute).Format(time.RFC3339),
			"end": data.Now.Format(time.RFC3339), "name": "web-canary", "metrics_textfile": textfile,
			"metrics": []any{
				map[string]any{"name": "latency", "direction": "increase",
					"canary_query":   testenv.CanaryQuery(testenv.CanaryLatency, "slow", "canary"),
					"baseline_query": testenv.CanaryQuery(testenv.CanaryLatency, "slow", "baseline")},
				map[string]any{"name": "control",
					"canary_query":   testenv.CanaryQuery(testenv.CanaryLatency, "equal", "canary"),
					"baseline_query": testenv.CanaryQuery(testenv.CanaryLatency, "equal", "baseline")}}}
		if r := moduletest.Self(Module).Run(t, args, sock.Env()); r.Code != 1 || r.JSON["score"] != 50.0 {
			t.Fatalf("exit %d: %v", r.Code, r.JSON)
		}
		text := moduletest.ReadFile(t, textfile)
		moduletest.WantSeries(t, text, map[string]float64{
			`threader_guard_canary_score{name="web-canary"}`:                                                        50,
			`threader_guard_canary_classification{classification="fail",name="web-canary"}`:                         1,
			`threader_guard_canary_classification{classification="pass",name="web-canary"}`:                         0,
			`threader_guard_canary_metric_classification{classification="high",metric="latency",name="web-canary"}`: 1,
			`threader_guard_canary_metric_classification{classification="pass",metric="control",name="web-canary"}`: 1,
		})
		lines := sock.Lines(t, 3)
		moduletest.WantInLine(t, lines[0], " ansible-canary_judge[", "event=canary_metric module=canary_judge name=web-canary metric=latency classification=high critical=false canary_count=31 baseline_count=31")
		moduletest.WantInLine(t, lines[1], "event=canary_metric", "metric=control classification=pass")
		moduletest.WantInLine(t, lines[2], "event=canary_judgement module=canary_judge name=web-canary score=50 classification=fail decisive=latency start=")
		if strings.Contains(strings.Join(lines, "\n"), "last_over_time") {
			t.Errorf("a query reached the log:\n%s", strings.Join(lines, "\n"))
		}
	})
}

// The same bad input always gets the same message: the two queries and
// the group weights were checked in map order, so two bad ones were named
// at random.
func TestBadInputIsNamedDeterministically(t *testing.T) {
	for file, want := range map[string]string{
		"metrics: [{name: a, canary_query: '', baseline_query: ''}]\n": "metrics[0].canary_query is required",
		"metrics: [{name: a, canary_query: x, baseline_query: y, group: g1}, {name: b, canary_query: x, baseline_query: y, group: g2}]\n" +
			"group_weights: {g2: lots, g1: many}\n": "group_weights.g1 must be a number",
	} {
		path := writeConfig(t, file)
		for range 30 {
			if r := invokeCLI(t, "--prometheus-url", moduletest.ClosedURL(), "--lookback", "30m", "--config", path); !strings.Contains(r.stderr, path+": "+want) {
				t.Fatalf("want %q every time, got:\n%s", want, r.stderr)
			}
		}
	}
}

// The config file decides the verdict: a file every user may write is
// refused, and so is what is no file to read (a FIFO that nothing writes
// blocked the open, and SIGTERM, forever; /dev/zero was read until memory
// ran out). A written pipe (--config <(...)) is read.
func TestConfigFileMustBeTrusted(t *testing.T) {
	closed := moduletest.ClosedURL()
	open := writeConfig(t, "metrics: [{name: latency, canary_query: a, baseline_query: b}]\n")
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "judge.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		open:        "is writable by every user (mode 0666); anyone could make the canary pass",
		fifo:        "is a FIFO that nothing writes",
		"/dev/zero": "is not a regular file (a character device)",
	} {
		r := invokeCLI(t, "--prometheus-url", closed, "--lookback", "30m", "--config", path)
		if r.code != 2 || !strings.Contains(r.stderr, "canary_judge: --config "+path+" "+want) {
			t.Errorf("%s: exit %d, want 2 and %q\n%s", path, r.code, want, r.stderr)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write([]byte("metrics: [{name: latency, canary_query: a, baseline_query: b}]\npass_score: 101\n"))
		w.Close()
	}()
	substituted := fmt.Sprintf("/proc/self/fd/%d", r.Fd())
	if r := invokeCLI(t, "--prometheus-url", closed, "--lookback", "30m", "--config", substituted); r.code != 2 ||
		!strings.Contains(r.stderr, substituted+": pass_score must be between 0 and 100, got 101") {
		t.Errorf("a config by process substitution was not read: exit %d\n%s", r.code, r.stderr)
	}
}

// Bad input fails before any query, naming the option (module) or the flag
// or the config file's key (CLI). The URL refuses connections: a bad option
// found only after a query would show as a connection error instead.
func TestBadInputNamesTheOption(t *testing.T) {
	closed := moduletest.ClosedURL()
	const good = "metrics: [{name: latency, canary_query: a, baseline_query: b}]\n"
	for _, tc := range []struct {
		name, file string
		args       []string
		want       string
	}{
		{"unknown direction", "metrics: [{name: latency, canary_query: a, baseline_query: b, direction: up}]", nil,
			"judge.yml: metrics[0].direction must be"},
		{"pass_score above 100", good + "pass_score: 120\n", nil, "judge.yml: pass_score must be between 0 and 100, got 120"},
		// Both 0 used to become internal/canary's defaults, 95 and 75,
		// without a word.
		{"pass_score and marginal_score 0", good + "pass_score: 0\nmarginal_score: 0\n", nil,
			"judge.yml: pass_score must be greater than 0: a score of 0 would pass every canary"},
		{"pass_score 0", good + "pass_score: 0\n", nil, "judge.yml: pass_score must be greater than 0"},
		{"duplicate name", "metrics: [{name: a, canary_query: a, baseline_query: b}, {name: a, canary_query: a, baseline_query: b}]", nil,
			"judge.yml: metrics[1].name"},
		{"empty query", "metrics: [{name: latency, canary_query: '', baseline_query: b}]", nil,
			"judge.yml: metrics[0].canary_query is required"},
		{"bad group weight", good + "group_weights: {web: lots}\n", nil, "judge.yml: group_weights.web must be a number"},
		{"lookback and start", good, []string{"--start", "2026-11-29T16:00:00Z"}, "--lookback and --start are mutually exclusive"},
		{"bad RFC 3339", good, []string{"--lookback", "", "--start", "now", "--end", "2026-11-29T16:00:00Z"},
			`--start "now" is not an RFC 3339 time`},
		{"bad step", good, []string{"--step", "fast"}, `--step "fast" is not a duration`},
		{"bad CA path", good, []string{"--prometheus-ca-path", "/nonexistent.pem"}, "--prometheus-ca-path: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.file)
			args := append([]string{"--prometheus-url", closed, "--lookback", "30m", "--config", path}, tc.args...)
			r := invokeCLI(t, args...)
			want := strings.Replace(tc.want, "judge.yml", path, 1)
			if r.code != 2 || !strings.Contains(r.stderr, "canary_judge: "+want) {
				t.Errorf("exit %d, want 2 and %q\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		})
	}
	r := moduletest.Self(Module).Run(t, map[string]any{"prometheus_url": closed, "lookback": "30m", "pass_score": 0, "marginal_score": 0,
		"metrics": []any{map[string]any{"name": "latency", "canary_query": "a", "baseline_query": "b"}}})
	if r.Code != 1 || !strings.Contains(fmt.Sprint(r.JSON["msg"]), "pass_score must be greater than 0") {
		t.Errorf("module with pass_score 0: exit %d, %v", r.Code, r.JSON)
	}
	// A pass_score below the default marginal_score, alone, lowers the
	// default marginal_score with it rather than fail on an option the user
	// never set.
	r = moduletest.Self(Module).Run(t, map[string]any{"prometheus_url": closed, "lookback": "30m", "pass_score": 60,
		"metrics": []any{map[string]any{"name": "latency", "canary_query": "a", "baseline_query": "b"}}})
	if msg := fmt.Sprint(r.JSON["msg"]); !strings.Contains(msg, "canary failed: score 0 (marginal_score 60)") {
		t.Errorf("module with pass_score 60 alone: %v", r.JSON)
	}
	if r := invokeCLI(t, "--prometheus-url", closed, "--lookback", "30m", "--config", writeConfig(t, good+"pass_score: 60\n")); r.code == 2 {
		t.Errorf("CLI with pass_score 60 alone: exit 2\n%s", r.stderr)
	}
	if r := invokeCLI(t, "--prometheus-url", closed, "--lookback", "30m"); r.code != 2 || !strings.Contains(r.stderr, "--config is required") {
		t.Errorf("no --config: exit %d\n%s", r.code, r.stderr)
	}
}

// The message names the thresholds the judge used: a pass_score set alone
// leaves no marginal band (marginal_score 0), not the default 75.
func TestMessageNamesTheThresholdsTheJudgeUsed(t *testing.T) {
	v := canary.Verdict{Score: 40, Classification: canary.Fail, Decisive: []string{"a"},
		Metrics: []canary.MetricResult{{Name: "a", Classification: canary.High}}}
	for _, tc := range []struct {
		opts canary.Options
		want string
	}{
		{canary.Options{PassScore: 50}, "canary failed: score 40 (marginal_score 0); deciding metrics: a high"},
		{canary.Options{}, "canary failed: score 40 (marginal_score 75); deciding metrics: a high"},
		{canary.Options{PassScore: 90, MarginalScore: 60}, "canary failed: score 40 (marginal_score 60); deciding metrics: a high"},
	} {
		if got := (plan{opts: tc.opts}).decide(v).msg; got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.opts, got, tc.want)
		}
	}
}
