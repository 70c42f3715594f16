package canary

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// benchFleet is make bench's judgement: 10 metrics of 1,000 points on each
// side, with the shapes real series have (shifts, integer ties, gaps,
// spikes), from a fixed seed so every run judges the same data.
func benchFleet() ([]Metric, []Samples) {
	rng := rand.New(rand.NewPCG(13, 1))
	series := func(center, spread float64, integer bool) []float64 {
		s := make([]float64, 1000)
		for i := range s {
			s[i] = center + spread*rng.NormFloat64()
			if integer {
				s[i] = math.Round(math.Abs(s[i]))
			}
			if rng.IntN(50) == 0 {
				s[i] = math.NaN() // a missing step
			}
		}
		s[rng.IntN(len(s))] = center + 100*spread // a spike
		return s
	}
	var metrics []Metric
	var data []Samples
	for i := range 10 {
		m := Metric{Name: "metric_" + string(rune('a'+i)), Group: []string{"latency", "errors", "saturation"}[i%3]}
		if i%2 == 0 {
			m.Outliers = RemoveOutliers
		}
		if i%4 == 1 {
			m.EffectSize.Measure = CLES
		}
		shift := []float64{0, 0.05, 0.5}[i%3]
		integer := i%3 == 1
		data = append(data, Samples{Canary: series(100*(1+shift), 10, integer), Baseline: series(100, 10, integer)})
		metrics = append(metrics, m)
	}
	return metrics, data
}

// BenchmarkJudge times one judgement of benchFleet (bench/canary.sh
// reports it in RESULTS.md).
func BenchmarkJudge(b *testing.B) {
	metrics, data := benchFleet()
	for b.Loop() {
		if _, err := Judge(Options{}, metrics, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSortSameData sorts copies of the same 20,000 points: the floor
// any rank test pays, to read BenchmarkJudge's time against.
func BenchmarkSortSameData(b *testing.B) {
	_, data := benchFleet()
	for b.Loop() {
		for _, s := range data {
			slices.Sort(slices.Clone(s.Canary))
			slices.Sort(slices.Clone(s.Baseline))
		}
	}
}

func TestBenchFleetIsJudged(t *testing.T) {
	// The benchmark measures real work: every metric reaches the test.
	metrics, data := benchFleet()
	v, err := Judge(Options{}, metrics, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range v.Metrics {
		if math.IsNaN(r.Estimate) || r.Canary.Count < 900 {
			t.Errorf("%s: %s with %d points (%s)", r.Name, r.Classification, r.Canary.Count, r.Reason)
		}
	}
}
