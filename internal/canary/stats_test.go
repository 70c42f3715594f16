package canary

import (
	"math"
	"slices"
	"testing"
)

func TestPercentileIsKayentasEstimate(t *testing.T) {
	// Apache Commons Math's default percentile (Kayenta's IQRDetector) is
	// the p(n+1) definition, R's quantile(type = 6): for 1:10 R gives
	// 1, 2.75, 8.25, 10 at 1%, 25%, 75%, 99%; for c(1:199, 10000) it gives
	// 2.01, 50.25, 150.75, 198.99.
	cases := []struct {
		values []float64
		want   map[float64]float64
	}{
		{seq(1, 10), map[float64]float64{1: 1, 25: 2.75, 75: 8.25, 99: 10}},
		{append(seq(1, 199), 10000), map[float64]float64{1: 2.01, 25: 50.25, 75: 150.75, 99: 198.99}},
		{[]float64{7}, map[float64]float64{1: 7, 50: 7, 99: 7}},
	}
	for _, c := range cases {
		for p, want := range c.want {
			if got := percentile(c.values, p); !near(got, want, 1e-12) {
				t.Errorf("percentile(n=%d, %v) = %v, want %v", len(c.values), p, got, want)
			}
		}
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing is not NaN")
	}
}

func TestFences(t *testing.T) {
	// 1..10: Q1 2.75, Q3 8.25, IQR 5.5; 3 IQR beyond the quartiles is
	// -13.75 and 24.75, wider than p1 = 1 and p99 = 10.
	lo, hi := fences(seq(1, 10))
	if lo != -13.75 || hi != 24.75 {
		t.Errorf("fences(1..10) = %v, %v; want -13.75, 24.75", lo, hi)
	}
	// With the quartiles equal (IQR 0) the fences are p1 and p99.
	values := append(make([]float64, 198), -5, 40) // 198 zeros
	slices.Sort(values)
	lo, hi = fences(values)
	if lo != percentile(values, 1) || hi != percentile(values, 99) {
		t.Errorf("fences with IQR 0 = %v, %v; want p1, p99", lo, hi)
	}
}

func TestWithoutOutliers(t *testing.T) {
	// 1..199 and a spike of 10000: the upper fence is max(198.99, 150.75 +
	// 3·100.5 = 452.25) = 452.25, so only the spike goes.
	values := append(seq(1, 199), 10000)
	got := withoutOutliers(values)
	if !slices.Equal(got, seq(1, 199)) {
		t.Errorf("withoutOutliers kept %d points (last %v), want 1..199", len(got), got[len(got)-1])
	}
	// Below 100 points p1 and p99 are the smallest and largest point, so
	// the fences never cut anything: a short series keeps its spike.
	short := append(seq(1, 20), 500)
	if got := withoutOutliers(short); len(got) != len(short) {
		t.Errorf("withoutOutliers on 21 points removed %d", len(short)-len(got))
	}
	if got := withoutOutliers(nil); len(got) != 0 {
		t.Errorf("withoutOutliers(nil) = %v", got)
	}
}

func TestHandleNaN(t *testing.T) {
	in := []float64{1, math.NaN(), 3, math.NaN()}
	if got := handleNaN(in, RemoveNaN); !slices.Equal(got, []float64{1, 3}) {
		t.Errorf("remove: %v", got)
	}
	if got := handleNaN(in, ""); !slices.Equal(got, []float64{1, 3}) {
		t.Errorf("default (remove): %v", got)
	}
	if got := handleNaN(in, ReplaceNaN); !slices.Equal(got, []float64{1, 0, 3, 0}) {
		t.Errorf("replace: %v", got)
	}
	if !math.IsNaN(in[1]) {
		t.Error("handleNaN changed its input")
	}
}

func TestMean(t *testing.T) {
	if got := mean([]float64{1, 2, 3, 4}); got != 2.5 {
		t.Errorf("mean = %v", got)
	}
	if got := mean([]float64{math.MaxFloat64, math.MaxFloat64}); got != math.MaxFloat64 {
		t.Errorf("mean of two MaxFloat64 = %v, want MaxFloat64 (no overflow)", got)
	}
	if !math.IsNaN(mean(nil)) {
		t.Error("mean of nothing is not NaN")
	}
}

func TestShortFormatsForReasons(t *testing.T) {
	for v, want := range map[float64]string{12.345: "12.35", 8.1: "8.1", 1: "1", 0: "0", 0.5: "0.5", -3.25: "-3.25",
		1234.6: "1235", 150000: "150000", 0.00001234: "1.234e-05", -0.00001: "-1e-05", 2.0000001: "2"} {
		if got := short(v); got != want {
			t.Errorf("short(%v) = %q, want %q", v, got, want)
		}
	}
	if got := signed(12.3); got != "+12.3" {
		t.Errorf("signed(12.3) = %q", got)
	}
	if got := percent(0.98); got != "98%" {
		t.Errorf("percent(0.98) = %q", got)
	}
}
