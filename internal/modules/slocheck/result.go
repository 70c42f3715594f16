package slocheck

import (
	"time"

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
	return map[string]any{
		"passed":       rep.Passed,
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
	return map[string]any{
		"name":       r.Name,
		"source":     string(r.Source),
		"query":      r.Query,
		"value":      value,
		"threshold":  r.Threshold,
		"comparison": string(r.Comparison),
		"passed":     r.Passed,
		"reason":     r.Reason,
		"series":     series,
	}
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
