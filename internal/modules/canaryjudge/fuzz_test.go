package canaryjudge

import (
	"math"
	"testing"
	"time"

	"github.com/threader/guard/internal/promapi"
)

// Fuzz targets for the config file and the interval options. `go test`
// replays the seeds and testdata/fuzz.

// FuzzDecodeJudgeFile: any text is refused with an error or decodes to
// metrics whose keys were all known; it never panics.
func FuzzDecodeJudgeFile(f *testing.F) {
	for _, seed := range []string{
		"metrics: [{name: a, canary_query: up, baseline_query: up}]",
		"metrics:\n  - name: a\n    effect_size: {measure: cles, allowed_increase: 0.6}\npass_score: 90\ngroup_weights: {x: 50}\n",
		"metrics: 5", "metrics: [5]", "- a", "", "{", "metrics: [{effect_size: 3}]", "metrics: [{name: [1]}]",
		"pass_score: lots", "fail_on_marginal: maybe", "group_weights: [1, 2]", "&a [*a]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		jf, err := decodeJudgeFile([]byte(text))
		if err != nil {
			return
		}
		for _, m := range jf.Metrics {
			_ = m.metric()
		}
	})
}

// FuzzResolveInterval: accepted options give an interval with end after
// start and at most maxPoints steps; the grid of any answer has that many
// points.
func FuzzResolveInterval(f *testing.F) {
	for _, seed := range [][4]string{{"30m", "", "", "1m"}, {"", "2026-11-29T16:00:00Z", "2026-11-29T17:00:00Z", "15s"},
		{"1y", "", "", "1s"}, {"", "2026-11-29T17:00:00Z", "2026-11-29T16:00:00Z", "1m"}, {"30m", "x", "", "1m"},
		{"", "2026-11-29T16:00:00.5+01:00", "2026-11-29T16:00:01Z", "1ms"}, {"11000m", "", "", "1m"}} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	now := time.Date(2026, 11, 29, 17, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, lookback, start, end, step string) {
		c := defaultConfig()
		c.lookback, c.start, c.end, c.step = lookback, start, end, step
		iv, err := c.resolveInterval(now, optionName)
		if err != nil {
			return
		}
		if !iv.end.After(iv.start) || iv.step <= 0 || iv.points() > maxPoints+1 || iv.points() < 1 {
			t.Fatalf("%q %q %q %q: accepted %+v (%d points)", lookback, start, end, step, iv, iv.points())
		}
		values, err := iv.grid(&promapi.Result{Type: promapi.Matrix, Series: []promapi.Series{{Samples: []promapi.Sample{
			{Time: iv.start, Value: 1}, {Time: iv.end, Value: 2}}}}})
		if err != nil || len(values) != iv.points() || values[0] != 1 || math.IsInf(values[len(values)-1], 0) {
			t.Fatalf("grid: %v, %v", len(values), err)
		}
	})
}
