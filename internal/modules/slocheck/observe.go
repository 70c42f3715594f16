package slocheck

import (
	"errors"
	"math"

	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/slo"
)

// moduleName is the module's short name: the Pushgateway job, the syslog
// identifier (ansible-slo_check) and module= in log lines, and the default
// `name` label (docs/metrics.md).
const moduleName = "slo_check"

// observeEvaluations makes the gate record and log every evaluation, after
// calling the Progress it already has (the CLI's progress lines).
//
// Every evaluation is logged, one slo_evaluation line per check with
// evaluation=N, so a polling run leaves its whole history in the log. The
// metrics are gauges of the last evaluation: each evaluation overwrites the
// previous one and only the final state is published when the run ends
// (the gate's verdict, the same as the task's result).
func observeEvaluations(gate *slo.Gate, obs *observe.Run) {
	before := gate.Progress
	gate.Progress = func(n, streak int, e slo.Evaluation) {
		if before != nil {
			before(n, streak, e)
		}
		observeEvaluation(obs, n, e)
	}
}

// observeEvaluation records and logs each check of one evaluation. A check
// without a usable value (no data, NaN, ±Inf, a query error) is recorded
// with the value NaN, and its log line says why in error=.
func observeEvaluation(obs *observe.Run, n int, e slo.Evaluation) {
	for _, r := range e.Results {
		value := math.NaN()
		if r.Value != nil {
			value = *r.Value
		}
		obs.Metrics.RecordSLOCheck(r.Name, value, r.Threshold, r.Passed)
		var why error
		if r.Value == nil && !r.Passed {
			why = errors.New(r.Reason)
		}
		obs.Log.SLOEvaluation(logging.SLOEvaluation{
			Check: r.Name, Value: value, Comparison: string(r.Comparison), Threshold: r.Threshold, Passed: r.Passed,
			Evaluation: n, Samples: r.SeriesCount, Err: why,
		})
	}
}
