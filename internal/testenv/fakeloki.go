package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeLoki stands in for Loki's query API: real Loki was not available to the
// tests (no Debian package; AGPL code). It evaluates no LogQL. A test registers
// the answer real Loki would give (Answer) and the fake serves it as documented
// in grafana/loki docs/sources/reference/loki-http-api.md,
// docs/sources/operations/multi-tenancy.md and pkg/util/server/error.go
// (summed up in /work/shared/reference/prometheus-loki-api.md section 2):
//
//   - /loki/api/v1/query and /query_range, parameters in the URL or a POST form.
//   - No X-Scope-OrgID: 401 "no org id" (auth_enabled defaults to true).
//   - Faults queued with FailNext come next: status, body, Retry-After, delay.
//   - time, start and end parse as in Loki (ns epoch, float seconds,
//     RFC3339Nano), else 400; end before start: 400 with Loki's text.
//   - At /query, a log query (one starting with a "{" selector, after any "(";
//     metric queries start with a function, aggregation or number) is 400
//     with Loki's exact text, and a vector is served at the query's time.
//   - At /query_range a matrix is served as registered (log streams are not).
//   - "result" is [] when empty, null when Null is set (grafana/loki#4449).
//   - Errors are text/plain. An unregistered tenant, query (byte for byte) or
//     endpoint gets 400 "fake Loki: no answer registered …": a test gap, not Loki.
//   - Requests are recorded. limit, step, interval and direction are not checked.
type FakeLoki struct {
	URL string // base URL, e.g. http://127.0.0.1:41234

	t        testing.TB
	mu       sync.Mutex
	answers  map[lokiKey]LokiResult
	faults   []LokiFault
	requests []LokiRequest
}

type lokiKey struct{ tenant, query, path string }

// LokiResult is the answer to one metric query. Type is Loki's resultType:
// "vector" (served at /loki/api/v1/query) or "matrix" (at
// /loki/api/v1/query_range). Null sends "result": null instead of [].
type LokiResult struct {
	Type   string
	Series []LokiSeries
	Null   bool
}

// LokiSeries is one series: its sample in a vector is Value, its samples in
// a matrix are Points (oldest first).
type LokiSeries struct {
	Labels map[string]string
	Value  float64
	Points []LokiPoint
}

// LokiPoint is one sample of a matrix series.
type LokiPoint struct {
	At    time.Time
	Value float64
}

// LokiVector is an instant query's answer; with no series, "result": [].
func LokiVector(s ...LokiSeries) LokiResult { return LokiResult{Type: "vector", Series: s} }

// LokiMatrix is a range query's answer.
func LokiMatrix(s ...LokiSeries) LokiResult { return LokiResult{Type: "matrix", Series: s} }

// LokiFault is a canned answer that replaces the next request's answer.
type LokiFault struct {
	Status     int           // e.g. 400, 429, 500, 504
	Body       string        // plain text; for 429 and 504 Loki's own text when empty
	RetryAfter string        // Retry-After header value, if any
	Delay      time.Duration // wait before answering (cut short if the client goes away)
}

// LokiRequest records one request the fake received.
type LokiRequest struct {
	Path, Tenant, Query, Time, Start, End, Authorization string
}

const (
	lokiInstantPath          = "/loki/api/v1/query"
	lokiRangePath            = "/loki/api/v1/query_range"
	lokiInstantLogQueryError = "log queries are not supported as an instant query type, please change your query to a range query type"
)

// lokiPaths is where each result type is served.
var lokiPaths = map[string]string{"vector": lokiInstantPath, "matrix": lokiRangePath}

// lokiDefaultErrors are Loki's fixed texts for throttling and timeouts.
var lokiDefaultErrors = map[int]string{
	http.StatusTooManyRequests: "too many outstanding requests",
	http.StatusGatewayTimeout: "request timed out, decrease the duration of the request or add more label matchers " +
		"(prefer exact match over regex match) to reduce the amount of data processed",
}

// StartFakeLoki starts the stand-in on a free loopback port and stops it when
// the test ends.
func StartFakeLoki(t testing.TB) *FakeLoki {
	t.Helper()
	f := &FakeLoki{t: t, answers: map[lokiKey]LokiResult{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = srv.URL
	t.Cleanup(srv.Close)
	return f
}

// Answer registers (or replaces) tenant's answer to query. Call it from the
// test's goroutine: an unknown Type, or Null with series, fails the test.
func (f *FakeLoki) Answer(tenant, query string, result LokiResult) {
	f.t.Helper()
	path, ok := lokiPaths[result.Type]
	if !ok || result.Null && len(result.Series) > 0 {
		f.t.Fatalf("FakeLoki.Answer(%q): want Type vector or matrix, and no series with Null; got %+v", query, result)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[lokiKey{tenant, query, path}] = result
}

// FailNext makes the next len(faults) requests get these answers, in order.
func (f *FakeLoki) FailNext(faults ...LokiFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// Requests returns the requests received so far.
func (f *FakeLoki) Requests() []LokiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]LokiRequest(nil), f.requests...)
}

func (f *FakeLoki) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := LokiRequest{Path: r.URL.Path, Tenant: r.Header.Get("X-Scope-OrgID"), Query: r.Form.Get("query"),
		Time: r.Form.Get("time"), Start: r.Form.Get("start"), End: r.Form.Get("end"), Authorization: r.Header.Get("Authorization")}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	var fault *LokiFault
	if len(f.faults) > 0 {
		fault, f.faults = &f.faults[0], f.faults[1:]
	}
	answer, found := f.answers[lokiKey{req.Tenant, req.Query, req.Path}]
	f.mu.Unlock()

	at, timeErr := lokiEvalTime(req)
	switch {
	case req.Path != lokiInstantPath && req.Path != lokiRangePath:
		http.NotFound(w, r)
	case req.Tenant == "":
		http.Error(w, "no org id", http.StatusUnauthorized)
	case fault != nil:
		writeFault(w, r, *fault)
	case timeErr != nil:
		http.Error(w, timeErr.Error(), http.StatusBadRequest)
	case req.Path == lokiInstantPath && isLogQuery(req.Query):
		http.Error(w, lokiInstantLogQueryError, http.StatusBadRequest)
	case !found:
		http.Error(w, fmt.Sprintf("fake Loki: no answer registered for tenant %q, query %q at %s (a gap in the test, "+
			"not Loki's behaviour: register one with FakeLoki.Answer)", req.Tenant, req.Query, req.Path), http.StatusBadRequest)
	default:
		writeLokiResult(w, answer, at)
	}
}

func writeFault(w http.ResponseWriter, r *http.Request, fl LokiFault) {
	select {
	case <-time.After(fl.Delay):
	case <-r.Context().Done():
		return
	}
	body := fl.Body
	if body == "" {
		body = lokiDefaultErrors[fl.Status]
	}
	if fl.RetryAfter != "" {
		w.Header().Set("Retry-After", fl.RetryAfter)
	}
	http.Error(w, body, fl.Status)
}

// lokiEvalTime checks the request's times as Loki does and returns the
// instant query's evaluation time (default now).
func lokiEvalTime(req LokiRequest) (time.Time, error) {
	if req.Path != lokiRangePath {
		return parseLokiTime(req.Time, time.Now())
	}
	end, err := parseLokiTime(req.End, time.Now())
	start, startErr := parseLokiTime(req.Start, end.Add(-time.Hour))
	if err = errors.Join(err, startErr); err == nil && end.Before(start) {
		err = errors.New("end timestamp must not be before or equal to start time")
	}
	return end, err
}

// isLogQuery: a LogQL log query starts with a stream selector, perhaps inside
// parentheses; a metric query never does.
func isLogQuery(q string) bool { return strings.HasPrefix(strings.TrimLeft(q, "( \t\r\n"), "{") }

// writeLokiResult writes Loki's success envelope.
func writeLokiResult(w http.ResponseWriter, res LokiResult, at time.Time) {
	var result []map[string]any // null
	if !res.Null {
		result = []map[string]any{}
		for _, s := range res.Series {
			result = append(result, lokiItem(res.Type, s, at))
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{
		"resultType": res.Type,
		"result":     result,
		// Real answers carry many more stats; clients must treat them as optional.
		"stats": map[string]any{"summary": map[string]any{"execTime": 0.001, "queueTime": 0, "totalBytesProcessed": 0}},
	}})
}

// lokiItem encodes one series: labels {} rather than null; timestamps float
// seconds; values strings.
func lokiItem(resultType string, s LokiSeries, at time.Time) map[string]any {
	labels := s.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	if resultType == "vector" {
		return map[string]any{"metric": labels, "value": lokiSample(at, s.Value)}
	}
	values := [][2]any{}
	for _, p := range s.Points {
		values = append(values, lokiSample(p.At, p.Value))
	}
	return map[string]any{"metric": labels, "values": values}
}

func lokiSample(t time.Time, v float64) [2]any {
	return [2]any{float64(t.UnixMilli()) / 1000, strconv.FormatFloat(v, 'f', -1, 64)}
}

// parseLokiTime parses as Loki does: empty gives def; a value with a '.' is
// float seconds (to the millisecond); an integer of at most 10 digits is
// seconds, a longer one nanoseconds; anything else must be RFC3339Nano.
func parseLokiTime(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.Contains(v, ".") {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(math.Round(frac*1000)/1000*1e9)), nil
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if t, terr := time.Parse(time.RFC3339Nano, v); terr == nil {
			return t, nil
		}
		return time.Time{}, err
	}
	if len(v) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}
