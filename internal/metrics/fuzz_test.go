package metrics

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// FuzzTextfileMerge: whatever valid textfile another run left, merging this
// run's series into it yields a file the same parser reads back, holding
// this run's series and every other name's series of that family.
func FuzzTextfileMerge(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzTextfileMerge.
	gauge := dto.MetricType_GAUGE
	fresh := []*dto.MetricFamily{{
		Name: strPtr("threader_guard_locked"), Help: strPtr("Whether the guard is locked."), Type: &gauge,
		Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: strPtr(LabelName), Value: strPtr("fuzz")}}, Gauge: &dto.Gauge{Value: float64Ptr(1)}}},
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		existing, err := parseTextfile("fuzz.prom", data)
		if err != nil {
			return // a file that does not parse is refused, never overwritten
		}
		others := 0
		if old, ok := existing["threader_guard_locked"]; ok && old.GetType() == gauge {
			for _, m := range old.Metric {
				if labelOf(m, LabelName) != "fuzz" {
					others++
				}
			}
		}
		out, err := encodeFamilies(mergeFamilies(existing, fresh, "fuzz"))
		if err != nil {
			t.Skipf("the existing families do not encode: %v", err) // never written: the writer fails instead
		}
		again, err := parseTextfile("fuzz.prom", out)
		if err != nil {
			t.Fatalf("merged file does not parse: %v\n%s", err, out)
		}
		merged := again["threader_guard_locked"]
		if merged == nil || merged.GetType() != gauge || len(merged.Metric) != others+1 {
			t.Fatalf("merged family %v, want this run's series and %d others\n%s", merged, others, out)
		}
	})
}

func float64Ptr(v float64) *float64 { return &v }
