package testenv

import (
	"fmt"
	"time"
)

// The canary test series; each has the labels scenario and group (canary or
// baseline).
const (
	CanaryLatency    = "canary_test_latency_seconds"
	CanaryErrors     = "canary_test_errors_per_second"
	CanaryThroughput = "canary_test_requests_per_second"
)

// CanaryScenarios is deterministic canary and baseline data around Now (a
// whole minute), one value per minute (repeated every 15s, so a query at any
// time of the minute sees it), from Now-3h to Now+1h:
//
//	equal         latency: canary and baseline both 0.200-0.210 s, in another order
//	slow          latency: canary 1.5 times the baseline (+50%)
//	fewer_errors  errors: canary 1.0-1.4/s, baseline 2.0-2.4/s
//	missing       latency: baseline only; the canary has no series
//	gap           throughput: both about 100/s, but the canary has no point
//	              for the GapMinutes minutes before Now
//	multi         latency: two canary series (instance a and b) and one baseline
//
// Query them with last_over_time(NAME{scenario="...", group="..."}[1m]) (see
// Query), which is absent where the series has no point in the last minute.
type CanaryScenarios struct {
	Now    time.Time
	Series []MetricSeries
}

// GapMinutes is the length of the gap scenario's canary gap, ending at Now.
const GapMinutes = 25

// NewCanaryScenarios builds the data; now is truncated to the minute.
func NewCanaryScenarios(now time.Time) CanaryScenarios {
	now = now.UTC().Truncate(time.Minute)
	s := CanaryScenarios{Now: now}
	from, to := now.Add(-3*time.Hour), now.Add(time.Hour)
	perMinute := func(f func(k int) float64, skip func(t time.Time) bool) []Point {
		var out []Point
		for t := from; !t.After(to); t = t.Add(15 * time.Second) {
			if skip != nil && skip(t) {
				continue
			}
			k := int(t.Sub(from) / time.Minute)
			out = append(out, Point{T: t, V: f(k)})
		}
		return out
	}
	add := func(name, scenario, group string, points []Point, extra ...string) {
		labels := map[string]string{"scenario": scenario, "group": group}
		for i := 0; i+1 < len(extra); i += 2 {
			labels[extra[i]] = extra[i+1]
		}
		s.Series = append(s.Series, MetricSeries{Name: name, Labels: labels, Points: points})
	}
	// Eleven values that cycle: every 31-minute window holds nearly the same
	// multiset whatever its phase.
	latency := func(phase int) func(int) float64 {
		return func(k int) float64 { return 0.2 + 0.001*float64((k*7+phase)%11) }
	}
	slow := func(k int) float64 { return 1.5 * latency(3)(k) }
	add(CanaryLatency, "equal", "canary", perMinute(latency(5), nil))
	add(CanaryLatency, "equal", "baseline", perMinute(latency(0), nil))
	add(CanaryLatency, "slow", "canary", perMinute(slow, nil))
	add(CanaryLatency, "slow", "baseline", perMinute(latency(0), nil))
	add(CanaryErrors, "fewer_errors", "canary", perMinute(func(k int) float64 { return 1 + 0.1*float64((k*3)%5) }, nil))
	add(CanaryErrors, "fewer_errors", "baseline", perMinute(func(k int) float64 { return 2 + 0.1*float64((k*3+1)%5) }, nil))
	add(CanaryLatency, "missing", "baseline", perMinute(latency(0), nil))
	rps := func(phase int) func(int) float64 {
		return func(k int) float64 { return 100 + float64((k*7+phase)%11) }
	}
	gapFrom := now.Add(-GapMinutes * time.Minute)
	add(CanaryThroughput, "gap", "canary", perMinute(rps(4), func(t time.Time) bool { return t.After(gapFrom) && !t.After(now) }))
	add(CanaryThroughput, "gap", "baseline", perMinute(rps(0), nil))
	add(CanaryLatency, "multi", "canary", perMinute(latency(1), nil), "instance", "a")
	add(CanaryLatency, "multi", "canary", perMinute(latency(2), nil), "instance", "b")
	add(CanaryLatency, "multi", "baseline", perMinute(latency(0), nil))
	return s
}

// CanaryQuery is the query of one side of a scenario: the last point of the
// minute before each step.
func CanaryQuery(metric, scenario, group string) string {
	return fmt.Sprintf(`last_over_time(%s{scenario=%q, group=%q}[1m])`, metric, scenario, group)
}
