package testenv

import (
	"time"
)

// The recorded series the SLO gate queries by default.
const (
	Metric5xxRatio    = "job:http_5xx_ratio_1m"
	MetricHealthRatio = "job:health_ok_ratio_1m"
)

// Exactly representable thresholds: with dyadic values, an average of a
// constant series is exact on every backend (VictoriaMetrics sums and
// divides; Prometheus 2.42 keeps a running mean), so "value == threshold"
// really is equal.
const (
	Exact5xxRatio    = 0.0078125  // 2^-7
	ExactHealthRatio = 0.99609375 // 255/256
)

// SLOScenarios is deterministic SLO data around Now, one job per scenario
// (the job label names it):
//
//	stable          5xx 0.001, health 0.999 — passes the default thresholds
//	unstable        5xx 0.023, health 0.97 — fails both
//	gap             good data that ends an hour before Now — no data in any recent window
//	nan             5xx NaN (what 0/0 records when there is no traffic), health 0.999
//	multi           three instances, 5xx 0.001 (a), 0.02 (b), 0.005 (c); health 0.999
//	exact           5xx Exact5xxRatio, health ExactHealthRatio
//	exact_default   5xx 0.01, health 0.995 (the default thresholds; exact on Prometheus only)
//	recovering      health 0.5 until RecoversAt (Now-30m), then 0.999; 15s samples
//	recovers_soon   health 0.5 until SoonStableAt (now+soon), then 0.999; 1s samples
//
// Unless noted, samples are every 15s from Now-3h to Now+1h, so a test that
// evaluates at the real "now" sees the same values for an hour.
type SLOScenarios struct {
	Now          time.Time
	RecoversAt   time.Time
	SoonStableAt time.Time
	Series       []MetricSeries
}

// NewSLOScenarios builds the data. Now is truncated to 15s so that samples
// sit on a fixed grid; recovers_soon turns healthy soon after now as given
// (whole seconds).
func NewSLOScenarios(now time.Time, soon time.Duration) SLOScenarios {
	soonAt := now.Add(soon).Truncate(time.Second)
	now = now.Truncate(15 * time.Second)
	s := SLOScenarios{Now: now, RecoversAt: now.Add(-30 * time.Minute), SoonStableAt: soonAt}
	from, to, step := now.Add(-3*time.Hour), now.Add(time.Hour), 15*time.Second
	add := func(job, instance string, ratio5xx, health []Point) {
		labels := func() map[string]string {
			l := map[string]string{"job": job}
			if instance != "" {
				l["instance"] = instance
			}
			return l
		}
		s.Series = append(s.Series,
			MetricSeries{Name: Metric5xxRatio, Labels: labels(), Points: ratio5xx},
			MetricSeries{Name: MetricHealthRatio, Labels: labels(), Points: health})
	}
	constant := func(v float64) []Point { return Constant(from, to, step, v) }
	add("stable", "", constant(0.001), constant(0.999))
	add("unstable", "", constant(0.023), constant(0.97))
	add("gap", "", Constant(from, now.Add(-time.Hour), step, 0.001), Constant(from, now.Add(-time.Hour), step, 0.999))
	add("nan", "", constant(nan()), constant(0.999))
	add("multi", "a", constant(0.001), constant(0.999))
	add("multi", "b", constant(0.02), constant(0.999))
	add("multi", "c", constant(0.005), constant(0.999))
	add("exact", "", constant(Exact5xxRatio), constant(ExactHealthRatio))
	add("exact_default", "", constant(0.01), constant(0.995))
	add("recovering", "", constant(0.001), Stepped(from, to, step, recovery(s.RecoversAt)))
	soonFrom, soonTo := now.Add(-2*time.Minute), s.SoonStableAt.Add(10*time.Minute)
	add("recovers_soon", "", Constant(soonFrom, soonTo, time.Second, 0.001), Stepped(soonFrom, soonTo, time.Second, recovery(s.SoonStableAt)))
	return s
}

// recovery is 0.5 before at and 0.999 from at on.
func recovery(at time.Time) func(time.Time) float64 {
	return func(t time.Time) float64 {
		if t.Before(at) {
			return 0.5
		}
		return 0.999
	}
}

// SeedSLOLogs gives the scenario jobs log streams in the fake Loki for
// tenant, over the data's time span: an info line every 20s for every job
// except "gap" (which logs nothing), and for "unstable" also an ERROR line
// every 30s, that is 2 errors per minute.
func SeedSLOLogs(f *FakeLoki, tenant string, data SLOScenarios) {
	from, to := data.Now.Add(-3*time.Hour), data.Now.Add(time.Hour)
	for _, job := range []string{"stable", "unstable", "nan", "multi", "exact", "exact_default", "recovering", "recovers_soon"} {
		labels := map[string]string{"job": job, "level": "info"}
		for t := from; t.Before(to); t = t.Add(20 * time.Second) {
			f.Push(tenant, labels, t, "GET /api/threads 200 12ms")
		}
	}
	errLabels := map[string]string{"job": "unstable", "level": "error"}
	for t := from.Add(5 * time.Second); t.Before(to); t = t.Add(30 * time.Second) {
		f.Push(tenant, errLabels, t, "ERROR worker: database is locked")
	}
}
