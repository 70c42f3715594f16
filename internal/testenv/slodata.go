package testenv

import (
	"fmt"
	"testing"
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

// AnswerSLOLogQueries registers in f, for tenant, what a real Loki would
// answer to slo_check's default error-log check (the default regex
// ERROR|Exception|Traceback) for every scenario job, over a window of each
// of windowMinutes, if the jobs logged this way: an info line every 20s (3 a
// minute) for every job but "gap", which logs nothing; for "unstable" also an
// ERROR line every 30s (2 a minute). Those rates hold over the whole data
// span, so the answers do not depend on the evaluation time. The queries are
// slo_check's, byte for byte (the fake answers "no answer registered" to any
// other), and Loki does their arithmetic:
//
//	sum(count_over_time({job="J"} |~ "ERROR|Exception|Traceback" [Mm])) / M
//	    errors per minute: 2M errors / M = 2 for unstable; no series for the
//	    others, as a count over no lines is no series, not 0
//	sum(count_over_time({job="J"} [Mm]))
//	    all lines: 5M for unstable, 3M for the others; no series for gap
func AnswerSLOLogQueries(f *FakeLoki, tenant string, windowMinutes ...int) {
	for _, m := range windowMinutes {
		for _, job := range []string{"stable", "unstable", "gap", "nan", "multi", "exact", "exact_default", "recovering", "recovers_soon"} {
			errorLines, allLines := 0, 3*m
			switch job {
			case "unstable":
				errorLines, allLines = 2*m, 5*m
			case "gap":
				allLines = 0
			}
			errorsQuery := fmt.Sprintf(`sum(count_over_time({job=%q} |~ "ERROR|Exception|Traceback" [%dm])) / %d`, job, m, m)
			f.Answer(tenant, errorsQuery, lokiCount(float64(errorLines)/float64(m), errorLines))
			f.Answer(tenant, fmt.Sprintf(`sum(count_over_time({job=%q} [%dm]))`, job, m), lokiCount(float64(allLines), allLines))
		}
	}
}

// lokiCount is Loki's answer to a sum of counts: one unlabelled series, or
// none when no line was counted.
func lokiCount(value float64, lines int) LokiResult {
	if lines == 0 {
		return LokiVector()
	}
	return LokiVector(LokiSeries{Value: value})
}

// PushSLOLogs ships to vl the log lines AnswerSLOLogQueries describes, for
// real: from an hour before now to an hour after, an info line every 20s
// for every scenario job but "gap" (which logs nothing), and for "unstable"
// also an ERROR line every 30s (about 2 a minute).
func PushSLOLogs(t testing.TB, vl *VictoriaLogs, now time.Time) {
	t.Helper()
	from, to := now.Add(-time.Hour).Truncate(time.Minute), now.Add(time.Hour)
	for _, job := range []string{"stable", "unstable", "nan", "multi", "exact", "exact_default", "recovering", "recovers_soon"} {
		var lines []LogLine
		for at := from; at.Before(to); at = at.Add(10 * time.Second) {
			offset := int(at.Sub(from) / time.Second)
			if offset%20 == 0 {
				lines = append(lines, LogLine{Time: at, Line: "GET /api/threads 200 12ms"})
			}
			if job == "unstable" && offset%30 == 0 {
				lines = append(lines, LogLine{Time: at, Line: "ERROR handler panicked: index out of range"})
			}
		}
		vl.Push(t, map[string]string{"job": job}, lines)
	}
}

// SoonLeads are the leads, shortest first, that SoonStable gives the
// "recovers_soon" job before it turns healthy.
var SoonLeads = []time.Duration{15 * time.Second, 45 * time.Second, 135 * time.Second}

// SoonStable runs attempt with each lead of SoonLeads in turn, until one run
// is conclusive. A test of polling makes its data with
// NewSLOScenarios(time.Now(), lead) in attempt and needs what it runs (a
// playbook, the CLI, the watcher) to start polling while "recovers_soon" is
// still unhealthy; on a loaded machine, starting Prometheus and that program
// can take longer than a short lead. attempt returns false when its run
// started only after the data had turned healthy (the first evaluation
// already passed): the run could show nothing about the polling, which is
// the machine's speed, not a defect. It asserts everything else as usual.
// The last lead's run must be conclusive: otherwise the test fails.
func SoonStable(t testing.TB, attempt func(lead time.Duration) (conclusive bool)) {
	t.Helper()
	for i, lead := range SoonLeads {
		if attempt(lead) {
			return
		}
		if t.Failed() {
			return
		}
		if i < len(SoonLeads)-1 {
			t.Logf("recovers_soon turned healthy %s after its data was made, before the run began to poll (a slow start, not a defect): trying again with %s", lead, SoonLeads[i+1])
		}
	}
	t.Fatalf("recovers_soon turned healthy before the run began to poll, even %s after its data was made", SoonLeads[len(SoonLeads)-1])
}
