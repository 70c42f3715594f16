package canaryjudge

import (
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
)

// moduleName is the module's short name: the Pushgateway job, the syslog
// identifier (ansible-canary_judge) and module= in log lines, and the
// default `name` label (docs/metrics.md).
const moduleName = "canary_judge"

// observeJudgement records the judgement as metrics (score, classification,
// each metric's classification) and logs one canary_metric line per metric
// and one canary_judgement line.
func observeJudgement(obs *observe.Run, p plan, j judgement) {
	v := j.verdict
	rec := metrics.CanaryJudgement{Score: v.Score, Classification: string(v.Classification)}
	for _, m := range v.Metrics {
		rec.Metrics = append(rec.Metrics, metrics.CanaryMetric{Name: m.Name, Classification: string(m.Classification)})
		obs.Log.CanaryMetric(logging.CanaryMetric{Metric: m.Name, Classification: string(m.Classification), Critical: m.Critical,
			CanaryCount: m.Canary.Count, BaselineCount: m.Baseline.Count, Estimate: m.Estimate, EffectSize: m.EffectSize,
			Reason: m.Reason})
	}
	obs.Metrics.RecordCanaryJudgement(rec)
	obs.Log.CanaryJudgement(logging.CanaryJudgement{Score: v.Score, Classification: string(v.Classification),
		Decisive: v.Decisive, Start: p.interval.start, End: p.interval.end, Step: p.interval.step})
}
