package testenv

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MetricSeries is one time series to load into a test Prometheus or
// VictoriaMetrics, with its points in time order.
type MetricSeries struct {
	Name   string
	Labels map[string]string
	Points []Point
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Constant returns points of value v every step from from to to (inclusive).
func Constant(from, to time.Time, step time.Duration, v float64) []Point {
	return Stepped(from, to, step, func(time.Time) float64 { return v })
}

// Stepped returns points every step from from to to (inclusive) with value f(t).
func Stepped(from, to time.Time, step time.Duration, f func(time.Time) float64) []Point {
	var out []Point
	for t := from; !t.After(to); t = t.Add(step) {
		out = append(out, Point{T: t, V: f(t)})
	}
	return out
}

// OpenMetrics renders series as OpenMetrics text with timestamps in seconds,
// the input of `promtool tsdb create-blocks-from openmetrics`. Series of one
// metric family are written together, as the format requires.
func OpenMetrics(series []MetricSeries) []byte {
	var b bytes.Buffer
	for _, name := range familyNames(series) {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", name)
		for _, s := range series {
			if s.Name != name {
				continue
			}
			for _, p := range s.Points {
				ms := p.T.UnixMilli()
				fmt.Fprintf(&b, "%s%s %s %d.%03d\n", name, labelText(s.Labels), formatSample(p.V), ms/1000, ms%1000)
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// PrometheusText renders series in the Prometheus text exposition format with
// millisecond timestamps, which VictoriaMetrics imports on
// /api/v1/import/prometheus.
func PrometheusText(series []MetricSeries) []byte {
	var b bytes.Buffer
	for _, s := range series {
		for _, p := range s.Points {
			fmt.Fprintf(&b, "%s%s %s %d\n", s.Name, labelText(s.Labels), formatSample(p.V), p.T.UnixMilli())
		}
	}
	return b.Bytes()
}

func familyNames(series []MetricSeries) []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range series {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	return names
}

func labelText(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(labels[k])
		parts[i] = k + `="` + v + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func formatSample(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func nan() float64 { return math.NaN() }
