package promapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// ResultType is the data.resultType of a query answer.
type ResultType string

// The result types Prometheus and Loki return.
const (
	Vector  ResultType = "vector"  // one sample per series (instant queries)
	Matrix  ResultType = "matrix"  // many samples per series (range queries, range selectors)
	Scalar  ResultType = "scalar"  // one bare number, e.g. scalar(...) or 1+1
	String  ResultType = "string"  // one bare string, e.g. "foo"
	Streams ResultType = "streams" // Loki log lines (log queries at query_range)
)

// Result is one decoded query answer. Which fields are set depends on Type:
//
//   - Vector: Series, each with exactly one sample.
//   - Matrix: Series, each with its samples oldest first.
//   - Scalar: Series with one unlabelled series (Labels nil) and one sample.
//   - String: Text and TextTime.
//   - Streams: Streams.
//
// An empty answer (`"result": []` or `"result": null`) is a success with no
// Series: it is up to the caller to decide what "no data" means.
type Result struct {
	Type     ResultType
	Series   []Series
	Text     string
	TextTime time.Time
	Streams  []Stream
	// Warnings and Infos are passed on from the envelope. Prometheus sets
	// warnings when the data may be incomplete (for example a failed remote
	// read), so callers should show them.
	Warnings []string
	Infos    []string
}

// Series is one labelled time series.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Sample is one point. Value may be NaN or ±Inf: the APIs send those as the
// strings "NaN", "+Inf" and "-Inf", and they are kept, not dropped, so callers
// can fail closed on them.
type Sample struct {
	Time  time.Time
	Value float64
}

// Stream is one Loki log stream.
type Stream struct {
	Labels  map[string]string
	Entries []Entry
}

// Entry is one log line.
type Entry struct {
	Time time.Time
	Line string
}

// LabelString renders labels as {a="1", b="2"} with sorted names, the way
// PromQL writes a selector, for messages.
func LabelString(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for name := range labels {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[name]))
	}
	b.WriteByte('}')
	return b.String()
}

// envelope is the common JSON wrapper of both APIs.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

type dataPart struct {
	ResultType ResultType      `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// rawSeries is one element of a vector or matrix result. The series is
// read into this struct and not straight into model.Sample or
// model.SampleStream because model.Sample turns a series without "value"
// into a zero at the epoch, and both drop native histograms into fields a
// float comparison would never look at: here a missing value and a
// histogram are refused by name.
type rawSeries struct {
	Metric     model.Metric      `json:"metric"`
	Value      json.RawMessage   `json:"value"`
	Values     []json.RawMessage `json:"values"`
	Histogram  json.RawMessage   `json:"histogram"`
	Histograms json.RawMessage   `json:"histograms"`
}

type rawStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// decodeData parses the data object of a successful answer. Prometheus
// result types are decoded into github.com/prometheus/common/model values
// (model.Vector, model.Matrix, model.Scalar, model.String), the types
// Prometheus' own client uses, and then into Result; Loki streams have no
// model type and are decoded here.
func decodeData(raw json.RawMessage) (*Result, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("answer has no data")
	}
	var d dataPart
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("data: %v", err)
	}
	res := &Result{Type: d.ResultType}
	empty := len(d.Result) == 0 || string(d.Result) == "null"
	switch d.ResultType {
	case Vector, Matrix:
		if empty {
			return res, nil
		}
		series, err := decodeSeries(d.ResultType, d.Result)
		if err != nil {
			return nil, err
		}
		res.Series = series
	case Scalar:
		if empty {
			return nil, fmt.Errorf("scalar result is null")
		}
		p, err := decodePair(d.Result)
		if err != nil {
			return nil, fmt.Errorf("scalar result: %v", err)
		}
		scalar := model.Scalar{Timestamp: p.Timestamp, Value: p.Value}
		res.Series = []Series{{Samples: []Sample{sampleOf(scalar.Timestamp, scalar.Value)}}}
	case String:
		if empty {
			return nil, fmt.Errorf("string result is null")
		}
		str, err := decodeString(d.Result)
		if err != nil {
			return nil, fmt.Errorf("string result: %v", err)
		}
		res.TextTime, res.Text = str.Timestamp.Time().UTC(), str.Value
	case Streams:
		if empty {
			return res, nil
		}
		streams, err := decodeStreams(d.Result)
		if err != nil {
			return nil, err
		}
		res.Streams = streams
	case "":
		return nil, fmt.Errorf("answer has no resultType")
	default:
		return nil, fmt.Errorf("unknown resultType %q", d.ResultType)
	}
	return res, nil
}

// decodeSeries decodes a vector or matrix result into Series.
func decodeSeries(kind ResultType, raw json.RawMessage) ([]Series, error) {
	var items []rawSeries
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s result: %v", kind, err)
	}
	if kind == Vector {
		vec, err := toVector(items)
		if err != nil {
			return nil, err
		}
		return seriesOfVector(vec), nil
	}
	m, err := toMatrix(items)
	if err != nil {
		return nil, err
	}
	return seriesOfMatrix(m), nil
}

func toVector(items []rawSeries) (model.Vector, error) {
	vec := make(model.Vector, 0, len(items))
	for _, it := range items {
		if err := refuseHistograms(it); err != nil {
			return nil, err
		}
		if !hasJSON(it.Value) {
			return nil, fmt.Errorf("vector series %s has no value", metricString(it.Metric))
		}
		p, err := decodePair(it.Value)
		if err != nil {
			return nil, fmt.Errorf("vector series %s: %v", metricString(it.Metric), err)
		}
		vec = append(vec, &model.Sample{Metric: it.Metric, Timestamp: p.Timestamp, Value: p.Value})
	}
	return vec, nil
}

func toMatrix(items []rawSeries) (model.Matrix, error) {
	m := make(model.Matrix, 0, len(items))
	for _, it := range items {
		if err := refuseHistograms(it); err != nil {
			return nil, err
		}
		stream := &model.SampleStream{Metric: it.Metric}
		for _, v := range it.Values {
			p, err := decodePair(v)
			if err != nil {
				return nil, fmt.Errorf("matrix series %s: %v", metricString(it.Metric), err)
			}
			stream.Values = append(stream.Values, p)
		}
		m = append(m, stream)
	}
	return m, nil
}

// refuseHistograms: a native histogram has no single float value; comparing
// its count or sum silently would be a guess.
func refuseHistograms(it rawSeries) error {
	if hasJSON(it.Histogram) || hasJSON(it.Histograms) {
		return fmt.Errorf("series %s holds native histogram samples, not floats; "+
			"query a float instead (for example histogram_quantile or histogram_fraction)", metricString(it.Metric))
	}
	return nil
}

func seriesOfVector(vec model.Vector) []Series {
	out := make([]Series, 0, len(vec))
	for _, s := range vec {
		out = append(out, Series{Labels: labelsOf(s.Metric), Samples: []Sample{sampleOf(s.Timestamp, s.Value)}})
	}
	return out
}

func seriesOfMatrix(m model.Matrix) []Series {
	out := make([]Series, 0, len(m))
	for _, s := range m {
		series := Series{Labels: labelsOf(s.Metric)}
		for _, p := range s.Values {
			series.Samples = append(series.Samples, sampleOf(p.Timestamp, p.Value))
		}
		out = append(out, series)
	}
	return out
}

func sampleOf(t model.Time, v model.SampleValue) Sample {
	return Sample{Time: t.Time().UTC(), Value: float64(v)}
}

// labelsOf copies a model.Metric into a plain map (nil stays nil).
func labelsOf(m model.Metric) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for name, value := range m {
		out[string(name)] = string(value)
	}
	return out
}

func metricString(m model.Metric) string { return LabelString(labelsOf(m)) }

func hasJSON(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// decodePair parses [<unix seconds>, "<value>"] with model.Time and
// model.SampleValue. The pair's shape is checked here rather than left to
// model.SamplePair.UnmarshalJSON, which decodes into a fixed-size array: it
// reads [], [1] and [null, null] as a zero at the epoch and drops a third
// element, where a gate must refuse all of them.
func decodePair(raw json.RawMessage) (model.SamplePair, error) {
	ts, val, err := splitPair(raw)
	if err != nil {
		return model.SamplePair{}, err
	}
	t, err := parseTimestamp(ts)
	if err != nil {
		return model.SamplePair{}, err
	}
	var v model.SampleValue
	if val[0] != '"' {
		return model.SamplePair{}, fmt.Errorf("sample value must be a string, got %s", snippet(val))
	}
	if err := v.UnmarshalJSON(val); err != nil {
		// model.SampleValue reads the string's bytes without unescaping,
		// so "\u0031" is refused here too: no server escapes a number.
		return model.SamplePair{}, fmt.Errorf("sample value %s is not a number", snippet(val))
	}
	return model.SamplePair{Timestamp: t, Value: v}, nil
}

// decodeString parses [<unix seconds>, "<text>"] into a model.String (whose
// own UnmarshalJSON has the fixed-array weakness decodePair describes).
func decodeString(raw json.RawMessage) (model.String, error) {
	ts, val, err := splitPair(raw)
	if err != nil {
		return model.String{}, err
	}
	t, err := parseTimestamp(ts)
	if err != nil {
		return model.String{}, err
	}
	var text string
	if val[0] != '"' || json.Unmarshal(val, &text) != nil {
		return model.String{}, fmt.Errorf("string value must be a string, got %s", snippet(val))
	}
	return model.String{Timestamp: t, Value: text}, nil
}

// splitPair returns the two elements of a JSON array of exactly two
// non-null elements.
func splitPair(raw json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 || !hasJSON(pair[0]) || !hasJSON(pair[1]) {
		return nil, nil, fmt.Errorf("want [timestamp, \"value\"], got %s", snippet(raw))
	}
	return bytes.TrimSpace(pair[0]), bytes.TrimSpace(pair[1]), nil
}

// ParseValue parses a sample value as both APIs send it: a decimal string, or
// "NaN", "+Inf", "-Inf" (also "Inf"). NaN and ±Inf are returned as such.
func ParseValue(text string) (float64, error) {
	switch text {
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q is not a number", text)
	}
	return v, nil
}

// maxTimestampDigits bounds the whole seconds of a timestamp (12 digits
// reach past the year 9999): model.Time multiplies them by 1000 without an
// overflow check, and a wrapped timestamp would be a wrong date, not an error.
const maxTimestampDigits = 12

// parseTimestamp parses a JSON number of seconds, such as 1435781451.781,
// with model.Time: to the millisecond, the precision Prometheus stores
// (further digits are dropped). Only plain decimals are accepted: model.Time
// cannot read exponent notation, and no server sends it.
func parseTimestamp(raw json.RawMessage) (model.Time, error) {
	text := string(raw)
	whole, frac, hasFrac := strings.Cut(strings.TrimPrefix(text, "-"), ".")
	if !allDigits(whole) || len(whole) > maxTimestampDigits || hasFrac && !allDigits(frac) {
		return 0, fmt.Errorf("timestamp %s is not a number of seconds", snippet(raw))
	}
	var t model.Time
	if err := t.UnmarshalJSON(raw); err != nil {
		return 0, fmt.Errorf("timestamp %s is not a number of seconds", snippet(raw))
	}
	return t, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func decodeStreams(raw json.RawMessage) ([]Stream, error) {
	var items []rawStream
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("streams result: %v", err)
	}
	out := make([]Stream, 0, len(items))
	for _, it := range items {
		s := Stream{Labels: it.Stream}
		for _, v := range it.Values {
			ns, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("stream %s: timestamp %q is not nanoseconds", LabelString(it.Stream), v[0])
			}
			s.Entries = append(s.Entries, Entry{Time: time.Unix(0, ns).UTC(), Line: v[1]})
		}
		out = append(out, s)
	}
	return out, nil
}

// snippet shortens a body for an error message and keeps it on one line.
func snippet(b []byte) string {
	const max = 200
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
