package slocheck

import (
	"math"

	"github.com/threader/guard/internal/slo"
)

// timeFormat is RFC 3339 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// resultFields is the module result (and the CLI's --json object) for a
// report, without changed/failed, which the runtime adds.
func resultFields(rep slo.Report) map[string]any {
	checks := make([]any, 0, len(rep.Last.Results))
	for _, r := range rep.Last.Results {
		checks = append(checks, checkFields(r))
	}
	measurements := make([]any, 0, len(rep.Measurements))
	for _, e := range rep.Measurements {
		measurements = append(measurements, measurementFields(e))
	}
	return map[string]any{
		"passed":       rep.Passed,
		"phase":        string(rep.Phase),
		"measurements": measurements,
		"checks":       checks,
		"evaluations":  rep.Evaluations,
		"evaluated_at": rep.Last.At.UTC().Format(timeFormat),
		"msg":          rep.Msg,
	}
}

func checkFields(r slo.Result) map[string]any {
	var value any // null when there is no finite value
	if r.Value != nil {
		value = *r.Value
	}
	var series any // null for a scalar or no data
	if r.Series != nil {
		labels := map[string]any{}
		for k, v := range r.Series {
			labels[k] = v
		}
		series = labels
	}
	var threshold any // null for a check with conditions only
	if r.Comparison != "" {
		threshold = r.Threshold
	}
	return map[string]any{
		"name":       r.Name,
		"source":     string(r.Source),
		"query":      r.Query,
		"value":      value,
		"values":     jsonValues(r.Values),
		"threshold":  threshold,
		"comparison": string(r.Comparison),
		"phase":      string(r.Phase),
		"dry_run":    r.DryRun,
		"passed":     r.Passed,
		"reason":     r.Reason,
		"series":     series,
	}
}

// measurementFields is one retained evaluation: when, its phase, and each
// check's phase and values.
func measurementFields(e slo.Evaluation) map[string]any {
	checks := make([]any, 0, len(e.Results))
	for _, r := range e.Results {
		checks = append(checks, map[string]any{"name": r.Name, "phase": string(r.Phase), "values": jsonValues(r.Values)})
	}
	return map[string]any{"evaluated_at": e.At.UTC().Format(timeFormat), "phase": string(e.Phase), "checks": checks}
}

// jsonValues writes NaN and ±Inf, which JSON has no numbers for, as the
// strings "NaN", "+Inf" and "-Inf" (as the Prometheus API does).
func jsonValues(values []float64) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[i] = slo.FormatValue(v)
		}
	}
	return out
}
