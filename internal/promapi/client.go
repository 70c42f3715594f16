// Package promapi queries Prometheus-compatible servers (Prometheus,
// VictoriaMetrics, Mimir, Thanos) and Loki over their HTTP query APIs, and
// decodes every result type into plain Go values.
//
// It is strict on purpose, because its callers are gates that must fail
// closed: an answer counts as a result only if it is a JSON envelope with
// "status": "success" and a well-formed data object. Everything else, such as a
// JSON error envelope, a plain-text error body (Loki always sends those; proxies
// and a starting Prometheus do too), a 2xx with a body that is not JSON, a
// timeout or a refused connection, comes back as an *Error whose one-line
// message starts with the API name ("prometheus: 503 …").
//
// Requests go through internal/httpclient, the collection's one HTTP client
// policy: the client talks only to the configured origin (a redirect to
// another scheme, host or port fails the query naming the target, and no
// header or credential is sent there), answers are bounded to MaxBodyBytes,
// and connection errors, 429 and 5xx are retried with capped exponential
// backoff. The whole query, retries included, is bounded by
// Endpoint.Timeout.
//
// An envelope is JSON read strictly (internal/strictjson): two keys that
// encoding/json would merge, such as "status" twice or "status" and
// "Status", make the answer unparseable rather than let the last one win.
//
// The data part is read with github.com/prometheus/common/model (Time,
// SampleValue, Metric, Vector, Matrix, Scalar, String), as Prometheus' own
// client reads it, except where those types are lenient: a sample pair must be
// exactly [timestamp, "value"] with neither null (model.SamplePair alone reads
// [] or [null, null] as a zero at the epoch), a vector series must carry a
// value, and native histograms are refused rather than read as 0.
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/httpclient"
	"github.com/threader/guard/internal/strictjson"
)

// API selects the query endpoints and the name used in error messages.
type API string

// The supported APIs.
const (
	// Prometheus is /api/v1/query and /api/v1/query_range, also served by
	// VictoriaMetrics, Mimir, Cortex and Thanos.
	Prometheus API = "prometheus"
	// Loki is /loki/api/v1/query and /loki/api/v1/query_range.
	Loki API = "loki"
	// VictoriaLogs is /select/logsql/stats_query and stats_query_range:
	// LogsQL queries ending in a stats pipe, answered in the Prometheus
	// envelope (one series per stats result, named by __name__).
	VictoriaLogs API = "victorialogs"
)

// Client queries one server. It is safe for concurrent use.
type Client struct {
	api     API
	base    *url.URL
	header  http.Header
	http    *httpclient.Client
	timeout time.Duration
}

// New checks ep and returns a client for api. Configuration problems are
// *ConfigError values naming the Endpoint field.
func New(api API, ep Endpoint) (*Client, error) {
	if api != Prometheus && api != Loki && api != VictoriaLogs {
		return nil, fmt.Errorf("promapi: unknown API %q (want %q, %q or %q)", api, Prometheus, Loki, VictoriaLogs)
	}
	base, err := ep.parseBaseURL()
	if err != nil {
		return nil, err
	}
	if err := ep.validateTimes(); err != nil {
		return nil, err
	}
	header, err := ep.headers()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := ep.tlsConfig()
	if err != nil {
		return nil, err
	}
	hc, err := httpclient.New(base, httpclient.Options{TLS: tlsCfg, Retries: ep.Retries,
		RetryWaitMin: ep.RetryWaitMin, RetryWaitMax: ep.RetryWaitMax, MaxBodyBytes: MaxBodyBytes})
	if err != nil {
		return nil, err
	}
	timeout := ep.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Client{api: api, base: base, header: header, http: hc, timeout: timeout}, nil
}

// API returns which API the client speaks.
func (c *Client) API() API { return c.api }

// Timeout returns the bound on one whole query.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Query runs an instant query evaluated at at (the server's "now" when at is
// zero).
func (c *Client) Query(ctx context.Context, query string, at time.Time) (*Result, error) {
	params := url.Values{"query": {query}}
	if !at.IsZero() {
		params.Set("time", c.formatTime(at))
	}
	return c.get(ctx, c.path("query"), params)
}

// QueryRange runs a range query from start to end every step. Prometheus
// always answers with a matrix; Loki with a matrix or, for a log query,
// streams.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (*Result, error) {
	if step <= 0 {
		return nil, fmt.Errorf("promapi: step must be > 0, got %s", step)
	}
	params := url.Values{
		"query": {query},
		"start": {c.formatTime(start)},
		"end":   {c.formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	return c.get(ctx, c.path("query_range"), params)
}

func (c *Client) path(endpoint string) string {
	switch c.api {
	case Loki:
		return "/loki/api/v1/" + endpoint
	case VictoriaLogs:
		return "/select/logsql/stats_" + endpoint
	}
	return "/api/v1/" + endpoint
}

// formatTime writes unix seconds with milliseconds for Prometheus, and the
// documented nanosecond epoch for Loki.
func (c *Client) formatTime(t time.Time) string {
	if c.api == Loki {
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	ms := t.UnixMilli()
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// get sends one GET (with retries) and decodes the answer.
func (c *Client) get(parent context.Context, path string, params url.Values) (*Result, error) {
	budget := c.timeout
	if dl, ok := parent.Deadline(); ok && time.Until(dl) < budget {
		budget = max(time.Until(dl), 0)
	}
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()

	u := *c.base
	u.Path += path
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{API: c.api, Message: err.Error(), Err: err}
	}
	for name, values := range c.header {
		req.Header[name] = values
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(parent, ctx, budget, err)
	}
	res, qerr := c.decode(resp.StatusCode, resp.Body)
	if qerr != nil {
		qerr.Attempts = resp.Attempts
		if resp.Note != "" {
			qerr.Message += " (" + resp.Note + ")"
		}
		return nil, qerr
	}
	return res, nil
}

// transportError describes a query that got no usable answer.
func (c *Client) transportError(parent, ctx context.Context, budget time.Duration, err error) *Error {
	attempts := 0
	var herr *httpclient.Error
	if errors.As(err, &herr) {
		attempts, err = herr.Attempts, herr.Err
	}
	var tooLarge *httpclient.TooLargeError
	switch {
	case parent.Err() != nil && !errors.Is(parent.Err(), context.DeadlineExceeded):
		return &Error{API: c.api, Message: "canceled", Attempts: attempts, Err: parent.Err()}
	case ctx.Err() != nil:
		return timeoutError(c.api, budget, attempts, err)
	case errors.As(err, &tooLarge):
		return &Error{API: c.api, Message: err.Error(), Attempts: attempts, Err: errors.Join(errDecode, err)}
	}
	return &Error{API: c.api, Message: oneLine(err.Error()), Attempts: attempts, Err: err}
}

// decode turns an HTTP answer into a Result or an *Error.
func (c *Client) decode(code int, body []byte) (*Result, *Error) {
	env, isEnvelope := parseEnvelope(body)
	ok2xx := code >= 200 && code < 300
	if isEnvelope {
		if err := strictjson.CheckWith(body, labelMaps); err != nil {
			return nil, &Error{API: c.api, StatusCode: code, Message: "ambiguous answer: " + err.Error(), Err: errDecode}
		}
	}
	if !isEnvelope {
		if ok2xx {
			msg := "answer is not a JSON envelope: " + snippet(body)
			if len(strings.TrimSpace(string(body))) == 0 {
				msg = "empty answer"
			}
			return nil, &Error{API: c.api, StatusCode: code, Message: msg, Err: errDecode}
		}
		return nil, &Error{API: c.api, StatusCode: code, Message: plainText(code, body)}
	}
	switch env.Status {
	case "error":
		msg := oneLine(env.Error)
		if msg == "" {
			msg = "(no error text)"
		}
		return nil, &Error{API: c.api, StatusCode: code, Type: env.ErrorType, Message: msg}
	case "success":
		if !ok2xx {
			return nil, &Error{API: c.api, StatusCode: code,
				Message: "status \"success\" with a non-2xx HTTP status; refusing the data"}
		}
		res, err := decodeData(env.Data)
		if err != nil {
			return nil, &Error{API: c.api, StatusCode: code, Message: "unparseable answer: " + err.Error(), Err: errDecode}
		}
		res.Warnings, res.Infos = env.Warnings, env.Infos
		return res, nil
	}
	return nil, &Error{API: c.api, StatusCode: code, Err: errDecode,
		Message: fmt.Sprintf("unexpected status %q in answer: %s", env.Status, snippet(body))}
}

// labelMaps are the envelope's label sets: Prometheus label names are case
// sensitive, so "job" and "Job" are two labels there, not a conflict.
var labelMaps = strictjson.Options{CaseSensitiveUnder: []string{"metric", "stream"}}

// parseEnvelope reports whether body is a JSON object with a "status" field.
func parseEnvelope(body []byte) (envelope, bool) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Status == "" {
		return envelope{}, false
	}
	return env, true
}

// plainText is the message of a non-JSON error answer: the body, or the
// status text when the body is empty.
func plainText(code int, body []byte) string {
	text := snippet(body)
	if text == "" {
		text = http.StatusText(code)
	}
	if text == "" {
		text = "(empty body)"
	}
	return text
}

func oneLine(s string) string { return snippet([]byte(s)) }
