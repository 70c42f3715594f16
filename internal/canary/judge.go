package canary

import (
	"errors"
	"fmt"
)

// ErrNotImplemented was returned before the judge landed; Judge no longer
// returns it. It stays for callers that still test for it.
var ErrNotImplemented = errors.New("canary: judge not implemented yet")

// Judge checks opts and metrics (errors are *fielderr.Error naming the
// field: "confidence", "metrics[2].direction", "group_weights.latency"),
// then judges data[i] against metrics[i] and scores the result. A
// len(data) different from len(metrics) is a plain error. Judge is
// deterministic: the same arguments always give the same Verdict.
//
// The score is Kayenta's: each group scores 100·Pass/(Pass + High + Low +
// NodataFail + Error), Nodata left out, and a group of only Nodata metrics
// scores 100; the verdict's score is the sum of group score × weight/100,
// where groups without a weight share equally what the weights leave of
// 100, rounded to two decimals. It is forced to 0 (and the verdict to Fail)
// when a critical metric did not pass (MetricResult.Critical), or when half
// or more of the metrics are Nodata or Error. Pass from PassScore up,
// Marginal from MarginalScore up, else Fail.
func Judge(opts Options, metrics []Metric, data []Samples) (Verdict, error) {
	if err := Validate(opts, metrics); err != nil {
		return Verdict{}, err
	}
	if len(data) != len(metrics) {
		return Verdict{}, fmt.Errorf("canary: %d metrics but data for %d", len(metrics), len(data))
	}
	o := opts.withDefaults()
	results := make([]MetricResult, len(metrics))
	for i, m := range metrics {
		results[i] = classifyMetric(m, data[i], o.Confidence)
	}
	return verdict(results, o), nil
}
