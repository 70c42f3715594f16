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

type rawSeries struct {
	Metric     map[string]string `json:"metric"`
	Value      json.RawMessage   `json:"value"`
	Values     []json.RawMessage `json:"values"`
	Histogram  json.RawMessage   `json:"histogram"`
	Histograms json.RawMessage   `json:"histograms"`
}

type rawStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// decodeData parses the data object of a successful answer.
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
		s, err := decodePair(d.Result)
		if err != nil {
			return nil, fmt.Errorf("scalar result: %v", err)
		}
		res.Series = []Series{{Samples: []Sample{s}}}
	case String:
		if empty {
			return nil, fmt.Errorf("string result is null")
		}
		t, text, err := decodeStringPair(d.Result)
		if err != nil {
			return nil, fmt.Errorf("string result: %v", err)
		}
		res.TextTime, res.Text = t, text
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

func decodeSeries(kind ResultType, raw json.RawMessage) ([]Series, error) {
	var items []rawSeries
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s result: %v", kind, err)
	}
	out := make([]Series, 0, len(items))
	for _, it := range items {
		s := Series{Labels: it.Metric}
		if hasJSON(it.Histogram) || hasJSON(it.Histograms) {
			// A native histogram has no single float value; comparing its
			// count or sum silently would be a guess.
			return nil, fmt.Errorf("series %s holds native histogram samples, not floats; "+
				"query a float instead (for example histogram_quantile or histogram_fraction)", LabelString(it.Metric))
		}
		switch kind {
		case Vector:
			if !hasJSON(it.Value) {
				return nil, fmt.Errorf("vector series %s has no value", LabelString(it.Metric))
			}
			p, err := decodePair(it.Value)
			if err != nil {
				return nil, fmt.Errorf("vector series %s: %v", LabelString(it.Metric), err)
			}
			s.Samples = []Sample{p}
		case Matrix:
			for _, v := range it.Values {
				p, err := decodePair(v)
				if err != nil {
					return nil, fmt.Errorf("matrix series %s: %v", LabelString(it.Metric), err)
				}
				s.Samples = append(s.Samples, p)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func hasJSON(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// decodePair parses [<unix seconds>, "<value>"].
func decodePair(raw json.RawMessage) (Sample, error) {
	t, text, err := decodeStringPair(raw)
	if err != nil {
		return Sample{}, err
	}
	v, err := ParseValue(text)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Time: t, Value: v}, nil
}

// decodeStringPair parses [<unix seconds>, "<text>"].
func decodeStringPair(raw json.RawMessage) (time.Time, string, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return time.Time{}, "", fmt.Errorf("want [timestamp, \"value\"], got %s", snippet(raw))
	}
	t, err := parseUnixSeconds(string(bytes.TrimSpace(pair[0])))
	if err != nil {
		return time.Time{}, "", err
	}
	var text string
	if err := json.Unmarshal(pair[1], &text); err != nil {
		return time.Time{}, "", fmt.Errorf("sample value must be a string, got %s", snippet(pair[1]))
	}
	return t, text, nil
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

// parseUnixSeconds parses a JSON number of seconds exactly (no float rounding
// of the fraction): 1435781451.781 → 1435781451s + 781ms.
func parseUnixSeconds(text string) (time.Time, error) {
	bad := fmt.Errorf("timestamp %s is not a number of seconds", snippet([]byte(text)))
	whole, frac, _ := strings.Cut(text, ".")
	if strings.ContainsAny(text, "eE") {
		// Exponent notation is legal JSON; fall back to float parsing.
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, bad
		}
		sec, fr := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(fr*1e9))).UTC(), nil
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, bad
	}
	var nanos int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, bad
		}
		nanos = n
		if sec < 0 || strings.HasPrefix(whole, "-") {
			nanos = -nanos
		}
	}
	return time.Unix(sec, nanos).UTC(), nil
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
