package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus/push"
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
			errs = append(errs, fmt.Errorf("metrics_textfile %s: %w", textfilePath, err))
		}
	}
	if pushgatewayURL != "" {
		if err := r.push(ctx, pushgatewayURL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// push sends the run's families to the Pushgateway group
// {job=Module, instance=Instance, name=Name} with POST, which replaces only
// the families pushed (like the textfile merge), so a failed run keeps the
// group's last success timestamp.
func (r *Recorder) push(ctx context.Context, rawURL string) error {
	u, user, err := ParsePushgatewayURL("pushgateway_url", rawURL)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.pushTimeout)
		defer cancel()
	}
	p := push.New(u.String(), r.module).
		Gatherer(r.reg).
		Grouping("instance", r.instance).
		Grouping(LabelName, r.name).
		Client(&http.Client{})
	if user != nil {
		pass, _ := user.Password()
		p = p.BasicAuth(user.Username(), pass)
	}
	if err := p.AddContext(ctx); err != nil {
		return fmt.Errorf("pushgateway_url %s: push failed: %w", u.Redacted(), err)
	}
	return nil
}

// ParsePushgatewayURL checks a Pushgateway base URL ("http://host:9091",
// "host:9091" or with a path prefix) and splits off any user:password, which
// is then sent as basic auth and never appears in errors. option names the
// option in the error (for example "pushgateway_url").
func ParsePushgatewayURL(option, raw string) (*url.URL, *url.Userinfo, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a URL: %v", option, redactParseError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, nil, fmt.Errorf("%s: scheme %q is not http or https", option, u.Scheme)
	}
	if u.Host == "" {
		return nil, nil, fmt.Errorf("%s: %s has no host", option, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, nil, fmt.Errorf("%s: %s must not have a query or fragment (give the Pushgateway's base URL)", option, u.Redacted())
	}
	if strings.Contains(u.Path, "/metrics/job") {
		return nil, nil, fmt.Errorf("%s: give the Pushgateway's base URL without /metrics/job/...; the job and grouping key are added", option)
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
