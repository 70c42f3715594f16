package slo

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// answers is a Querier that returns a fixed answer (or error) per query.
type answers map[string]any // query → Answer or error

func (a answers) Query(_ context.Context, q string, at time.Time) (Answer, error) {
	switch v := a[q].(type) {
	case Answer:
		return stamped(v, at), nil
	case error:
		return Answer{}, v
	case nil:
		return Answer{}, nil
	default:
		panic("bad fixture")
	}
}

// one is an answer of one sample; its time is set by stamped.
func one(v float64) Answer {
	return Answer{Series: []Series{{Labels: map[string]string{"job": "threader"}, Samples: []Sample{{Value: v}}}}}
}

// stamped returns a copy of a whose samples without a time are stamped at,
// as a server stamps an instant vector with the evaluation time.
func stamped(a Answer, at time.Time) Answer {
	out := Answer{Warnings: a.Warnings}
	for _, s := range a.Series {
		c := Series{Labels: s.Labels}
		for _, smp := range s.Samples {
			if smp.Time.IsZero() {
				smp.Time = at
			}
			c.Samples = append(c.Samples, smp)
		}
		out.Series = append(out.Series, c)
	}
	return out
}

func maxCheck(name, q string, max float64) Check {
	return Check{Name: name, Source: Prometheus, Query: q, Max: Float(max)}
}

func minCheck(name, q string, min float64) Check {
	return Check{Name: name, Source: Prometheus, Query: q, Min: Float(min)}
}

func evalOne(t *testing.T, c Check, q Querier) Result {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ev := Evaluate(context.Background(), []Check{c}, map[Source]Querier{c.Source: q, Loki: q}, t0, Trust{})
	if len(ev.Results) != 1 {
		t.Fatalf("want 1 result, got %d", len(ev.Results))
	}
	if ev.Passed != ev.Results[0].Passed {
		t.Fatalf("evaluation passed=%v but its only check passed=%v", ev.Passed, ev.Results[0].Passed)
	}
	return ev.Results[0]
}

func value(r Result) any {
	if r.Value == nil {
		return nil
	}
	return *r.Value
}

func TestPassingValueReportsBoundAndSeries(t *testing.T) {
	r := evalOne(t, maxCheck("5xx_ratio", "q", 0.01), answers{"q": one(0.001)})
	want := Result{Name: "5xx_ratio", Source: Prometheus, Query: "q", Threshold: 0.01, Comparison: AtMost, Phase: PhasePassed, Passed: true,
		Reason: "0.001 <= 0.01", Series: map[string]string{"job": "threader"}, SeriesCount: 1, Values: []float64{0.001}}
	if diff := cmp.Diff(want, r, cmpopts.IgnoreUnexported(Result{}), cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Value" }, cmp.Ignore())); diff != "" {
		t.Error(diff)
	}
	if value(r) != 0.001 {
		t.Errorf("value = %v", value(r))
	}
}

func TestViolationsNameTheValueAndTheBound(t *testing.T) {
	checks := []Check{maxCheck("5xx_ratio", "a", 0.01), minCheck("health_ratio", "b", 0.995), maxCheck("error_logs_per_min", "c", 1)}
	ev := Evaluate(context.Background(), checks, map[Source]Querier{Prometheus: answers{"a": one(0.023), "b": one(0.97), "c": one(0.5)}}, t0, Trust{})
	if ev.Passed {
		t.Fatal("evaluation passed")
	}
	if got, want := ev.Summary(), "5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if r := ev.Results[1]; r.Comparison != AtLeast || r.Threshold != 0.995 || value(r) != 0.97 {
		t.Errorf("health result %+v", r)
	}
	if !ev.Results[2].Passed {
		t.Errorf("error logs 0.5 <= 1 failed: %+v", ev.Results[2])
	}
}

func TestExactThresholdPasses(t *testing.T) {
	for _, c := range []Check{maxCheck("max", "q", 0.01), minCheck("min", "q", 0.01),
		{Name: "both", Source: Prometheus, Query: "q", Min: Float(0.01), Max: Float(0.01)}} {
		if r := evalOne(t, c, answers{"q": one(0.01)}); !r.Passed {
			t.Errorf("%s: 0.01 against 0.01 failed: %s", c.Name, r.Reason)
		}
	}
}

func TestJustOverTheThresholdIsShownWithFullPrecision(t *testing.T) {
	v := math.Nextafter(0.01, 1)
	r := evalOne(t, maxCheck("x", "q", 0.01), answers{"q": one(v)})
	if r.Passed || r.Reason != "0.010000000000000002 > 0.01" {
		t.Errorf("passed=%v reason %q", r.Passed, r.Reason)
	}
}

func TestNoDataFailsUnlessOnEmptyPass(t *testing.T) {
	for _, empty := range []Answer{{}, {Series: []Series{{Labels: map[string]string{"a": "b"}}}}} {
		r := evalOne(t, maxCheck("x", "q", 1), answers{"q": empty})
		if r.Passed || r.Reason != "no data" || r.Value != nil || r.Series != nil {
			t.Errorf("empty answer: %+v", r)
		}
	}
	c := maxCheck("x", "q", 1)
	c.OnEmpty = EmptyPasses
	r := evalOne(t, c, answers{})
	if !r.Passed || r.Reason != "no data (on_empty: pass)" || r.Value != nil {
		t.Errorf("on_empty pass: %+v", r)
	}
}

func TestNonFiniteValuesFailEvenWhenTheyWouldCompareTrue(t *testing.T) {
	cases := []struct {
		check  Check
		value  float64
		reason string
		cmp    Comparison
	}{
		{maxCheck("x", "q", 0.01), math.NaN(), "NaN", AtMost},
		{minCheck("x", "q", 0.995), math.NaN(), "NaN", AtLeast},
		{minCheck("x", "q", 0.995), math.Inf(1), "+Inf", AtLeast}, // +Inf >= 0.995 is true, yet no measurement
		{maxCheck("x", "q", 0.01), math.Inf(-1), "-Inf", AtMost},  // -Inf <= 0.01 is true, yet no measurement
		{Check{Name: "x", Source: Prometheus, Query: "q", Min: Float(0), Max: Float(1)}, math.Inf(-1), "-Inf", AtLeast},
	}
	for _, tc := range cases {
		r := evalOne(t, tc.check, answers{"q": one(tc.value)})
		if r.Passed || r.Reason != tc.reason || r.Value != nil || r.Comparison != tc.cmp {
			t.Errorf("%v: %+v", tc.value, r)
		}
	}
}

func TestOnEmptyPassDoesNotForgiveNaN(t *testing.T) {
	c := maxCheck("x", "q", 1)
	c.OnEmpty = EmptyPasses
	if r := evalOne(t, c, answers{"q": one(math.NaN())}); r.Passed {
		t.Error("NaN passed with on_empty: pass")
	}
}

func series(labels string, values ...float64) Series {
	k, v, _ := strings.Cut(labels, "=")
	out := Series{Labels: map[string]string{k: v}}
	for _, value := range values {
		out.Samples = append(out.Samples, Sample{Value: value})
	}
	return out
}

func TestWorstSeriesDecidesAndIsNamed(t *testing.T) {
	ans := Answer{Series: []Series{series("instance=a", 0.001), series("instance=b", 0.02), series("instance=c", 0.015)}}
	ev := Evaluate(context.Background(), []Check{maxCheck("5xx_ratio", "q", 0.01)}, map[Source]Querier{Prometheus: answers{"q": ans}}, t0, Trust{})
	r := ev.Results[0]
	if r.Passed || value(r) != 0.02 || r.Series["instance"] != "b" || r.SeriesCount != 3 {
		t.Fatalf("%+v", r)
	}
	if got, want := ev.Summary(), `5xx_ratio{instance="b"} 0.02 > 0.01`; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestNonFiniteSeriesIsWorseThanAViolation(t *testing.T) {
	ans := Answer{Series: []Series{series("instance=a", 0.5), series("instance=b", math.NaN())}}
	ev := Evaluate(context.Background(), []Check{maxCheck("r", "q", 0.01)}, map[Source]Querier{Prometheus: answers{"q": ans}}, t0, Trust{})
	if got, want := ev.Summary(), `r{instance="b"}: NaN`; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestPassingSeveralSeriesReportsTheClosestToTheBound(t *testing.T) {
	ans := Answer{Series: []Series{series("instance=a", 0.999), series("instance=b", 0.996), series("instance=c", 1)}}
	r := evalOne(t, minCheck("h", "q", 0.995), answers{"q": ans})
	if !r.Passed || value(r) != 0.996 || r.Series["instance"] != "b" {
		t.Errorf("%+v", r)
	}
}

func TestEverySampleOfAMatrixCounts(t *testing.T) {
	ans := Answer{Series: []Series{series("instance=a", 0.001, 0.002, 0.03, 0.001)}}
	r := evalOne(t, maxCheck("r", "q", 0.01), answers{"q": ans})
	if r.Passed || value(r) != 0.03 {
		t.Errorf("%+v", r)
	}
}

func TestBothBoundsReportTheViolatedOne(t *testing.T) {
	c := Check{Name: "b", Source: Prometheus, Query: "q", Min: Float(1), Max: Float(10)}
	for v, want := range map[float64]string{0.5: "0.5 < 1", 11: "11 > 10", 2: "2 >= 1", 9: "9 <= 10"} {
		if r := evalOne(t, c, answers{"q": one(v)}); r.Reason != want {
			t.Errorf("%v: reason %q, want %q", v, r.Reason, want)
		}
	}
}

func TestQueryErrorIsTheReason(t *testing.T) {
	r := evalOne(t, maxCheck("r", "q", 1), answers{"q": errors.New("prometheus: 503 Service Unavailable")})
	if r.Passed || r.Reason != "prometheus: 503 Service Unavailable" || r.Value != nil {
		t.Errorf("%+v", r)
	}
}

// Issue 10 item 8: an answer with warnings (partial data) is not believed
// unless the gate says so; either way the warnings are passed on.
func TestWarningsFailTheCheckUnlessAccepted(t *testing.T) {
	a := one(0.001)
	a.Warnings = []string{"remote read failed", "partial response"}
	q := map[Source]Querier{Prometheus: answers{"q": a}}
	ev := Evaluate(context.Background(), []Check{maxCheck("r", "q", 1)}, q, t0, Trust{})
	want := "prometheus answered with warnings, so the data may be incomplete: remote read failed; partial response"
	if r := ev.Results[0]; r.Passed || ev.Passed || r.Reason != want || r.Value != nil {
		t.Errorf("warnings not refused: %+v", r)
	}
	ev = Evaluate(context.Background(), []Check{maxCheck("r", "q", 1)}, q, t0, Trust{AcceptWarnings: true})
	if !ev.Passed {
		t.Errorf("AcceptWarnings: %+v", ev.Results[0])
	}
	if diff := cmp.Diff([]string{"r: remote read failed", "r: partial response"}, ev.Warnings()); diff != "" {
		t.Error(diff)
	}
}

func TestWarningsOfThePresenceQueryCount(t *testing.T) {
	lines := one(120)
	lines.Warnings = []string{"querier timeout"}
	r := evalOne(t, logCheck(), answers{"errors": Answer{}, "lines": lines})
	if r.Passed || !strings.Contains(r.Reason, "presence query failed: loki answered with warnings") {
		t.Errorf("%+v", r)
	}
}

// Issue 10 item 8: samples more than 5 minutes from the evaluation time, or
// without a time, fail closed; exactly 5 minutes is still current.
func TestStaleFutureAndUntimedSamplesFail(t *testing.T) {
	c := maxCheck("r", "q", 1)
	at := func(d time.Duration) Answer {
		a := one(0.001)
		a.Series[0].Samples[0].Time = t0.Add(d)
		return a
	}
	for d, want := range map[time.Duration]string{
		-5*time.Minute - time.Second:     "prometheus answered a sample timestamped 5m1s before, more than 5m0s from the evaluation time: stale data or a wrong clock",
		5*time.Minute + time.Millisecond: "prometheus answered a sample timestamped 5m0.001s after, more than 5m0s from the evaluation time: stale data or a wrong clock",
		-24 * time.Hour:                  "prometheus answered a sample timestamped 24h0m0s before, more than 5m0s from the evaluation time: stale data or a wrong clock",
	} {
		if r := evalOne(t, c, answers{"q": at(d)}); r.Passed || r.Reason != want {
			t.Errorf("%s: %+v", d, r)
		}
	}
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute, 0} {
		if r := evalOne(t, c, answers{"q": at(d)}); !r.Passed {
			t.Errorf("%s: %+v", d, r)
		}
	}
	untimed := QuerierFunc(func(context.Context, string, time.Time) (Answer, error) { return one(0.001), nil })
	if r := evalOne(t, c, untimed); r.Passed || r.Reason != "prometheus answered a sample without a timestamp" {
		t.Errorf("untimed: %+v", r)
	}
	ev := Evaluate(context.Background(), []Check{c}, map[Source]Querier{Prometheus: answers{"q": at(-10 * time.Minute)}}, t0, Trust{MaxSkew: time.Hour})
	if !ev.Passed {
		t.Errorf("MaxSkew 1h: %+v", ev.Results[0])
	}
}

// Issue 10 item 8: a ratio of -0.5 meets "<= 0.01" and a ratio of 7 meets
// ">= 0.995", but neither is a ratio: broken data fails.
func TestValuesOutsideTheValidRangeFail(t *testing.T) {
	ratio5xx := maxCheck("5xx_ratio", "q", 0.01)
	ratio5xx.Valid = Ratio()
	health := minCheck("health_ratio", "q", 0.995)
	health.Valid = Ratio()
	for c, v := range map[*Check]float64{&ratio5xx: -0.5, &health: 7} {
		r := evalOne(t, *c, answers{"q": one(v)})
		want := FormatValue(v) + " is outside [0, 1], the valid range of this check: broken data"
		if r.Passed || r.Reason != want || r.Value != nil {
			t.Errorf("%s %v: %+v", c.Name, v, r)
		}
	}
	for c, v := range map[*Check]float64{&ratio5xx: 0, &health: 1} {
		if r := evalOne(t, *c, answers{"q": one(v)}); !r.Passed {
			t.Errorf("%s %v: %+v", c.Name, v, r)
		}
	}
	// One bad series among good ones decides, and a NaN is worse still.
	ans := Answer{Series: []Series{series("instance=a", 0.001), series("instance=b", 1.5), series("instance=c", 0.002)}}
	if r := evalOne(t, ratio5xx, answers{"q": ans}); r.Passed || r.Series["instance"] != "b" {
		t.Errorf("%+v", r)
	}
	ans.Series = append(ans.Series, series("instance=d", math.NaN()))
	if r := evalOne(t, ratio5xx, answers{"q": ans}); r.Passed || r.Series["instance"] != "d" || r.Reason != "NaN" {
		t.Errorf("%+v", r)
	}
}

func logCheck() Check {
	return Check{Name: "error_logs_per_min", Source: Loki, Query: "errors", PresenceQuery: "lines", Max: Float(1)}
}

func TestPresenceQueryTurnsAnEmptyCountIntoZero(t *testing.T) {
	r := evalOne(t, logCheck(), answers{"errors": Answer{}, "lines": one(120)})
	if !r.Passed || value(r) != 0.0 || !strings.HasPrefix(r.Reason, "0 <= 1") {
		t.Errorf("%+v", r)
	}
}

func TestPresenceQueryEmptyMeansNoData(t *testing.T) {
	for name, lines := range map[string]any{"empty": Answer{}, "zero": one(0), "NaN": one(math.NaN())} {
		r := evalOne(t, logCheck(), answers{"errors": Answer{}, "lines": lines})
		if r.Passed || r.Reason != "no data" {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

func TestPresenceQueryErrorIsReported(t *testing.T) {
	r := evalOne(t, logCheck(), answers{"errors": Answer{}, "lines": errors.New("loki: 401 no org id")})
	if r.Passed || r.Reason != "no data, and the presence query failed: loki: 401 no org id" {
		t.Errorf("%+v", r)
	}
}

func TestMainQueryValuesWinOverPresence(t *testing.T) {
	r := evalOne(t, logCheck(), answers{"errors": one(3.5), "lines": errors.New("unused")})
	if r.Passed || value(r) != 3.5 || r.Reason != "3.5 > 1" {
		t.Errorf("%+v", r)
	}
}

func TestMissingQuerierFailsTheCheck(t *testing.T) {
	ev := Evaluate(context.Background(), []Check{logCheck()}, map[Source]Querier{Prometheus: answers{}}, t0, Trust{})
	if ev.Passed || ev.Results[0].Reason != "no loki endpoint is configured" {
		t.Errorf("%+v", ev.Results[0])
	}
}

// barrier is a Querier whose queries all block until n of them are running,
// so it deadlocks (and the test times out) unless they run concurrently.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived int
	all     chan struct{}
	times   []time.Time
}

func (b *barrier) Query(ctx context.Context, q string, at time.Time) (Answer, error) {
	b.mu.Lock()
	b.arrived++
	b.times = append(b.times, at)
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all: // 1: at the bounds, and the presence query finds lines
		return stamped(one(1), at), nil
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	}
}

func TestAllQueriesOfOneEvaluationRunConcurrently(t *testing.T) {
	b := &barrier{n: 4, all: make(chan struct{})}
	checks := []Check{maxCheck("a", "a", 1), maxCheck("b", "b", 1), logCheck()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := Evaluate(ctx, checks, map[Source]Querier{Prometheus: b, Loki: b}, t0, Trust{})
	if !ev.Passed {
		t.Fatalf("queries did not all run at once: %s", ev.Summary())
	}
	for _, at := range b.times {
		if !at.Equal(t0) {
			t.Errorf("query evaluated at %v, want %v", at, t0)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]Check{
		"check has no name":                 {Source: Prometheus, Query: "q", Max: Float(1)},
		"source is empty":                   {Name: "x", Query: "q", Max: Float(1)},
		"query is empty":                    {Name: "x", Source: Prometheus, Max: Float(1)},
		"needs max, min, success_condition": {Name: "x", Source: Prometheus, Query: "q"},
		"max must be a finite number":       {Name: "x", Source: Prometheus, Query: "q", Max: Float(math.NaN())},
		"min must be a finite number":       {Name: "x", Source: Prometheus, Query: "q", Min: Float(math.Inf(1))},
		"min 2 is greater than max 1":       {Name: "x", Source: Prometheus, Query: "q", Max: Float(1), Min: Float(2)},
		`on_empty must be "fail" or "pass"`: {Name: "x", Source: Prometheus, Query: "q", Max: Float(1), OnEmpty: "maybe"},
	}
	for want, c := range bad {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
	if err := ValidateChecks([]Check{maxCheck("a", "q", 1), maxCheck("a", "r", 1)}); err == nil || !strings.Contains(err.Error(), `"a" is used twice`) {
		t.Errorf("duplicate names: %v", err)
	}
	if err := ValidateChecks(nil); err == nil {
		t.Error("no checks accepted")
	}
}
