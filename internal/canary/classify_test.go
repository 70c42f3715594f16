package canary

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// judgeOne judges one metric with the default options.
func judgeOne(t *testing.T, m Metric, canary, baseline []float64) MetricResult {
	t.Helper()
	if m.Name == "" {
		m.Name = "m"
	}
	v, err := Judge(Options{}, []Metric{m}, []Samples{{Canary: canary, Baseline: baseline}})
	if err != nil {
		t.Fatal(err)
	}
	return v.Metrics[0]
}

// around returns n points cycling through center+offsets: a steady series
// with some spread and no randomness.
func around(center float64, n int) []float64 {
	offsets := []float64{-2, 1, 0, 2, -1, 0.5, -0.5, 1.5, -1.5, 0.25}
	out := make([]float64, n)
	for i := range out {
		out[i] = center + offsets[i%len(offsets)]
	}
	return out
}

func wantClass(t *testing.T, r MetricResult, c Classification, reason string) {
	t.Helper()
	if r.Classification != c {
		t.Errorf("classification %s, want %s (reason %q)", r.Classification, c, r.Reason)
	}
	if !strings.Contains(r.Reason, reason) {
		t.Errorf("reason %q does not say %q", r.Reason, reason)
	}
}

func TestLatencyFiftyPercentHigherIsHigh(t *testing.T) {
	r := judgeOne(t, Metric{Name: "latency"}, around(150, 30), around(100, 30))
	wantClass(t, r, High, "canary higher than baseline: shift +50 (98% CI ")
	// around's offsets add up to 0.25 per cycle of 10: means 150.025, 100.025.
	if !near(r.EffectSize, 150.025/100.025, 1e-12) || !strings.Contains(r.Reason, "mean ratio 1.5 >= allowed 1") {
		t.Errorf("effect %v, reason %q; want mean ratio 1.5", r.EffectSize, r.Reason)
	}
	if !(r.CILower > 12.5 && r.CILower <= r.Estimate && r.Estimate <= r.CIUpper) || !near(r.Estimate, 50, 1e-3) {
		t.Errorf("estimate %v in %v..%v", r.Estimate, r.CILower, r.CIUpper)
	}
	if r.Canary.Count != 30 || r.Baseline.Count != 30 || !near(r.Canary.Mean, 150.025, 1e-9) {
		t.Errorf("summaries %+v %+v", r.Canary, r.Baseline)
	}
	if r.Critical {
		t.Error("a metric that is not critical is marked critical")
	}
}

func TestFewerErrorsIsLowOrPassByDirection(t *testing.T) {
	canary, baseline := around(5, 30), around(20, 30)
	wantClass(t, judgeOne(t, Metric{}, canary, baseline), Low, "canary lower than baseline: shift -15")
	wantClass(t, judgeOne(t, Metric{Direction: Decrease}, canary, baseline), Low, "<= allowed 1")
	wantClass(t, judgeOne(t, Metric{Direction: Increase}, canary, baseline), Pass, "which direction increase does not judge")
	wantClass(t, judgeOne(t, Metric{Direction: Decrease}, baseline, canary), Pass, "which direction decrease does not judge")
}

func TestEqualDataPasses(t *testing.T) {
	base := around(100, 30)
	shuffled := append(append([]float64{}, base[15:]...), base[:15]...)
	r := judgeOne(t, Metric{}, shuffled, base)
	wantClass(t, r, Pass, "canary and baseline have the same points")
	if r.Estimate != 0 || r.CILower != 0 || r.CIUpper != 0 || r.EffectSize != 1 {
		t.Errorf("identical samples: shift %v (%v..%v), effect %v; want 0 and 1", r.Estimate, r.CILower, r.CIUpper, r.EffectSize)
	}
	// Overlapping samples with no real shift.
	wantClass(t, judgeOne(t, Metric{}, around(100.1, 30), base), Pass, "no significant shift: shift +")
}

func TestConstantSamples(t *testing.T) {
	r := judgeOne(t, Metric{}, []float64{3, 3, 3}, []float64{3, 3, 3, 3})
	wantClass(t, r, Pass, "every canary and baseline point is 3")
	// Two different constants: the exact shift, no noise, no error.
	r = judgeOne(t, Metric{}, []float64{5, 5, 5}, []float64{3, 3, 3, 3})
	wantClass(t, r, High, "shift +2 (98% CI 2..2)")
	r = judgeOne(t, Metric{}, []float64{3, 3}, []float64{5, 5})
	wantClass(t, r, Low, "shift -2 (98% CI -2..-2)")
	// All zeros: the mean ratio is undefined but the samples are identical.
	wantClass(t, judgeOne(t, Metric{}, make([]float64, 5), make([]float64, 7)), Pass, "every canary and baseline point is 0")
}

func TestTinySamples(t *testing.T) {
	wantClass(t, judgeOne(t, Metric{}, []float64{5}, []float64{3}), High, "shift +2")
	wantClass(t, judgeOne(t, Metric{}, []float64{3}, []float64{3}), Pass, "same points")
	// One point against two: R's interval is [3, 4] around 3.5 (see
	// rReference); 3 > 0.25·3.5, so High.
	wantClass(t, judgeOne(t, Metric{}, []float64{5}, []float64{1, 2}), High, "shift +3.5 (98% CI 3..4)")
}

func TestEffectSizeGates(t *testing.T) {
	canary, baseline := around(150, 30), around(100, 30)
	m := Metric{EffectSize: EffectSize{AllowedIncrease: ptr(2)}}
	wantClass(t, judgeOne(t, m, canary, baseline), Pass, "within the allowed effect: shift +50 (98% CI ")
	wantClass(t, judgeOne(t, m, canary, baseline), Pass, "mean ratio 1.5 not >= allowed 2")
	m = Metric{EffectSize: EffectSize{Measure: CLES}}
	r := judgeOne(t, m, canary, baseline)
	wantClass(t, r, High, "CLES 1 >= allowed 0.5")
	m = Metric{EffectSize: EffectSize{Measure: CLES, AllowedDecrease: ptr(0.2)}}
	r = judgeOne(t, m, baseline, canary)
	wantClass(t, r, Low, "CLES 0 <= allowed 0.2")
}

func TestCLESCountsTiesHalf(t *testing.T) {
	// canary 1, 2 against baseline 1, 3: pairs (1,1) tie = 0.5, (1,3) 0,
	// (2,1) 1, (2,3) 0: U = 1.5 of 4 pairs.
	if got := effectSize(CLES, newRankTest([]float64{1, 2}, []float64{1, 3}), 1.5, 2); got != 0.375 {
		t.Errorf("CLES = %v, want 0.375", got)
	}
	if got := meanRatio(1.5, 0); !math.IsNaN(got) {
		t.Errorf("mean ratio over a zero baseline = %v, want NaN", got)
	}
}

func TestZeroBaselineHoleClosedByMaxCanaryValue(t *testing.T) {
	// Kayenta #377/#799: an all-zero baseline against a canary with a few
	// errors passes the test (the median difference is 0, so the interval
	// does not clear 0).
	canary := make([]float64, 60)
	canary[10], canary[33], canary[50] = 1, 2, 1
	baseline := make([]float64, 60)
	wantClass(t, judgeOne(t, Metric{}, canary, baseline), Pass, "no significant shift")
	r := judgeOne(t, Metric{MaxCanaryValue: ptr(0.5)}, canary, baseline)
	wantClass(t, r, High, "canary above max_canary_value 0.5: peak 2, 3 of 60 points above")
	if !math.IsNaN(r.Estimate) || r.Canary.Count != 60 {
		t.Errorf("estimate %v, canary %+v", r.Estimate, r.Canary)
	}
	// The bound needs no baseline, and sees points the outlier fences drop.
	wantClass(t, judgeOne(t, Metric{MaxCanaryValue: ptr(0.5)}, canary, nil), High, "max_canary_value")
	spiky := make([]float64, 200)
	spiky[7] = 100
	wantClass(t, judgeOne(t, Metric{MaxCanaryValue: ptr(50), Outliers: RemoveOutliers}, spiky, make([]float64, 200)), High, "peak 100")
	// A point equal to the bound is not above it.
	wantClass(t, judgeOne(t, Metric{MaxCanaryValue: ptr(2)}, canary, baseline), Pass, "no significant shift")
}

func TestNaNStrategies(t *testing.T) {
	n := math.NaN()
	allMissing := []float64{n, n, n, n, n}
	base := []float64{0.5, 0.4, 0.6, 0.5, 0.45}
	wantClass(t, judgeOne(t, Metric{}, allMissing, base), Nodata, "no data for the canary")
	wantClass(t, judgeOne(t, Metric{}, base, allMissing), Nodata, "no data for the baseline")
	wantClass(t, judgeOne(t, Metric{}, nil, nil), Nodata, "no data for the canary and baseline")
	wantClass(t, judgeOne(t, Metric{MustHaveData: true}, allMissing, base), NodataFail, "must have data")
	// replace: the missing grid points are zeros, so an idle canary's
	// error rate is really 0 and compares as lower.
	r := judgeOne(t, Metric{NaNStrategy: ReplaceNaN}, allMissing, base)
	wantClass(t, r, Low, "canary lower than baseline")
	if r.Canary.Count != 5 || r.Canary.Mean != 0 {
		t.Errorf("replaced canary summary %+v, want 5 zeros", r.Canary)
	}
	// remove keeps the points there are.
	r = judgeOne(t, Metric{}, []float64{1, n, 2, n, 3}, []float64{1, 2, 3})
	if r.Canary.Count != 3 || r.Canary.Mean != 2 {
		t.Errorf("canary summary %+v, want 3 points of mean 2", r.Canary)
	}
	// replace with an empty grid is still no data (Kayenta would pass).
	wantClass(t, judgeOne(t, Metric{NaNStrategy: ReplaceNaN}, nil, base), Nodata, "no data")
}

func TestOutliersRemoved(t *testing.T) {
	canary := around(100, 200)
	canary[42] = 1e6 // one scrape gone wrong
	keep := judgeOne(t, Metric{}, canary, around(100, 200))
	drop := judgeOne(t, Metric{Outliers: RemoveOutliers}, canary, around(100, 200))
	if keep.Canary.Count != 200 || drop.Canary.Count != 199 || drop.Baseline.Count != 200 {
		t.Errorf("counts keep %d, remove %d/%d", keep.Canary.Count, drop.Canary.Count, drop.Baseline.Count)
	}
	if want := mean(slices.Delete(slices.Clone(canary), 42, 43)); drop.Canary.Mean != want {
		t.Errorf("mean after removal %v", drop.Canary.Mean)
	}
}

func TestInfiniteAndFetchErrors(t *testing.T) {
	wantClass(t, judgeOne(t, Metric{}, []float64{1, math.Inf(1)}, []float64{1, 2}), Error, "canary point 2 of 2 is +Inf")
	wantClass(t, judgeOne(t, Metric{}, []float64{1, 2}, []float64{math.Inf(-1)}), Error, "baseline point 1 of 1 is -Inf")
	v, err := Judge(Options{}, []Metric{{Name: "m", Critical: true}}, []Samples{{Err: errors.New("query returned 2 series")}})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Metrics[0]
	wantClass(t, r, Error, "could not get the data: query returned 2 series")
	if !r.Critical || v.Score != 0 || v.Classification != Fail {
		t.Errorf("critical metric in error: critical %v, score %v %s", r.Critical, v.Score, v.Classification)
	}
}

func TestCriticalMetrics(t *testing.T) {
	canary, baseline := around(150, 30), around(100, 30)
	r := judgeOne(t, Metric{Critical: true}, canary, baseline)
	if r.Classification != High || !r.Critical || !strings.HasSuffix(r.Reason, "; critical metric") {
		t.Errorf("critical high: %s critical %v %q", r.Classification, r.Critical, r.Reason)
	}
	// Beyond the allowed effect but short of the critical one: High, not
	// critical.
	r = judgeOne(t, Metric{Critical: true, EffectSize: EffectSize{CriticalIncrease: ptr(2)}}, canary, baseline)
	if r.Classification != High || r.Critical {
		t.Errorf("high below critical_increase: %s critical %v", r.Classification, r.Critical)
	}
	r = judgeOne(t, Metric{Critical: true, EffectSize: EffectSize{CriticalDecrease: ptr(0.5)}}, baseline, canary)
	if r.Classification != Low || r.Critical {
		t.Errorf("low above critical_decrease: %s critical %v", r.Classification, r.Critical)
	}
	r = judgeOne(t, Metric{Critical: true}, baseline, canary)
	if r.Classification != Low || !r.Critical {
		t.Errorf("critical low: %s critical %v", r.Classification, r.Critical)
	}
	// Passing critical metrics are not marked.
	if r := judgeOne(t, Metric{Critical: true}, baseline, baseline); r.Critical {
		t.Error("a passing critical metric is marked critical")
	}
	// A critical metric without data fails closed.
	r = judgeOne(t, Metric{Critical: true}, nil, baseline)
	if r.Classification != NodataFail || !r.Critical || r.Reason != "no data for the canary (critical metric)" {
		t.Errorf("critical without data: %s critical %v %q", r.Classification, r.Critical, r.Reason)
	}
	// A critical metric over its absolute bound fails the canary.
	r = judgeOne(t, Metric{Critical: true, MaxCanaryValue: ptr(120)}, canary, baseline)
	if r.Classification != High || !r.Critical || !strings.HasPrefix(r.Reason, "canary above max_canary_value 120") {
		t.Errorf("critical over max_canary_value: %s critical %v %q", r.Classification, r.Critical, r.Reason)
	}
	// The critical bounds mean nothing to a metric that is not critical.
	if r := judgeOne(t, Metric{}, canary, baseline); r.Critical {
		t.Error("a non-critical high metric is marked critical")
	}
}
