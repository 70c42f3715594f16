// Package webmetric measures one number from a JSON HTTP endpoint, the
// "web" source of slo_check (Argo Rollouts' web provider): a GET or POST to
// a URL, a JSONPath (the strict subset of internal/jsonpath) to one value in
// the answer, and that value as a float64.
//
// The rules:
//
//   - Requests go through internal/httpclient: only to the URL's origin,
//     same-origin redirects only, bounded answers (MaxBodyBytes), retries
//     of connection errors, 429 and 5xx (Options.Retries).
//   - Only a 2xx answer is measured; any other status is an error naming it.
//   - The answer must be one JSON value without duplicate keys (strictjson),
//     and the path must select a number, or a boolean (true 1, false 0).
//     A string, even "0.5", null, an object or an array is an error: a gate
//     does not guess what a value means.
//   - TLS is verified against the system roots, or the CAs of CAFile, with
//     an optional client certificate (the files are read by
//     internal/httpclient, as for every other backend).
//   - Error messages never hold the request's headers or body, nor the
//     URL's query string (which may carry a key): the URL is named by its
//     origin and path.
package webmetric

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/httpclient"
	"github.com/threader/guard/internal/jsonpath"
	"github.com/threader/guard/internal/strictjson"
)

// Defaults used when the matching Options field is zero.
const (
	DefaultMethod  = http.MethodGet
	DefaultTimeout = 10 * time.Second
	// MaxBodyBytes bounds an answer: a metric endpoint answers in bytes.
	MaxBodyBytes = 1 << 20
)

// Options say what to fetch and where the value is.
type Options struct {
	// URL is an absolute http or https URL. Required.
	URL string
	// Method is GET or POST; "" means GET.
	Method string
	// Headers are sent with the request (Authorization, X-Api-Key, ...).
	Headers map[string]string
	// Body is sent with POST; GET takes none.
	Body string
	// JSONPath selects the value, for example $.data.ratio. Required.
	JSONPath string
	// Timeout bounds one measurement, retries included; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries repeat a request after connection errors, 429 and 5xx.
	Retries int
	// UserAgent replaces Go's User-Agent when set.
	UserAgent string

	// InsecureSkipVerify turns TLS certificate checks off (validate_certs: false).
	InsecureSkipVerify bool
	// CAFile is a PEM bundle of the CAs to trust instead of the system roots.
	CAFile string
	// ClientCertFile and ClientKeyFile are a PEM client certificate and its
	// key for mutual TLS: both or neither.
	ClientCertFile, ClientKeyFile string
}

// Source measures one value. It is safe for concurrent use.
type Source struct {
	url     *url.URL
	method  string
	header  http.Header
	body    []byte
	path    jsonpath.Path
	timeout time.Duration
	client  *httpclient.Client
}

// New checks opts and returns a Source. Problems are *fielderr.Error values
// naming the Options field (URL, Method, Headers, Body, JSONPath, Timeout,
// Retries, CAFile, ClientCertFile, ClientKeyFile).
func New(opts Options) (*Source, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fielderr.Errorf("URL", "must be an absolute http:// or https:// URL")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fielderr.Errorf("URL", "has port %s, outside 1-65535", p)
		}
	}
	if u.User != nil {
		return nil, fielderr.Errorf("URL", "must not hold credentials (user:password@); use an Authorization header")
	}
	s := &Source{url: u, method: strings.ToUpper(opts.Method), body: []byte(opts.Body), timeout: opts.Timeout}
	switch s.method {
	case "":
		s.method = DefaultMethod
	case http.MethodGet, http.MethodPost:
	default:
		return nil, fielderr.Errorf("Method", "must be GET or POST, got %q", opts.Method)
	}
	if s.method == http.MethodGet && opts.Body != "" {
		return nil, fielderr.Errorf("Body", "needs method POST (a GET sends no body)")
	}
	if s.header, err = headers(opts.Headers); err != nil {
		return nil, err
	}
	if opts.UserAgent != "" && s.header.Get("User-Agent") == "" {
		s.header.Set("User-Agent", opts.UserAgent)
	}
	if s.path, err = jsonpath.Parse(opts.JSONPath); err != nil {
		return nil, fielderr.Errorf("JSONPath", "%v", err)
	}
	switch {
	case opts.Timeout < 0:
		return nil, fielderr.Errorf("Timeout", "must be 0 or greater")
	case opts.Timeout == 0:
		s.timeout = DefaultTimeout
	}
	if opts.Retries < 0 {
		return nil, fielderr.Errorf("Retries", "must be 0 or greater")
	}
	tlsCfg, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	if s.client, err = httpclient.New(u, httpclient.Options{TLS: tlsCfg, Retries: opts.Retries, MaxBodyBytes: MaxBodyBytes}); err != nil {
		return nil, fielderr.Errorf("URL", "%v", err)
	}
	return s, nil
}

// tlsConfig reads the TLS files with internal/httpclient, whose field
// names are Options' own.
func tlsConfig(opts Options) (*tls.Config, error) {
	switch {
	case opts.ClientCertFile != "" && opts.ClientKeyFile == "":
		return nil, fielderr.Errorf("ClientKeyFile", "is required with a client certificate")
	case opts.ClientKeyFile != "" && opts.ClientCertFile == "":
		return nil, fielderr.Errorf("ClientCertFile", "is required with a client key")
	}
	cfg, err := httpclient.TLSFiles{InsecureSkipVerify: opts.InsecureSkipVerify, CAFile: opts.CAFile,
		ClientCertFile: opts.ClientCertFile, ClientKeyFile: opts.ClientKeyFile}.Config()
	return cfg, err
}

func headers(in map[string]string) (http.Header, error) {
	h := http.Header{}
	for name, value := range in {
		if !validHeaderName(name) {
			return nil, fielderr.Errorf("Headers", "%q is not a valid header name", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, fielderr.Errorf("Headers", "the value of %s contains a line break or NUL", name)
		}
		h.Set(name, value)
	}
	return h, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// Describe is the measurement in a few words, for results and messages:
// "GET https://status.example.com/api/slo $.data.ratio" (no query string).
func (s *Source) Describe() string {
	return s.method + " " + s.where() + " " + s.path.String()
}

// where is the URL without its query string or fragment.
func (s *Source) where() string {
	u := *s.url
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// Measure fetches the answer and returns the selected value.
func (s *Source) Measure(parent context.Context) (float64, error) {
	ctx, cancel := context.WithTimeout(parent, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, s.method, s.url.String(), bytes.NewReader(s.body))
	if err != nil {
		return 0, fmt.Errorf("web: %v", err)
	}
	for name, values := range s.header {
		req.Header[name] = values
	}
	req.Header.Set("Accept", "application/json")
	if s.method == http.MethodPost && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, s.transportError(parent, ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, fmt.Errorf("web: %s answered %s", s.where(), resp.Status)
	}
	return s.value(resp.Body)
}

func (s *Source) transportError(parent, ctx context.Context, err error) error {
	var herr *httpclient.Error
	if errors.As(err, &herr) {
		err = herr.Err
	}
	switch {
	case parent.Err() != nil && !errors.Is(parent.Err(), context.DeadlineExceeded):
		return errors.New("web: canceled")
	case ctx.Err() != nil:
		return fmt.Errorf("web: no answer from %s within %s", s.where(), s.timeout)
	}
	return fmt.Errorf("web: %s: %s", s.where(), strings.Join(strings.Fields(err.Error()), " "))
}

// value decodes the answer and converts the selected value.
func (s *Source) value(body []byte) (float64, error) {
	if err := strictjson.Check(body); err != nil {
		return 0, fmt.Errorf("web: the answer of %s is not usable JSON: %v", s.where(), err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return 0, fmt.Errorf("web: the answer of %s is not usable JSON: %v", s.where(), err)
	}
	v, err := s.path.Select(doc)
	if err != nil {
		return 0, fmt.Errorf("web: json_path %s: %v", s.path, err)
	}
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil { // out of float64's range
			return 0, fmt.Errorf("web: json_path %s: %s is not a usable number", s.path, x)
		}
		return f, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		return 0, fmt.Errorf("web: json_path %s is a string (%.40q), not a number or a boolean", s.path, x)
	case nil:
		return 0, fmt.Errorf("web: json_path %s is null, not a number or a boolean", s.path)
	}
	return 0, fmt.Errorf("web: json_path %s is an object or an array, not a number or a boolean", s.path)
}
