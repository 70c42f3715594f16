// Package promconn is the one place the modules' connection options for a
// Prometheus-compatible backend (and Loki, VictoriaLogs) live: the
// argument_spec entries PREFIX_url, PREFIX_validate_certs, PREFIX_ca_path,
// PREFIX_client_cert, PREFIX_client_key, PREFIX_bearer_token,
// PREFIX_username, PREFIX_password, PREFIX_headers and PREFIX_tenant; the
// matching CLI flags (--PREFIX-url, ...); the secrets read from the
// environment rather than the command line (which every user can read in
// ps); and the promapi client they make, with configuration errors naming
// the option or flag the user wrote.
//
// slo_check and canary_judge declare their backends with a Backend each and
// share everything else.
package promconn

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/promapi"
)

// Config is one backend's connection options, already typed.
type Config struct {
	URL                           string
	ValidateCerts                 bool
	CAPath, ClientCert, ClientKey string
	BearerToken                   string
	Username, Password            string
	Headers                       map[string]string
	Tenant                        string
	AccountID, ProjectID          string // VictoriaLogs' tenant
}

// Backend names one backend of a program.
type Backend struct {
	// Prefix starts every option (prometheus_url) and flag (--prometheus-url).
	Prefix string
	// Title names the backend in help texts: Prometheus, Loki.
	Title string
	// Env starts the environment variables that hold the secrets:
	// SLO_CHECK_PROMETHEUS_ gives SLO_CHECK_PROMETHEUS_BEARER_TOKEN and
	// SLO_CHECK_PROMETHEUS_PASSWORD.
	Env string
	// DefaultURL is the URL option's default ("" for none).
	DefaultURL string
	// URLHelp is added to the --PREFIX-url flag's help text.
	URLHelp string
	// AccountTenant: the tenant is VictoriaLogs' account_id and project_id
	// (AccountID and ProjectID headers), not tenant (X-Scope-OrgID).
	AccountTenant bool
}

// Default is the configuration before any option is read.
func (b Backend) Default() Config { return Config{URL: b.DefaultURL, ValidateCerts: true} }

// Options are the backend's argument_spec entries. The secrets fall back to
// the Env variables, as Ansible's env_fallback does.
func (b Backend) Options() map[string]ansiblemod.Option {
	p := b.Prefix + "_"
	o := map[string]ansiblemod.Option{
		p + "url":            {Type: ansiblemod.Str, Default: b.DefaultURL},
		p + "validate_certs": {Type: ansiblemod.Bool, Default: true},
		p + "ca_path":        {Type: ansiblemod.Path},
		p + "client_cert":    {Type: ansiblemod.Path},
		p + "client_key":     {Type: ansiblemod.Path},
		p + "bearer_token":   {Type: ansiblemod.Str, NoLog: true, EnvFallback: []string{b.Env + "BEARER_TOKEN"}},
		p + "username":       {Type: ansiblemod.Str},
		p + "password":       {Type: ansiblemod.Str, NoLog: true, EnvFallback: []string{b.Env + "PASSWORD"}},
		p + "headers":        {Type: ansiblemod.Dict},
	}
	if b.AccountTenant {
		o[p+"account_id"] = ansiblemod.Option{Type: ansiblemod.Str}
		o[p+"project_id"] = ansiblemod.Option{Type: ansiblemod.Str}
	} else {
		o[p+"tenant"] = ansiblemod.Option{Type: ansiblemod.Str}
	}
	return o
}

// FromModule reads the backend's options from a module's arguments.
func (b Backend) FromModule(m *ansiblemod.Module) Config {
	p := b.Prefix + "_"
	c := Config{
		URL:           m.Str(p + "url"),
		ValidateCerts: m.Bool(p + "validate_certs"),
		CAPath:        m.Str(p + "ca_path"),
		ClientCert:    m.Str(p + "client_cert"),
		ClientKey:     m.Str(p + "client_key"),
		BearerToken:   m.Str(p + "bearer_token"),
		Username:      m.Str(p + "username"),
		Password:      m.Str(p + "password"),
	}
	if b.AccountTenant {
		c.AccountID, c.ProjectID = m.Str(p+"account_id"), m.Str(p+"project_id")
	} else {
		c.Tenant = m.Str(p + "tenant")
	}
	if h := m.Dict(p + "headers"); len(h) > 0 {
		c.Headers = map[string]string{}
		for k, v := range h {
			c.Headers[k] = fmt.Sprint(v)
		}
	}
	return c
}

// RegisterFlags adds the backend's flags to fs, writing into c. Call
// SecretsFromEnv after fs.Parse.
func (b Backend) RegisterFlags(fs *flag.FlagSet, c *Config) {
	name := func(s string) string { return b.Prefix + "-" + s }
	title := b.Title
	fs.StringVar(&c.URL, name("url"), c.URL, title+" base URL"+b.URLHelp)
	fs.BoolVar(&c.ValidateCerts, name("validate-certs"), c.ValidateCerts, "verify the "+title+" TLS certificate")
	fs.StringVar(&c.CAPath, name("ca-path"), "", "PEM file of the CAs that sign the "+title+" certificate")
	fs.StringVar(&c.ClientCert, name("client-cert"), "", "PEM client certificate for "+title)
	fs.StringVar(&c.ClientKey, name("client-key"), "", "PEM key of --"+name("client-cert"))
	fs.StringVar(&c.BearerToken, name("bearer-token"), "", "bearer token for "+title+" (env "+b.Env+"BEARER_TOKEN)")
	fs.StringVar(&c.Username, name("username"), "", "basic auth user for "+title)
	fs.StringVar(&c.Password, name("password"), "", "basic auth password for "+title+" (env "+b.Env+"PASSWORD)")
	fs.Var((*HeaderFlag)(&c.Headers), name("headers"), "extra request header for "+title+", 'Name: value'; repeatable")
	if b.AccountTenant {
		fs.StringVar(&c.AccountID, name("account-id"), "", title+" tenant: AccountID header")
		fs.StringVar(&c.ProjectID, name("project-id"), "", title+" tenant: ProjectID header")
		return
	}
	fs.StringVar(&c.Tenant, name("tenant"), "", "tenant sent to "+title+" as X-Scope-OrgID")
}

// SecretsFromEnv fills the bearer token and the password from the
// environment unless their flag was given; given holds the names of the
// flags that were (flag.FlagSet.Visit).
func (b Backend) SecretsFromEnv(given map[string]bool, c *Config) {
	if v, ok := os.LookupEnv(b.Env + "BEARER_TOKEN"); ok && !given[b.Prefix+"-bearer-token"] {
		c.BearerToken = v
	}
	if v, ok := os.LookupEnv(b.Env + "PASSWORD"); ok && !given[b.Prefix+"-password"] {
		c.Password = v
	}
}

// Request is how one query is made: what the program's
// request_timeout_seconds and request_retries options say, and its
// User-Agent.
type Request struct {
	Timeout   time.Duration
	Retries   int
	UserAgent string
}

// Client makes the backend's client. A configuration error names the
// option as name spells it (name("prometheus_ca_path"): itself for a module,
// --prometheus-ca-path for a CLI).
func (b Backend) Client(api promapi.API, c Config, r Request, name func(option string) string) (*promapi.Client, error) {
	ep := promapi.Endpoint{
		URL: c.URL, Timeout: r.Timeout, Retries: r.Retries,
		InsecureSkipVerify: !c.ValidateCerts, CAFile: c.CAPath, ClientCertFile: c.ClientCert, ClientKeyFile: c.ClientKey,
		BearerToken: c.BearerToken, Username: c.Username, Password: c.Password,
		Headers: c.Headers, Tenant: c.Tenant, AccountID: c.AccountID, ProjectID: c.ProjectID, UserAgent: r.UserAgent,
	}
	client, err := promapi.New(api, ep)
	var cerr *promapi.ConfigError
	if errors.As(err, &cerr) {
		return nil, errors.New(cerr.Describe(func(field string) string { return name(b.Option(field)) }))
	}
	return client, err
}

// Option is the option that sets a promapi.Endpoint field.
func (b Backend) Option(field string) string {
	switch field {
	case "Timeout":
		return "request_timeout_seconds"
	case "Retries":
		return "request_retries"
	}
	suffix := map[string]string{
		"URL": "url", "CAFile": "ca_path", "ClientCertFile": "client_cert", "ClientKeyFile": "client_key",
		"BearerToken": "bearer_token", "Username": "username", "Password": "password",
		"Headers": "headers", "Tenant": "tenant", "AccountID": "account_id", "ProjectID": "project_id",
	}[field]
	if suffix == "" {
		suffix = strings.ToLower(field)
	}
	return b.Prefix + "_" + suffix
}

// HeaderFlag collects "Name: value" headers.
type HeaderFlag map[string]string

func (h *HeaderFlag) String() string {
	if h == nil || *h == nil {
		return ""
	}
	return fmt.Sprint(map[string]string(*h))
}

// Set adds one header.
func (h *HeaderFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	if *h == nil {
		*h = map[string]string{}
	}
	(*h)[strings.TrimSpace(name)] = strings.TrimSpace(value)
	return nil
}
