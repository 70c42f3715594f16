package slo

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// FormatValue writes v with up to 6 significant digits, which is what a
// person reading "0.023 > 0.01" wants.
func FormatValue(v float64) string {
	if !finite(v) {
		return formatNonFinite(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// formatPair formats a value and its threshold so they never look equal when
// they are not: if 6 digits cannot tell them apart, both get full precision.
func formatPair(v, threshold float64) (string, string) {
	a, b := FormatValue(v), FormatValue(threshold)
	if a == b && v != threshold {
		return strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(threshold, 'g', -1, 64)
	}
	return a, b
}

func formatNonFinite(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	default:
		return "-Inf"
	}
}

// describe says "v <= t" when passed, or the violated relation "v > t".
func describe(v, threshold float64, cmp Comparison, passed bool) string {
	a, b := formatPair(v, threshold)
	op := string(cmp)
	if !passed {
		op = map[Comparison]string{AtMost: ">", AtLeast: "<"}[cmp]
	}
	return a + " " + op + " " + b
}

// Summary is one phrase per failed check, joined by "; ":
//
//	5xx_ratio 0.023 > 0.01; error_logs_per_min: no data
//
// When an answer had several series, the deciding series' labels follow the
// name: 5xx_ratio{instance="b"} 0.02 > 0.01. Empty when everything passed.
func (e Evaluation) Summary() string {
	var parts []string
	for _, r := range e.Failed() {
		parts = append(parts, r.phrase())
	}
	return strings.Join(parts, "; ")
}

func (r Result) phrase() string {
	name := r.Name
	if r.SeriesCount > 1 && len(r.Series) > 0 {
		name += labelString(r.Series)
	}
	if r.bounded {
		return name + " " + r.Reason
	}
	return name + ": " + r.Reason
}

// formatValues writes a result list, [0.1, NaN], at most 5 values.
func formatValues(values []float64) string {
	parts := make([]string, 0, min(len(values), 6))
	for i, v := range values {
		if i == 5 {
			parts = append(parts, "… "+strconv.Itoa(len(values))+" values")
			break
		}
		parts = append(parts, FormatValue(v))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// labelString renders labels as {a="1", b="2"}, sorted by name.
func labelString(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.Quote(labels[n])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
