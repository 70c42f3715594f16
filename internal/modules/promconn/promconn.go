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
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode"

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
		// Header values are masked: an Authorization or X-Api-Key header
		// is a credential like the two above.
		p + "headers": {Type: ansiblemod.Dict, NoLogValues: true},
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
	fs.Var(secretFile{&c.BearerToken}, name("bearer-token-file"), "file holding the bearer token for "+title+" (or env "+b.Env+"BEARER_TOKEN)")
	fs.StringVar(&c.Username, name("username"), "", "basic auth user for "+title)
	fs.Var(secretFile{&c.Password}, name("password-file"), "file holding the basic auth password for "+title+" (or env "+b.Env+"PASSWORD)")
	// The secrets themselves are refused: every local user can read a
	// command line (ps, /proc/PID/cmdline).
	fs.Var(refusedSecretFlag(b.Env+"BEARER_TOKEN", name("bearer-token-file")), name("bearer-token"), "refused: use --"+name("bearer-token-file")+" or env "+b.Env+"BEARER_TOKEN")
	fs.Var(refusedSecretFlag(b.Env+"PASSWORD", name("password-file")), name("password"), "refused: use --"+name("password-file")+" or env "+b.Env+"PASSWORD")
	fs.Var((*HeaderFlag)(&c.Headers), name("headers"), "extra request header for "+title+", 'Name: value' or @FILE of such lines (for secret headers); repeatable")
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
	if v, ok := os.LookupEnv(b.Env + "BEARER_TOKEN"); ok && !given[b.Prefix+"-bearer-token-file"] {
		c.BearerToken = v
	}
	if v, ok := os.LookupEnv(b.Env + "PASSWORD"); ok && !given[b.Prefix+"-password-file"] {
		c.Password = v
	}
}

// FlagName is the command-line flag that sets a module option: the option
// with dashes, but a secret option's flag is its file variant
// (prometheus_password: --prometheus-password-file), since the secret
// itself is refused on the command line.
func FlagName(option string) string {
	if strings.HasSuffix(option, "_password") || strings.HasSuffix(option, "_bearer_token") {
		option += "_file"
	}
	return "--" + strings.ReplaceAll(option, "_", "-")
}

// maxSecretFile bounds a secret or header file: they are a few lines.
const maxSecretFile = 64 << 10

// readSmallFile reads a secret or header file, refusing a huge one. It is
// opened O_NONBLOCK: a named FIFO that no one writes would block the open,
// and SIGTERM with it, forever; a pipe that is written (process
// substitution, --prometheus-password-file <(vault read ...)) still reads
// to its end, and one without a writer is refused.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFile)
	}
	if info, err := f.Stat(); err == nil && info.Mode()&os.ModeNamedPipe != 0 && len(data) == 0 {
		return nil, fmt.Errorf("%s is a FIFO that nothing writes", path)
	}
	return data, nil
}

// secretFile is a --X-file flag: the value is the file's content, without
// its final line break.
type secretFile struct{ into *string }

func (s secretFile) String() string { return "" }

// CheckArg refuses a path that does not exist without repeating it: it
// may be the secret itself, given to --X-password-file in place of a file
// (the flag package's error would quote it).
func (s secretFile) CheckArg(path string) error {
	if _, err := os.Stat(path); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot be read: %v (the argument is not repeated: it may be the secret itself; give the path of a file holding it)", err)
	}
	return nil
}

func (s secretFile) Set(path string) error {
	data, err := readSmallFile(path)
	if err != nil {
		return err
	}
	*s.into = strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	return nil
}

// ArgChecker is a flag value that refuses some arguments before parsing,
// without quoting them: the flag package's error for a value that Set
// refuses quotes the whole value (to the flag set's output and in the
// error), and a refused value may be a secret. Parse calls CheckArg first.
type ArgChecker interface{ CheckArg(value string) error }

// Parse is fs.Parse, but first refuses the arguments of the backends'
// flags that would put a secret on the command line (a password, a token,
// an Authorization header) with an error that does not repeat the secret
// into the CI log. Programs with backends parse with it.
func Parse(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || !strings.HasPrefix(arg, "-") {
			break // the flag package stops here too
		}
		name, value, inline := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !inline && !isBool && i+1 < len(args) {
			i++
			value = args[i]
			// "--name --prometheus-password=x": a forgotten value makes the
			// secret flag --name's value, which metrics and logs show.
			if err := refusedFlag(fs, value); err != nil {
				return err
			}
		}
		if c, ok := f.Value.(ArgChecker); ok {
			if err := c.CheckArg(value); err != nil {
				return fmt.Errorf("--%s: %w", name, err)
			}
		}
	}
	return fs.Parse(args)
}

// NoArgs refuses what Parse left over: the programs with backends take
// every option as a flag. A leftover that is a refused secret flag (after
// "--": slo_check -- --prometheus-password=x) is refused as the flag is,
// without repeating it; any other is quoted, to show what was not taken.
func NoArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	if err := refusedFlag(fs, fs.Arg(0)); err != nil {
		return err
	}
	return fmt.Errorf("unexpected argument %q (every option is a flag)", fs.Arg(0))
}

// refusedFlag refuses an argument that names a refused secret flag.
func refusedFlag(fs *flag.FlagSet, arg string) error {
	if !strings.HasPrefix(arg, "-") {
		return nil
	}
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	if f := fs.Lookup(name); f != nil {
		if r, ok := f.Value.(refusedSecret); ok {
			return fmt.Errorf("--%s: %s", name, string(r))
		}
	}
	return nil
}

// refusedSecret is a flag that would put a secret on the command line: it
// fails, saying where the secret goes instead.
type refusedSecret string

func refusedSecretFlag(env, fileFlag string) refusedSecret {
	return refusedSecret("a secret on the command line can be read by every local user (ps); set " + env + " or use --" + fileFlag)
}

func (r refusedSecret) String() string { return "" }

func (r refusedSecret) Set(string) error { return errors.New(string(r)) }

func (r refusedSecret) CheckArg(string) error { return errors.New(string(r)) }

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

// Set adds one header, or with @FILE each "Name: value" line of FILE (blank
// lines and lines starting with # skipped): a secret header's value belongs
// in a file, not on the command line.
func (h *HeaderFlag) Set(v string) error {
	if path, ok := strings.CutPrefix(v, "@"); ok {
		data, err := readSmallFile(path)
		if err != nil {
			return err
		}
		lines := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; lines.Scan(); n++ {
			line := strings.TrimSpace(lines.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if h.add(line) != nil { // the line may hold a secret: not quoted
				return fmt.Errorf("%s line %d: want 'Name: value'", path, n)
			}
		}
		return lines.Err()
	}
	if err := h.CheckArg(v); err != nil {
		return err
	}
	return h.add(v)
}

// CheckArg refuses a credential header on the command line, and a header
// that is not 'Name: value' without quoting it: "Authorization Bearer x"
// or "Authorization=Bearer x" is a credential header mistyped.
func (h *HeaderFlag) CheckArg(v string) error {
	if strings.HasPrefix(v, "@") {
		return nil
	}
	first, _, _ := strings.Cut(v, ":")
	if name := strings.FieldsFunc(first, func(r rune) bool { return r == '=' || unicode.IsSpace(r) }); len(name) > 0 && credentialHeader(name[0]) {
		return fmt.Errorf("%s on the command line can be read by every local user (ps); put it in a file given as @FILE", name[0])
	}
	if !strings.Contains(v, ":") || strings.TrimSpace(first) == "" {
		return errors.New("want 'Name: value' (the argument is not repeated: it may hold a secret)")
	}
	return nil
}

// credentialHeader reports whether a header always carries a credential.
func credentialHeader(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	return false
}

func (h *HeaderFlag) add(v string) error {
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
