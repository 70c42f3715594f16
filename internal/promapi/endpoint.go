package promapi

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/httpclient"
)

// Defaults used when the matching Endpoint field is zero.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultRetryWaitMin = 250 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second
	// MaxBodyBytes bounds an answer; a gate query that returns more than this
	// is almost certainly the wrong query.
	MaxBodyBytes = 16 << 20
)

// Endpoint says how to reach one Prometheus-compatible or Loki server. The same
// struct serves both, since they are usually configured side by side but with
// different credentials and tenants.
//
// The zero value of every field is usable: no auth, verified TLS with the
// system roots, DefaultTimeout, no retries.
type Endpoint struct {
	// URL is the server's base URL, e.g. http://prometheus:9090 or
	// https://gateway/loki (a path prefix is kept). Required.
	URL string

	// Timeout bounds one whole query: every attempt and every wait between
	// attempts. Zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times a failed request is repeated after the first
	// attempt. Connection errors, 429 and 5xx (not 501) are retried; other
	// answers are final. Zero means no retries.
	Retries int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// attempts (doubling from min, equal jitter, capped at max). A Retry-After
	// header on 429/503 replaces the backoff, uncapped, as long as the wait
	// fits the rest of Timeout; if it does not, the query gives up at once
	// with that answer rather than sleep into the deadline.
	RetryWaitMin, RetryWaitMax time.Duration

	// InsecureSkipVerify turns TLS certificate checks off (validate_certs: false).
	InsecureSkipVerify bool
	// CAFile is a PEM bundle of the CAs to trust instead of the system roots.
	CAFile string
	// ClientCertFile and ClientKeyFile are a PEM client certificate and its
	// key for mutual TLS; both or neither.
	ClientCertFile, ClientKeyFile string

	// BearerToken is sent as "Authorization: Bearer <token>".
	BearerToken string
	// Username and Password are sent as basic auth. Exclusive with BearerToken.
	Username, Password string
	// Headers are extra request headers (e.g. for a proxy). They may not set
	// Authorization or X-Scope-OrgID when the fields above do.
	Headers map[string]string
	// Tenant is sent as X-Scope-OrgID (Loki, Mimir, Cortex). Several tenants
	// may be joined with "|" where the server federates them.
	Tenant string
	// AccountID and ProjectID are VictoriaLogs' tenant, sent as the
	// AccountID and ProjectID headers: decimal uint32 values ("" sends none,
	// which the server takes as 0).
	AccountID, ProjectID string
	// UserAgent replaces the default User-Agent header.
	UserAgent string
}

// ConfigError names the Endpoint field that is wrong, and any other field
// the problem involves, so a caller can name them as its own options
// (URL → prometheus_url) with Describe, without rewriting the text.
type ConfigError struct {
	Field   string // Endpoint field name, e.g. "ClientKeyFile"
	Problem string // e.g. "is required with"
	// With are the other Endpoint fields the problem refers to, written
	// after Problem: one as " Field", several as " (A/B)".
	With []string
}

func (e *ConfigError) Error() string { return e.Describe(func(field string) string { return field }) }

// Describe writes the error with every field written as name(field):
// "prometheus_client_key: is required with prometheus_client_cert".
func (e *ConfigError) Describe(name func(field string) string) string {
	msg := name(e.Field) + ": " + e.Problem
	switch len(e.With) {
	case 0:
	case 1:
		msg += " " + name(e.With[0])
	default:
		names := make([]string, len(e.With))
		for i, f := range e.With {
			names[i] = name(f)
		}
		msg += " (" + strings.Join(names, "/") + ")"
	}
	return msg
}

func configErrorf(field, format string, args ...any) error {
	return &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// conflict is a problem between field and the fields with.
func conflict(field, problem string, with ...string) error {
	return &ConfigError{Field: field, Problem: problem, With: with}
}

// HeaderTenant is the multi-tenancy header of Loki, Mimir and Cortex.
const HeaderTenant = "X-Scope-OrgID"

// parseBaseURL checks URL and returns it without a trailing slash.
func (ep Endpoint) parseBaseURL() (*url.URL, error) {
	raw := strings.TrimSpace(ep.URL)
	if raw == "" {
		return nil, configErrorf("URL", "is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErrorf("URL", "%q is not a URL: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configErrorf("URL", "%q must start with http:// or https://", raw)
	}
	if u.Host == "" {
		return nil, configErrorf("URL", "%q has no host", raw)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, configErrorf("URL", "%q has port %s; a port is 1 to 65535", raw, port)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, configErrorf("URL", "%q must not have a query or fragment", raw)
	}
	if u.User != nil {
		return nil, configErrorf("URL", "%q must not carry credentials; use the username and password options", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func (ep Endpoint) validateTimes() error {
	switch {
	case ep.Timeout < 0:
		return configErrorf("Timeout", "must be > 0, got %s", ep.Timeout)
	case ep.Retries < 0:
		return configErrorf("Retries", "must be >= 0, got %d", ep.Retries)
	case ep.RetryWaitMin < 0:
		return configErrorf("RetryWaitMin", "must be >= 0, got %s", ep.RetryWaitMin)
	case ep.RetryWaitMax < 0:
		return configErrorf("RetryWaitMax", "must be >= 0, got %s", ep.RetryWaitMax)
	}
	return nil
}

// tlsConfig builds the client TLS settings from the files named in ep
// (internal/httpclient reads them).
func (ep Endpoint) tlsConfig() (*tls.Config, error) {
	switch {
	case ep.ClientCertFile != "" && ep.ClientKeyFile == "":
		return nil, conflict("ClientKeyFile", "is required with", "ClientCertFile")
	case ep.ClientKeyFile != "" && ep.ClientCertFile == "":
		return nil, conflict("ClientCertFile", "is required with", "ClientKeyFile")
	}
	cfg, err := httpclient.TLSFiles{InsecureSkipVerify: ep.InsecureSkipVerify, CAFile: ep.CAFile,
		ClientCertFile: ep.ClientCertFile, ClientKeyFile: ep.ClientKeyFile}.Config()
	if fe, ok := fielderr.As(err); ok {
		return nil, configErrorf(fe.Field, "%s", fe.Problem) // TLSFiles' fields are Endpoint's
	}
	return cfg, err
}

// headers builds the fixed request headers: extra headers, auth and tenant.
func (ep Endpoint) headers() (http.Header, error) {
	h := http.Header{}
	for name, value := range ep.Headers {
		if !validHeaderName(name) {
			return nil, configErrorf("Headers", "%q is not a valid header name", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, configErrorf("Headers", "the value of %s contains a line break or NUL", name)
		}
		h.Set(name, value)
	}
	if ep.BearerToken != "" && (ep.Username != "" || ep.Password != "") {
		return nil, conflict("BearerToken", "cannot be combined with basic auth", "Username", "Password")
	}
	if ep.Password != "" && ep.Username == "" {
		return nil, conflict("Username", "is required with", "Password")
	}
	if h.Get("Authorization") != "" {
		switch {
		case ep.BearerToken != "":
			return nil, conflict("Headers", "sets Authorization, which is also set by", "BearerToken")
		case ep.Username != "":
			return nil, conflict("Headers", "sets Authorization, which is also set by", "Username")
		}
	}
	switch {
	case ep.BearerToken != "":
		if strings.ContainsAny(ep.BearerToken, "\r\n\x00") {
			return nil, configErrorf("BearerToken", "contains a line break or NUL")
		}
		h.Set("Authorization", "Bearer "+ep.BearerToken)
	case ep.Username != "":
		if strings.Contains(ep.Username, ":") {
			return nil, configErrorf("Username", "must not contain ':' (basic auth cannot carry it)")
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ep.Username+":"+ep.Password)))
	}
	if ep.Tenant != "" {
		if h.Get(HeaderTenant) != "" {
			return nil, conflict("Headers", "sets "+HeaderTenant+", which is also set by", "Tenant")
		}
		if err := ValidateTenant(ep.Tenant); err != nil {
			return nil, configErrorf("Tenant", "%v", err)
		}
		h.Set(HeaderTenant, ep.Tenant)
	}
	for _, id := range []struct{ field, value string }{{"AccountID", ep.AccountID}, {"ProjectID", ep.ProjectID}} {
		if id.value == "" {
			continue
		}
		if h.Get(id.field) != "" {
			return nil, conflict("Headers", "sets "+id.field+", which is also set by", id.field)
		}
		if n, err := strconv.ParseUint(id.value, 10, 32); err != nil || strconv.FormatUint(n, 10) != id.value {
			return nil, configErrorf(id.field, "must be a decimal number from 0 to 4294967295, got %q", id.value)
		}
		h.Set(id.field, id.value)
	}
	if ep.UserAgent != "" {
		h.Set("User-Agent", ep.UserAgent)
	}
	return h, nil
}

// ValidateTenant checks a tenant ID the way Loki and Mimir do: each
// "|"-separated ID is 1..150 bytes of [0-9a-zA-Z] and !-_.*'(), and is not
// "." or "..". A ':' in particular is refused, since components cut the ID there.
func ValidateTenant(tenant string) error {
	for _, id := range strings.Split(tenant, "|") {
		switch {
		case id == "":
			return fmt.Errorf("%q has an empty tenant ID", tenant)
		case len(id) > 150:
			return fmt.Errorf("tenant ID %.20q… is longer than 150 bytes", id)
		case id == "." || id == "..":
			return fmt.Errorf("tenant ID %q is not allowed", id)
		}
		for _, r := range id {
			if !tenantRune(r) {
				return fmt.Errorf("tenant ID %q contains %q; allowed are letters, digits and !-_.*'()", id, r)
			}
		}
	}
	return nil
}

func tenantRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!-_.*'()", r)
}

// validHeaderName accepts an RFC 7230 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r) {
			continue
		}
		return false
	}
	return true
}
