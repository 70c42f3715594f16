package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/threader/guard/internal/httpclient"
)

// Publish writes the run's metrics to the node_exporter textfile at
// textfilePath and pushes them to the Pushgateway at pushgatewayURL. Either
// may be "" to skip it; both are attempted even if one fails, and the error
// joins every failure (including any value a Record method rejected), each
// saying which destination failed. Call it once, at the end of the run.
//
// A run that recorded nothing (it failed on a bad option, or a creates/removes
// condition skipped the command) publishes nothing: no empty .prom file is
// created and no Pushgateway group holding only push_time_seconds appears,
// so dashboards and `absent()` alerts see no run rather than an empty one.
func (r *Recorder) Publish(ctx context.Context, textfilePath, pushgatewayURL string) error {
	errs := []error{r.recordErrors()}
	if textfilePath == "" && pushgatewayURL == "" {
		return errors.Join(errs...)
	}
	mfs, err := r.reg.Gather()
	if err != nil { // cannot happen with this registry's fixed families; kept honest
		return errors.Join(append(errs, fmt.Errorf("metrics: gather: %w", err))...)
	}
	if len(mfs) == 0 { // the registry leaves out families without series
		return errors.Join(errs...)
	}
	if textfilePath != "" {
		if err := writeTextfile(ctx, textfilePath, r.name, withNameLabel(mfs, r.name)); err != nil {
			errs = append(errs, &DestinationError{Field: FieldTextfile, Target: textfilePath, Err: err})
		}
	}
	if pushgatewayURL != "" {
		if err := r.push(ctx, pushgatewayURL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Fields name the destinations in a *DestinationError. They are the
// parameter names of Publish; the module or CLI layer maps them to its own
// option or flag names (metrics_textfile, --pushgateway-url).
const (
	FieldTextfile    = "Textfile"
	FieldPushgateway = "PushgatewayURL"
)

// DestinationError is a problem with one destination: a bad Pushgateway
// URL, or a failed write or push. It never holds a password.
type DestinationError struct {
	Field  string // FieldTextfile or FieldPushgateway
	Target string // the path or the URL without user:password; "" when it could not be parsed
	Err    error
}

func (e *DestinationError) Error() string {
	if e.Target == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return e.Field + " " + e.Target + ": " + e.Err.Error()
}

func (e *DestinationError) Unwrap() error { return e.Err }

// pushRetries is how often a failed push is repeated (connection errors,
// 429, 5xx), within the context's deadline.
const pushRetries = 2

// push sends the run's families to the Pushgateway group
// {job=Module, instance=Instance, name=Name} with POST, which replaces only
// the families pushed (like the textfile merge), so a failed run keeps the
// group's last success timestamp. It goes through internal/httpclient, the
// collection's one HTTP client policy: nothing, the basic auth included,
// is sent to any origin but the Pushgateway's, and a redirect elsewhere
// fails the push naming its target.
func (r *Recorder) push(ctx context.Context, rawURL string) error {
	u, user, err := ParsePushgatewayURL(rawURL)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.pushTimeout)
		defer cancel()
	}
	client, err := httpclient.New(u, httpclient.Options{Retries: pushRetries})
	if err != nil {
		return &DestinationError{Field: FieldPushgateway, Target: u.Redacted(), Err: err}
	}
	p := push.New(u.String(), r.module).
		Gatherer(r.reg).
		Grouping("instance", r.instance).
		Grouping(LabelName, r.name).
		Client(client.Doer())
	if user != nil {
		pass, _ := user.Password()
		p = p.BasicAuth(user.Username(), pass)
	}
	if err := p.AddContext(ctx); err != nil {
		return &DestinationError{Field: FieldPushgateway, Target: u.Redacted(), Err: fmt.Errorf("push failed: %w", err)}
	}
	return nil
}

// ParsePushgatewayURL checks a Pushgateway base URL ("http://host:9091",
// "host:9091" or with a path prefix) and splits off any user:password, which
// is then sent as basic auth and never appears in errors. Errors are
// *DestinationError with Field FieldPushgateway.
func ParsePushgatewayURL(raw string) (*url.URL, *url.Userinfo, error) {
	bad := func(target, format string, args ...any) error {
		return &DestinationError{Field: FieldPushgateway, Target: target, Err: fmt.Errorf(format, args...)}
	}
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, nil, bad("", "not a URL: %v", redactParseError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, nil, bad("", "scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, nil, bad("", "%s has no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, bad("", "%s must not have a query or fragment (give the Pushgateway's base URL)", u.Redacted())
	}
	if strings.Contains(u.Path, "/metrics/job") {
		return nil, nil, bad("", "give the Pushgateway's base URL without /metrics/job/...; the job and grouping key are added")
	}
	user := u.User
	u.User = nil
	return u, user, nil
}

// redactParseError keeps url.Parse's reason but not the URL, which may hold
// a password.
func redactParseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
