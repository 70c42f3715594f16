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
// Requests go through hashicorp/go-retryablehttp: connection errors, 429 and
// 5xx are retried with capped exponential backoff, and the whole query,
// retries included, is bounded by Endpoint.Timeout.
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/threader/guard/internal/backoff"
)

// API selects the query endpoints and the name used in error messages.
type API string

// The two supported APIs.
const (
	// Prometheus is /api/v1/query and /api/v1/query_range, also served by
	// VictoriaMetrics, Mimir, Cortex and Thanos.
	Prometheus API = "prometheus"
	// Loki is /loki/api/v1/query and /loki/api/v1/query_range.
	Loki API = "loki"
)

// Client queries one server. It is safe for concurrent use.
type Client struct {
	api     API
	base    *url.URL
	header  http.Header
	http    *http.Client
	timeout time.Duration
	retries int
	waits   backoff.Schedule
}

// New checks ep and returns a client for api. Configuration problems are
// *ConfigError values naming the Endpoint field.
func New(api API, ep Endpoint) (*Client, error) {
	if api != Prometheus && api != Loki {
		return nil, fmt.Errorf("promapi: unknown API %q (want %q or %q)", api, Prometheus, Loki)
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
	transport := cleanhttp.DefaultPooledTransport()
	transport.TLSClientConfig = tlsCfg
	c := &Client{
		api:     api,
		base:    base,
		header:  header,
		http:    &http.Client{Transport: transport},
		timeout: orDefault(ep.Timeout, DefaultTimeout),
		retries: ep.Retries,
		waits: backoff.Schedule{
			Base:     orDefault(ep.RetryWaitMin, DefaultRetryWaitMin),
			MaxDelay: orDefault(ep.RetryWaitMax, DefaultRetryWaitMax),
			Jitter:   backoff.JitterEqual,
		},
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
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
	if c.api == Loki {
		return "/loki/api/v1/" + endpoint
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
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{API: c.api, Message: err.Error(), Err: err}
	}
	for name, values := range c.header {
		req.Header[name] = values
	}
	req.Header.Set("Accept", "application/json")

	st := &retryState{waits: c.waits}
	rc := &retryablehttp.Client{
		HTTPClient:   c.http,
		RetryMax:     c.retries,
		CheckRetry:   st.check,
		Backoff:      st.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, err := rc.Do(req)
	if err != nil && resp == nil {
		return nil, c.transportError(parent, ctx, budget, st, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, c.transportError(parent, ctx, budget, st, err)
	}
	if len(body) > MaxBodyBytes {
		return nil, &Error{API: c.api, StatusCode: resp.StatusCode, Attempts: st.attempts, Err: errDecode,
			Message: fmt.Sprintf("answer is larger than %d MiB", MaxBodyBytes>>20)}
	}
	res, qerr := c.decode(resp, body)
	if qerr != nil {
		qerr.Attempts = st.attempts
		if st.note != "" {
			qerr.Message += " (" + st.note + ")"
		}
		return nil, qerr
	}
	return res, nil
}

// transportError describes a query that got no usable answer.
func (c *Client) transportError(parent, ctx context.Context, budget time.Duration, st *retryState, err error) *Error {
	switch {
	case parent.Err() != nil && !errors.Is(parent.Err(), context.DeadlineExceeded):
		return &Error{API: c.api, Message: "canceled", Attempts: st.attempts, Err: parent.Err()}
	case ctx.Err() != nil:
		return timeoutError(c.api, budget, st.attempts, err)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return &Error{API: c.api, Message: oneLine(err.Error()), Attempts: st.attempts, Err: err}
}

// decode turns an HTTP answer into a Result or an *Error.
func (c *Client) decode(resp *http.Response, body []byte) (*Result, *Error) {
	env, isEnvelope := parseEnvelope(body)
	ok2xx := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !isEnvelope {
		if ok2xx {
			msg := "answer is not a JSON envelope: " + snippet(body)
			if len(strings.TrimSpace(string(body))) == 0 {
				msg = "empty answer"
			}
			return nil, &Error{API: c.api, StatusCode: resp.StatusCode, Message: msg, Err: errDecode}
		}
		return nil, &Error{API: c.api, StatusCode: resp.StatusCode, Message: plainText(resp, body)}
	}
	switch env.Status {
	case "error":
		msg := oneLine(env.Error)
		if msg == "" {
			msg = "(no error text)"
		}
		return nil, &Error{API: c.api, StatusCode: resp.StatusCode, Type: env.ErrorType, Message: msg}
	case "success":
		if !ok2xx {
			return nil, &Error{API: c.api, StatusCode: resp.StatusCode,
				Message: "status \"success\" with a non-2xx HTTP status; refusing the data"}
		}
		res, err := decodeData(env.Data)
		if err != nil {
			return nil, &Error{API: c.api, StatusCode: resp.StatusCode, Message: "unparseable answer: " + err.Error(), Err: errDecode}
		}
		res.Warnings, res.Infos = env.Warnings, env.Infos
		return res, nil
	}
	return nil, &Error{API: c.api, StatusCode: resp.StatusCode, Err: errDecode,
		Message: fmt.Sprintf("unexpected status %q in answer: %s", env.Status, snippet(body))}
}

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
func plainText(resp *http.Response, body []byte) string {
	text := snippet(body)
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	if text == "" {
		text = "(empty body)"
	}
	return text
}

func oneLine(s string) string { return snippet([]byte(s)) }

// retryState is the per-query retry bookkeeping shared by CheckRetry and
// Backoff, so that the wait can be checked against the deadline before
// deciding to retry.
type retryState struct {
	waits    backoff.Schedule
	attempts int
	wait     time.Duration
	note     string
}

func (s *retryState) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	s.attempts++
	retry, perr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	if !retry {
		return false, perr
	}
	wait := s.waits.Delay(s.attempts)
	retryAfter, hasRetryAfter := parseRetryAfter(resp, time.Now())
	if hasRetryAfter {
		wait = retryAfter
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); wait >= left {
			// Sleeping into the deadline would only replace this answer
			// with "timed out"; give up now and report it instead.
			if hasRetryAfter {
				s.note = fmt.Sprintf("Retry-After %s does not fit in the %s left", retryAfter, left.Round(time.Millisecond))
			}
			return false, nil
		}
	}
	s.wait = wait
	return true, nil
}

func (s *retryState) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return s.wait
}

// parseRetryAfter reads Retry-After (seconds or an HTTP date) from a 429 or
// 503 answer.
func parseRetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
