package canary

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/threader/guard/internal/fielderr"
)

func TestBadOptionsNameTheField(t *testing.T) {
	ok := []Metric{{Name: "latency", Group: "lat"}, {Name: "errors"}}
	cases := []struct {
		name    string
		opts    Options
		metrics []Metric
		field   string
		problem string
	}{
		{"confidence 1", Options{Confidence: 1}, ok, "confidence", "must be between 0 and 1 (exclusive), got 1"},
		{"confidence negative", Options{Confidence: -0.5}, ok, "confidence", "got -0.5"},
		{"confidence NaN", Options{Confidence: math.NaN()}, ok, "confidence", "got NaN"},
		{"pass_score 120", Options{PassScore: 120}, ok, "pass_score", "must be between 0 and 100, got 120"},
		{"pass_score Inf", Options{PassScore: math.Inf(1)}, ok, "pass_score", "got +Inf"},
		{"marginal negative", Options{PassScore: 90, MarginalScore: -1}, ok, "marginal_score", "must be between 0 and 100, got -1"},
		{"marginal above pass", Options{PassScore: 80, MarginalScore: 90}, ok, "marginal_score", "must not be above pass_score (80), got 90"},
		{"no metrics", Options{}, nil, "metrics", "must list at least one metric"},
		{"empty name", Options{}, []Metric{{Name: "a"}, {}}, "metrics[1].name", "must not be empty"},
		{"duplicate name", Options{}, []Metric{{Name: "a"}, {Name: "b"}, {Name: "a"}}, "metrics[2].name", `"a" is already the name of metrics[0]`},
		{"direction", Options{}, []Metric{{Name: "a", Direction: "up"}}, "metrics[0].direction", `must be increase, decrease or either, got "up"`},
		{"nan_strategy", Options{}, []Metric{{Name: "a", NaNStrategy: "zero"}}, "metrics[0].nan_strategy", `must be remove or replace, got "zero"`},
		{"outliers", Options{}, []Metric{{Name: "a", Outliers: "drop"}}, "metrics[0].outliers", `must be keep or remove, got "drop"`},
		{"measure", Options{}, []Metric{{Name: "a", EffectSize: EffectSize{Measure: "ratio"}}}, "metrics[0].effect_size.measure", `must be mean_ratio or cles, got "ratio"`},
		{"allowed_increase NaN", Options{}, []Metric{{Name: "a", EffectSize: EffectSize{AllowedIncrease: ptr(math.NaN())}}}, "metrics[0].effect_size.allowed_increase", "must be a finite number, got NaN"},
		{"cles bound", Options{}, []Metric{{Name: "a", EffectSize: EffectSize{Measure: CLES, AllowedDecrease: ptr(1.5)}}}, "metrics[0].effect_size.allowed_decrease", "must be between 0 and 1 for measure cles, got 1.5"},
		{"critical inside allowed", Options{}, []Metric{{Name: "a", EffectSize: EffectSize{AllowedIncrease: ptr(2), CriticalIncrease: ptr(1.5)}}}, "metrics[0].effect_size.critical_increase", "must not be below allowed_increase (2), got 1.5"},
		{"critical_decrease", Options{}, []Metric{{Name: "a", EffectSize: EffectSize{AllowedDecrease: ptr(0.5), CriticalDecrease: ptr(0.8)}}}, "metrics[0].effect_size.critical_decrease", "must not be above allowed_decrease (0.5), got 0.8"},
		{"max_canary_value", Options{}, []Metric{{Name: "a"}, {Name: "b", MaxCanaryValue: ptr(math.Inf(1))}}, "metrics[1].max_canary_value", "must be a finite number, got +Inf"},
		{"weight range", Options{GroupWeights: map[string]float64{"lat": 101}}, ok, "group_weights.lat", "must be between 0 and 100, got 101"},
		{"weight NaN", Options{GroupWeights: map[string]float64{"lat": math.NaN()}}, ok, "group_weights.lat", "got NaN"},
		{"weight unknown group", Options{GroupWeights: map[string]float64{"latency": 50}}, ok, "group_weights.latency", `names group "latency", which no metric is in`},
		{"weights over 100", Options{GroupWeights: map[string]float64{"lat": 60, "": 50}}, ok, "group_weights", "must add up to at most 100, got 110"},
		{"weights under 100", Options{GroupWeights: map[string]float64{"lat": 60, "": 30}}, ok, "group_weights", "must add up to 100 when every group has a weight, got 90"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := make([]Samples, len(c.metrics))
			_, err := Judge(c.opts, c.metrics, data)
			fe, isField := fielderr.As(err)
			if !isField || fe.Field != c.field || !strings.Contains(fe.Problem, c.problem) {
				t.Fatalf("Judge: %v; want field %s: %s", err, c.field, c.problem)
			}
			if err := Validate(c.opts, c.metrics); err == nil || err.Error() != fe.Error() {
				t.Errorf("Validate = %v, Judge said %v", err, fe)
			}
		})
	}
}

func TestGoodOptionsAreAccepted(t *testing.T) {
	metrics := []Metric{
		{Name: "a", Group: "x", Direction: Increase, NaNStrategy: ReplaceNaN, Outliers: RemoveOutliers, MaxCanaryValue: ptr(0)},
		{Name: "b", Group: "y", EffectSize: EffectSize{Measure: CLES, AllowedIncrease: ptr(0.6), CriticalIncrease: ptr(0.9)}},
	}
	for _, o := range []Options{{}, DefaultOptions(), {Confidence: 0.5, PassScore: 100, MarginalScore: 100},
		{GroupWeights: map[string]float64{"x": 33.3, "y": 66.7}}, {GroupWeights: map[string]float64{"x": 100}}} {
		if err := Validate(o, metrics); err != nil {
			t.Errorf("Validate(%+v): %v", o, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	if d := DefaultOptions(); d.Confidence != 0.98 || d.PassScore != 95 || d.MarginalScore != 75 {
		t.Errorf("DefaultOptions() = %+v", d)
	}
	if o := (Options{}).withDefaults(); !reflect.DeepEqual(o, DefaultOptions()) {
		t.Errorf("zero options become %+v", o)
	}
	// A pass score set alone keeps marginal_score 0: no marginal band.
	if o := (Options{PassScore: 60}).withDefaults(); o.PassScore != 60 || o.MarginalScore != 0 {
		t.Errorf("pass_score 60 alone becomes %+v", o)
	}
	// The interval's confidence is the one asked for.
	v, err := Judge(Options{Confidence: 0.5}, []Metric{{Name: "m"}}, []Samples{{Canary: around(100.5, 30), Baseline: around(100, 30)}})
	if err != nil || !strings.Contains(v.Metrics[0].Reason, "(50% CI ") {
		t.Errorf("confidence 0.5: %v %q", err, v.Metrics[0].Reason)
	}
}

func TestDataLengthMismatchIsAnError(t *testing.T) {
	_, err := Judge(Options{}, []Metric{{Name: "a"}, {Name: "b"}}, []Samples{{}})
	if err == nil || err.Error() != "canary: 2 metrics but data for 1" {
		t.Errorf("Judge = %v", err)
	}
	if _, isField := fielderr.As(err); isField {
		t.Error("a data length mismatch is the caller's bug, not a field error")
	}
}

// fleet is a judgement of four groups of metrics with the kinds of data a
// fleet gives: shifts, ties, gaps, constant series and an outage.
func fleet() ([]Metric, []Samples) {
	n := math.NaN()
	gappy := around(20, 60)
	for i := 0; i < 60; i += 7 {
		gappy[i] = n
	}
	metrics := []Metric{
		{Name: "latency_p99", Group: "latency", Direction: Increase, Critical: true, EffectSize: EffectSize{CriticalIncrease: ptr(1.29)}},
		{Name: "latency_p50", Group: "latency", Direction: Increase, Outliers: RemoveOutliers},
		{Name: "errors", Group: "errors", NaNStrategy: ReplaceNaN, MaxCanaryValue: ptr(5)},
		{Name: "cpu", Group: "saturation", EffectSize: EffectSize{Measure: CLES, AllowedIncrease: ptr(0.8)}},
		{Name: "queue", Group: "saturation", MustHaveData: true},
		{Name: "restarts"},
	}
	data := []Samples{
		{Canary: around(130, 60), Baseline: around(100, 60)},
		{Canary: gappy, Baseline: around(20, 60)},
		{Canary: []float64{0, 1, n, 0, 2, 0}, Baseline: []float64{1, 1, 0, n, 1, 0}},
		{Canary: around(55, 60), Baseline: around(50, 60)},
		{Canary: nil, Baseline: around(3, 60)},
		{Canary: []float64{0, 0, 0}, Baseline: []float64{0, 0, 0}},
	}
	return metrics, data
}

func TestJudgeAFleet(t *testing.T) {
	metrics, data := fleet()
	v, err := Judge(Options{GroupWeights: map[string]float64{"latency": 50}}, metrics, data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v.Metrics {
		got = append(got, r.Name+"="+string(r.Classification))
	}
	want := "latency_p99=high latency_p50=pass errors=pass cpu=high queue=nodata_fail restarts=pass"
	if strings.Join(got, " ") != want {
		t.Errorf("classifications %s\nwant            %s", strings.Join(got, " "), want)
	}
	// latency 1 of 2 (weight 50): 25; errors, saturation (0 of 2) and the
	// unnamed group share 50: 100/6 + 0 + 100/6 = 33.33; in all 58.33.
	// latency_p99 is High with a mean ratio of 130.025/100.025 = 1.2999,
	// beyond its critical bound 1.29, so it is critical: the score is 0.
	if !v.Metrics[0].Critical || v.Score != 0 || v.Classification != Fail {
		t.Errorf("p99 critical %v, score %v %s (%s)", v.Metrics[0].Critical, v.Score, v.Classification, v.Reason)
	}
	if strings.Join(v.Decisive, ",") != "latency_p99,cpu,queue" {
		t.Errorf("decisive %q", v.Decisive)
	}
	metrics[0].EffectSize.CriticalIncrease = ptr(1.31)
	v, _ = Judge(Options{GroupWeights: map[string]float64{"latency": 50}}, metrics, data)
	if v.Metrics[0].Critical || v.Score != 58.33 || v.Classification != Fail {
		t.Errorf("below the critical bound: critical %v, score %v %s", v.Metrics[0].Critical, v.Score, v.Classification)
	}
}

func TestSameInputSameVerdict(t *testing.T) {
	metrics, data := fleet()
	opts := Options{GroupWeights: map[string]float64{"latency": 40, "errors": 20}}
	first, err := Judge(opts, metrics, data)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, _ := Judge(opts, metrics, data)
		if !reflect.DeepEqual(nanless(first), nanless(again)) {
			t.Fatalf("verdicts differ:\n%+v\n%+v", first, again)
		}
	}
}

// nanless replaces NaN by a marker so reflect.DeepEqual can compare.
func nanless(v Verdict) Verdict {
	fix := func(f *float64) {
		if math.IsNaN(*f) {
			*f = -12345
		}
	}
	ms := append([]MetricResult{}, v.Metrics...)
	for i := range ms {
		fix(&ms[i].Estimate)
		fix(&ms[i].CILower)
		fix(&ms[i].CIUpper)
		fix(&ms[i].EffectSize)
		fix(&ms[i].Canary.Mean)
		fix(&ms[i].Baseline.Mean)
	}
	v.Metrics = ms
	return v
}

func TestJudgeLeavesTheDataAlone(t *testing.T) {
	metrics, data := fleet()
	before := append([]float64{}, data[2].Canary...)
	if _, err := Judge(Options{}, metrics, data); err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if before[i] != data[2].Canary[i] && !(math.IsNaN(before[i]) && math.IsNaN(data[2].Canary[i])) {
			t.Fatalf("Judge changed the caller's samples: %v -> %v", before, data[2].Canary)
		}
	}
}
