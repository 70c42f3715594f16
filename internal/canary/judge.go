package canary

import "errors"

// ErrNotImplemented is returned until the judge lands.
var ErrNotImplemented = errors.New("canary: judge not implemented yet")

// Judge checks opts and metrics (errors are *fielderr.Error naming the
// field: "confidence", "metrics[2].direction", "group_weights.latency"),
// then judges data[i] against metrics[i] and scores the result.
func Judge(opts Options, metrics []Metric, data []Samples) (Verdict, error) {
	_ = nan
	return Verdict{}, ErrNotImplemented
}
