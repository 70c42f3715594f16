package slocheck

import (
	"errors"
	"math"
	"strings"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/slo"
)

// moduleName is the module's short name: the Pushgateway job, the syslog
// identifier (ansible-slo_check) and module= in log lines, and the default
// `name` label (docs/metrics.md).
const moduleName = "slo_check"

// startObserving validates the name option and starts the run's metrics and
// log (metrics_textfile, pushgateway_url, no_log, check mode, masking).
// observe uses the short module name even when the task used the FQCN.
func startObserving(m *ansiblemod.Module) (*observe.Run, error) {
	name, err := checkName("value of name", m.Str("name"))
	if err != nil {
		return nil, err
	}
	return observe.FromModule(m, name)
}

// checkName rejects a name that cannot be a metric label (blank, too long,
// control characters); "" means the module name. option is how the error
// names it ("value of name", "--name").
func checkName(option, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if err := validLabel(option, name); err != nil {
		return "", err
	}
	return name, nil
}

// validLabel says why name cannot be the `name` or `check` label, naming
// option ("checks[2].name"), or returns nil.
func validLabel(option, name string) error {
	if err := metrics.ValidateName(option, name); err != nil {
		// Drop "metrics: ": to the user, the error is about their option.
		return errors.New(strings.TrimPrefix(err.Error(), "metrics: "))
	}
	return nil
}

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
