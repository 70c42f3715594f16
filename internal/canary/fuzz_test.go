package canary

import (
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

// FuzzJudge throws arbitrary samples and metric settings at Judge: it must
// not panic, must classify within the constants, keep the score in
// [0, 100], name the decisive metrics of every non-pass verdict, and give
// the same verdict twice.
func FuzzJudge(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5}, []byte{1, 1, 2, 2}, uint16(0), 0.0, 0.98)
	f.Fuzz(func(t *testing.T, canary, baseline []byte, flags uint16, maxValue, confidence float64) {
		m := fuzzMetric(flags, maxValue)
		data := []Samples{{Canary: fuzzSamples(canary, flags&1 != 0), Baseline: fuzzSamples(baseline, flags&1 != 0)}}
		opts := Options{Confidence: confidence}
		v, err := Judge(opts, []Metric{m}, data)
		if err != nil {
			return // refused options are checked in judge_test.go
		}
		checkVerdict(t, v, m)
		again, _ := Judge(opts, []Metric{m}, data)
		if !reflect.DeepEqual(nanless(v), nanless(again)) {
			t.Fatalf("two judgements differ:\n%+v\n%+v", v, again)
		}
	})
}

// fuzzSamples reads 8-byte floats (any bit pattern: NaN, Inf, subnormal)
// when raw, else one small integer a byte with 255 as NaN, which makes ties
// and constant series common.
func fuzzSamples(b []byte, raw bool) []float64 {
	var out []float64
	if raw {
		for ; len(b) >= 8; b = b[8:] {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
		return out
	}
	for _, c := range b {
		v := float64(c % 16)
		if c == 255 {
			v = math.NaN()
		}
		out = append(out, v)
	}
	return out
}

func fuzzMetric(flags uint16, maxValue float64) Metric {
	pick := func(shift uint, values ...string) string { return values[int(flags>>shift)%len(values)] }
	m := Metric{
		Name:         "m",
		Direction:    Direction(pick(1, "", "increase", "decrease", "either")),
		NaNStrategy:  NaNStrategy(pick(3, "", "replace")),
		Outliers:     Outliers(pick(4, "", "remove")),
		Critical:     flags&(1<<5) != 0,
		MustHaveData: flags&(1<<6) != 0,
		EffectSize:   EffectSize{Measure: Measure(pick(7, "", "mean_ratio", "cles"))},
	}
	if flags&(1<<9) != 0 {
		m.MaxCanaryValue = &maxValue
	}
	return m
}

func checkVerdict(t *testing.T, v Verdict, m Metric) {
	t.Helper()
	if !slices.Contains([]Classification{Pass, Marginal, Fail}, v.Classification) {
		t.Fatalf("verdict classification %q", v.Classification)
	}
	if !(v.Score >= 0 && v.Score <= 100) {
		t.Fatalf("score %v", v.Score)
	}
	if v.Classification != Pass && len(v.Decisive) == 0 {
		t.Fatalf("a %s verdict names no metric: %+v", v.Classification, v)
	}
	r := v.Metrics[0]
	if !slices.Contains([]Classification{Pass, High, Low, Nodata, NodataFail, Error}, r.Classification) {
		t.Fatalf("metric classification %q", r.Classification)
	}
	if r.Critical && !m.Critical {
		t.Fatalf("metric marked critical but not configured so: %+v", r)
	}
	if r.Reason == "" {
		t.Fatalf("no reason: %+v", r)
	}
	if r.Classification == Pass || r.Classification == High || r.Classification == Low {
		if !math.IsNaN(r.Estimate) && !(r.CILower <= r.CIUpper) {
			t.Fatalf("interval %v..%v", r.CILower, r.CIUpper)
		}
	}
}
