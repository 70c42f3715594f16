// Package httpclient is the one HTTP client policy of the collection: every
// request a module makes (Prometheus and Loki queries, Pushgateway pushes,
// anything added later) goes through a Client, so the rules below hold
// everywhere and are tested once.
//
// The rules:
//
//   - One origin. A Client is bound to the origin (scheme, host, port) of the
//     base URL it was made for. A request to any other origin is refused
//     before it is sent, so credentials and custom headers (Authorization,
//     X-Scope-OrgID, X-Api-Key, ...) never leave the configured server.
//   - Redirects stay on the origin. A redirect (301, 302, 303, 307, 308) to
//     the same origin is followed, at most MaxRedirects times, with the same
//     headers: a path prefix moved behind a proxy keeps working. A redirect to
//     another scheme, host or port (https to http included) is not followed:
//     the request fails with a *RedirectError naming the target, and the
//     other server receives nothing.
//   - Bounded answers. A body larger than Options.MaxBodyBytes (default
//     DefaultMaxBodyBytes) is an error, not a truncated answer.
//   - Retries with github.com/hashicorp/go-retryablehttp: connection errors,
//     429 and 5xx other than 501 are retried Options.Retries times with
//     capped exponential backoff (equal jitter). A Retry-After header on a
//     429 or 503 replaces the backoff when it fits before the request's
//     context deadline; when it does not, the client gives up at once with
//     that answer rather than sleep into the deadline. Redirect, origin and
//     size errors and certificate errors are never retried.
//
// The whole exchange, retries included, is bounded by the request's context:
// callers set the deadline.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
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

// Defaults used when the matching Options field is zero.
const (
	DefaultMaxBodyBytes = 16 << 20
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second
	// MaxRedirects bounds same-origin redirects of one attempt.
	MaxRedirects = 5
)

// Options configure a Client. The zero value is usable: verified TLS with the
// system roots, no retries, DefaultMaxBodyBytes.
type Options struct {
	// TLS is the TLS configuration; nil means Go's defaults.
	TLS *tls.Config
	// Retries is how many times a failed request is repeated after the first
	// attempt. Must be >= 0.
	Retries int
	// RetryWaitMin and RetryWaitMax bound the backoff between attempts
	// (doubling from min, equal jitter, capped at max). Zero means
	// DefaultRetryWaitMin and DefaultRetryWaitMax.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxBodyBytes bounds an answer's body. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Client sends requests to one origin under the package rules. It is safe
// for concurrent use.
type Client struct {
	origin  Origin
	http    *http.Client
	retries int
	waits   backoff.Schedule
	maxBody int64
}

// Origin is a URL's scheme, host and port, with the default port filled in
// and the host in lower case: two URLs may share credentials only when their
// Origins are equal.
type Origin struct{ Scheme, Host, Port string }

// OriginOf returns u's origin.
func OriginOf(u *url.URL) Origin {
	o := Origin{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Hostname()), Port: u.Port()}
	if o.Port == "" {
		o.Port = map[string]string{"http": "80", "https": "443"}[o.Scheme]
	}
	return o
}

func (o Origin) String() string {
	host := o.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return o.Scheme + "://" + host + ":" + o.Port
}

// New returns a client bound to base's origin. base must be an absolute
// http or https URL.
func New(base *url.URL, opts Options) (*Client, error) {
	if base == nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("httpclient: base URL must be absolute http:// or https://")
	}
	if opts.Retries < 0 || opts.RetryWaitMin < 0 || opts.RetryWaitMax < 0 || opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("httpclient: negative Retries, RetryWaitMin, RetryWaitMax or MaxBodyBytes")
	}
	c := &Client{
		origin:  OriginOf(base),
		retries: opts.Retries,
		waits: backoff.Schedule{
			Base:     orDefault(opts.RetryWaitMin, DefaultRetryWaitMin),
			MaxDelay: orDefault(opts.RetryWaitMax, DefaultRetryWaitMax),
			Jitter:   backoff.JitterEqual,
		},
		maxBody: opts.MaxBodyBytes,
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	transport := cleanhttp.DefaultPooledTransport()
	transport.TLSClientConfig = opts.TLS
	c.http = &http.Client{
		Transport:     originGuard{origin: c.origin, next: transport},
		CheckRedirect: c.checkRedirect,
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Origin returns the origin the client is bound to.
func (c *Client) Origin() Origin { return c.origin }

// RedirectError is a redirect to another origin that was not followed.
type RedirectError struct {
	Status int    // the redirect's HTTP status, e.g. 302
	To     string // the target, without any user:password
	Origin Origin // the configured origin
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect (%d) to %s refused: only redirects within %s are followed", e.Status, e.To, e.Origin)
}

// OriginError is a request for another origin, refused before it was sent.
type OriginError struct {
	URL    string // without any user:password
	Origin Origin
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("request to %s refused: this client only talks to %s", e.URL, e.Origin)
}

// TooLargeError is an answer whose body exceeds the limit.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	if e.Limit >= 1<<20 && e.Limit%(1<<20) == 0 {
		return fmt.Sprintf("answer is larger than %d MiB", e.Limit>>20)
	}
	return fmt.Sprintf("answer is larger than %d bytes", e.Limit)
}

// Error is a request that got no usable answer. Err is the cause: a
// *RedirectError, *OriginError, *TooLargeError, a context error or a
// transport error (unwrapped from *url.Error).
type Error struct {
	Attempts int
	Err      error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Response is an answer with its body read.
type Response struct {
	StatusCode int
	Status     string
	Header     http.Header
	Body       []byte
	// Attempts is how many requests were made.
	Attempts int
	// Note says why retrying stopped before Retries ran out, if it did
	// ("Retry-After 30s does not fit in the 2s left").
	Note string
}

// Do sends req under the package rules and reads the answer. An HTTP error
// status is a Response, not an error; every error is an *Error.
func (c *Client) Do(req *http.Request) (*Response, error) {
	if o := OriginOf(req.URL); o != c.origin {
		return nil, &Error{Err: &OriginError{URL: req.URL.Redacted(), Origin: c.origin}}
	}
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, &Error{Err: err}
	}
	st := &retryState{waits: c.waits}
	rc := &retryablehttp.Client{
		HTTPClient:   c.http,
		RetryMax:     c.retries,
		CheckRetry:   st.check,
		Backoff:      st.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	resp, err := rc.Do(rreq)
	// An error with a response is either the verdict on the last answer
	// (a 5xx after the last retry: the answer is the result) or the
	// client's own error after a redirect (a *url.Error: no answer).
	var clientErr *url.Error
	if err != nil && (resp == nil || errors.As(err, &clientErr)) {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, &Error{Attempts: max(st.attempts, 1), Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, &Error{Attempts: st.attempts, Err: unwrapURLError(err)}
	}
	if int64(len(body)) > c.maxBody {
		return nil, &Error{Attempts: st.attempts, Err: &TooLargeError{Limit: c.maxBody}}
	}
	return &Response{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header, Body: body,
		Attempts: st.attempts, Note: st.note}, nil
}

// Doer adapts the client to the Do(*http.Request) (*http.Response, error)
// interface of libraries such as client_golang's push.Pusher. The body of
// the returned response is already read (and bounded).
func (c *Client) Doer() Doer { return Doer{c} }

// Doer is Client as an http.Client-like Do.
type Doer struct{ c *Client }

// Do sends req with Client.Do.
func (d Doer) Do(req *http.Request) (*http.Response, error) {
	res, err := d.c.Do(req)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: res.StatusCode, Status: res.Status, Header: res.Header, Request: req,
		Body: io.NopCloser(bytes.NewReader(res.Body)), ContentLength: int64(len(res.Body))}, nil
}

// checkRedirect follows same-origin redirects only.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	if OriginOf(req.URL) != c.origin {
		return &RedirectError{Status: status, To: req.URL.Redacted(), Origin: c.origin}
	}
	if len(via) > MaxRedirects {
		return errTooManyRedirects
	}
	return nil
}

// originGuard refuses, at the transport, every request for another origin:
// whatever path a request takes (a redirect, a library building its own
// URL), nothing is sent elsewhere.
type originGuard struct {
	origin Origin
	next   http.RoundTripper
}

func (g originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if OriginOf(req.URL) != g.origin {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &OriginError{URL: req.URL.Redacted(), Origin: g.origin}
	}
	return g.next.RoundTrip(req)
}

var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)

// isPolicyError: errors of the rules above, which a retry cannot change.
func isPolicyError(err error) bool {
	var re *RedirectError
	var oe *OriginError
	return errors.As(err, &re) || errors.As(err, &oe) || errors.Is(err, errTooManyRedirects)
}

func unwrapURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// retryState is the per-request retry bookkeeping shared by CheckRetry and
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
	if err != nil && isPolicyError(err) {
		return false, err
	}
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
