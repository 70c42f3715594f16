// Package slocheck is the threader.guard.slo_check Ansible module and the
// slo_check CLI: thin front ends over internal/slo (the fail-closed
// evaluation and polling) and internal/promapi (the Prometheus and Loki
// clients). modules/slo_check builds it as a program of its own; the
// multi-call binary links it with the other modules.
//
// Both front ends fill the same config and share plan (config → gate) and
// resultFields (report → result), so the module's result and the CLI's
// --json output are the same object.
package slocheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/modules/promconn"
	"github.com/threader/guard/internal/promapi"
	"github.com/threader/guard/internal/seconds"
	"github.com/threader/guard/internal/slo"
	"github.com/threader/guard/internal/webmetric"
)

// Defaults, from the old playbook variables where they existed.
const (
	defaultPrometheusURL  = "http://prometheus.local:9090"
	defaultLokiURL        = "http://loki.local:3100"
	defaultJob            = "threader"
	defaultWindow         = "15m"
	defaultMax5xxRatio    = 0.01
	defaultMinHealthRatio = 0.995
	defaultMaxErrorLogs   = 1.0
	defaultErrorLogRegex  = "ERROR|Exception|Traceback"
	defaultTimeout        = 300 * time.Second
	defaultRequestTimeout = 10 * time.Second
	defaultRequestRetries = 3
	// Gate limits (Argo Rollouts' names and, but for failure_limit, defaults).
	defaultFailureLimit          = -1
	defaultInconclusiveLimit     = -1
	defaultConsecutiveErrorLimit = 4
	defaultRetention             = slo.DefaultRetention
)

// The names of the default checks.
const (
	check5xxRatio    = "5xx_ratio"
	checkHealthRatio = "health_ratio"
	checkErrorLogs   = "error_logs_per_min"
)

// config holds every option of the module, already typed.
type config struct {
	prometheus, loki, victorialogs promconn.Config
	// lokiGiven: loki_url was set by the user, not left at its default
	// (a VictoriaLogs URL then takes over the error-log check).
	lokiGiven      bool
	requestTimeout time.Duration
	requestRetries int

	job, window                   string
	max5xx, minHealth, maxErrLogs float64
	errorLogRegex                 string
	defaultChecks                 bool
	checks                        []slo.Check

	interval, timeout time.Duration
	consecutive       int
	failOnViolation   bool
	acceptWarnings    bool

	failureLimit, inconclusiveLimit, consecutiveErrorLimit int
	initialDelay                                           time.Duration
	failOnInconclusive                                     bool
	retention                                              int

	// clock is nil outside tests.
	clock clock.Clock
}

func defaultConfig() config {
	return config{
		prometheus:     prometheusBackend.Default(),
		loki:           lokiBackend.Default(),
		victorialogs:   victoriaLogsBackend.Default(),
		requestTimeout: defaultRequestTimeout, requestRetries: defaultRequestRetries,
		job: defaultJob, window: defaultWindow,
		max5xx: defaultMax5xxRatio, minHealth: defaultMinHealthRatio, maxErrLogs: defaultMaxErrorLogs,
		errorLogRegex: defaultErrorLogRegex, defaultChecks: true,
		timeout: defaultTimeout, consecutive: 1, failOnViolation: true,
		failureLimit: defaultFailureLimit, inconclusiveLimit: defaultInconclusiveLimit,
		consecutiveErrorLimit: defaultConsecutiveErrorLimit, failOnInconclusive: true, retention: defaultRetention,
	}
}

// namer turns a module option name into what the user typed: the option
// itself for the module, the flag for the CLI.
type namer func(option string) string

// plan is a validated gate plus the warnings to show before it runs.
type plan struct {
	gate     slo.Gate
	warnings []string
}

// plan checks the options and builds the gate. Errors name the option.
func (c config) plan(name namer) (plan, error) {
	var p plan
	if err := c.checkNumbers(name); err != nil {
		return p, err
	}
	window, err := parseWindow(c.window)
	if err != nil {
		return p, fmt.Errorf("%s: %v", name("window"), err)
	}
	lokiOn := strings.TrimSpace(c.loki.URL) != ""
	vlOn := strings.TrimSpace(c.victorialogs.URL) != ""
	logs := c.errorLogSource(lokiOn, vlOn)
	var checks []slo.Check
	if c.defaultChecks {
		if strings.TrimSpace(c.job) == "" {
			return p, fmt.Errorf("%s must not be empty", name("job"))
		}
		if _, err := regexp.Compile(c.errorLogRegex); err != nil {
			return p, fmt.Errorf("%s: %v", name("error_log_regex"), err)
		}
		checks = defaultChecks(c, window, logs)
		switch {
		case logs == "":
			p.warnings = append(p.warnings, fmt.Sprintf("%s is empty: the error-log check (%s) is off (%s is empty too)",
				name("loki_url"), checkErrorLogs, name("victorialogs_url")))
		case logs == slo.Loki && vlOn:
			p.warnings = append(p.warnings, fmt.Sprintf("%s and %s are both set: the error-log check (%s) runs on Loki",
				name("loki_url"), name("victorialogs_url"), checkErrorLogs))
		}
	}
	checks = append(checks, c.checks...)
	if len(checks) == 0 {
		return p, fmt.Errorf("no checks to run: %s is false and %s is empty", name("default_checks"), name("checks"))
	}
	if err := uniqueNames(checks, c.defaultChecks, name); err != nil {
		return p, err
	}
	if !slices.ContainsFunc(checks, func(ch slo.Check) bool { return !ch.DryRun }) {
		return p, fmt.Errorf("%s: every check is a dry_run, so nothing would decide the gate", name("checks"))
	}
	// A client is built (and its options checked) for each source a check uses.
	queriers := map[slo.Source]slo.Querier{}
	for i, ch := range checks {
		if w, ok := ch.Querier.(*webQuerier); ok {
			// A copy: the config's check keeps its own.
			w2 := &webQuerier{opts: w.opts, timeoutSet: w.timeoutSet}
			if err := w2.build(c.requestTimeout, c.requestRetries); err != nil {
				return p, fmt.Errorf("check %s: %v", ch.Name, err)
			}
			checks[i].Querier = w2
			continue
		}
		if queriers[ch.Source] != nil {
			continue
		}
		if ch.Source == slo.Loki && !lokiOn {
			return p, fmt.Errorf("check %s queries Loki, but %s is empty", ch.Name, name("loki_url"))
		}
		if ch.Source == slo.VictoriaLogs && !vlOn {
			return p, fmt.Errorf("check %s queries VictoriaLogs, but %s is empty", ch.Name, name("victorialogs_url"))
		}
		api, ep, backend := promapi.Prometheus, c.prometheus, prometheusBackend
		switch ch.Source {
		case slo.Loki:
			api, ep, backend = promapi.Loki, c.loki, lokiBackend
		case slo.VictoriaLogs:
			api, ep, backend = promapi.VictoriaLogs, c.victorialogs, victoriaLogsBackend
		}
		q, err := c.querier(api, ep, backend, name)
		if err != nil {
			return p, err
		}
		queriers[ch.Source] = q
	}
	// A VictoriaLogs URL that no check uses (Loki has the error-log check)
	// still gets its options checked: a bad one is not silently ignored.
	if vlOn && queriers[slo.VictoriaLogs] == nil {
		if _, err := c.querier(promapi.VictoriaLogs, c.victorialogs, victoriaLogsBackend, name); err != nil {
			return p, err
		}
	}
	p.gate = slo.Gate{Checks: checks, Queriers: queriers, Clock: c.clock,
		Interval: c.interval, Consecutive: c.consecutive, Timeout: c.timeout,
		Trust:        slo.Trust{AcceptWarnings: c.acceptWarnings},
		Limits:       &slo.Limits{Failure: c.failureLimit, Inconclusive: c.inconclusiveLimit, ConsecutiveError: c.consecutiveErrorLimit},
		InitialDelay: c.initialDelay, PassInconclusive: !c.failOnInconclusive, Retention: c.retention,
		Describe: func(field string) string { return name(gateOptions[field]) }}
	if c.interval == 0 {
		p.gate.Timeout = 0 // only polling uses it
	}
	if err := p.gate.Validate(); err != nil {
		return p, err // checkNumbers has named every option the gate checks
	}
	return p, nil
}

// gateOptions maps the slo.Gate fields named in messages to their options.
var gateOptions = map[string]string{
	"FailureLimit": "failure_limit", "InconclusiveLimit": "inconclusive_limit", "ConsecutiveErrorLimit": "consecutive_error_limit",
}

func (c config) checkNumbers(name namer) error {
	for option, v := range map[string]int{"failure_limit": c.failureLimit, "inconclusive_limit": c.inconclusiveLimit,
		"consecutive_error_limit": c.consecutiveErrorLimit} {
		if v < -1 {
			return fmt.Errorf("%s must be -1 (no limit) or 0 or greater, got %d", name(option), v)
		}
	}
	if c.retention < 1 {
		return fmt.Errorf("%s must be 1 or greater, got %d", name("measurement_retention"), c.retention)
	}
	if c.initialDelay < 0 {
		return fmt.Errorf("%s must be 0 or greater", name("initial_delay_seconds"))
	}
	for option, v := range map[string]float64{"max_5xx_ratio": c.max5xx, "min_health_ratio": c.minHealth, "max_error_logs_per_min": c.maxErrLogs} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s must be a finite number, got %v", name(option), v)
		}
	}
	switch {
	case c.interval < 0:
		return fmt.Errorf("%s must be 0 or greater", name("interval_seconds"))
	case c.timeout < 0:
		return fmt.Errorf("%s must be 0 or greater", name("timeout_seconds"))
	case c.consecutive < 1:
		return fmt.Errorf("%s must be 1 or greater, got %d", name("consecutive"), c.consecutive)
	case c.requestTimeout <= 0:
		return fmt.Errorf("%s must be greater than 0", name("request_timeout_seconds"))
	case c.requestRetries < 0:
		return fmt.Errorf("%s must be 0 or greater, got %d", name("request_retries"), c.requestRetries)
	case c.interval == 0 && c.consecutive > 1:
		return fmt.Errorf("%s %d needs %s greater than 0", name("consecutive"), c.consecutive, name("interval_seconds"))
	case c.interval > 0 && c.timeout == 0:
		return fmt.Errorf("%s must be greater than 0 when %s is set", name("timeout_seconds"), name("interval_seconds"))
	case c.interval > 0 && c.consecutive > 1 && c.timeout < c.interval*time.Duration(c.consecutive-1):
		return fmt.Errorf("%s %s is too short for %d passing evaluations in a row %s apart: it must be at least %s",
			name("timeout_seconds"), secondsText(c.timeout), c.consecutive, secondsText(c.interval),
			secondsText(c.interval*time.Duration(c.consecutive-1)))
	}
	return nil
}

// uniqueNames refuses two checks of one name: results, messages and the
// check label of the metrics tell checks apart by name.
func uniqueNames(checks []slo.Check, defaults bool, name namer) error {
	seen := map[string]bool{}
	for _, ch := range checks {
		if !seen[ch.Name] {
			seen[ch.Name] = true
			continue
		}
		if defaults && (ch.Name == check5xxRatio || ch.Name == checkHealthRatio || ch.Name == checkErrorLogs) {
			return fmt.Errorf("%s: check name %q is used twice: it is the name of a default check (rename yours, or set %s to false)",
				name("checks"), ch.Name, name("default_checks"))
		}
		return fmt.Errorf("%s: check name %q is used twice", name("checks"), ch.Name)
	}
	return nil
}

func secondsText(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// parseWindow accepts a Prometheus duration such as 15m, 1h30m or 90s.
func parseWindow(s string) (model.Duration, error) {
	d, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a Prometheus duration such as 15m, 1h or 90s", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be greater than 0, got %q", s)
	}
	return d, nil
}

// errorLogSource is where the default error-log check runs: Loki when its
// URL is set (by default, or given), VictoriaLogs when its URL is set and
// Loki's was not given (or given empty), nowhere ("") when neither is set.
func (c config) errorLogSource(lokiOn, vlOn bool) slo.Source {
	switch {
	case vlOn && !(c.lokiGiven && lokiOn):
		return slo.VictoriaLogs
	case lokiOn:
		return slo.Loki
	}
	return ""
}

// defaultChecks are the three checks of the old release playbook, with the
// error-log rate in errors per minute averaged over the window, on logs
// (Loki, VictoriaLogs or none).
func defaultChecks(c config, window model.Duration, logs slo.Source) []slo.Check {
	sel := fmt.Sprintf("{job=%s}", strconv.Quote(c.job))
	win := window.String()
	checks := []slo.Check{
		{Name: check5xxRatio, Source: slo.Prometheus, Max: slo.Float(c.max5xx), Valid: slo.Ratio(),
			Query: fmt.Sprintf("avg_over_time(job:http_5xx_ratio_1m%s[%s])", sel, win)},
		{Name: checkHealthRatio, Source: slo.Prometheus, Min: slo.Float(c.minHealth), Valid: slo.Ratio(),
			Query: fmt.Sprintf("avg_over_time(job:health_ok_ratio_1m%s[%s])", sel, win)},
	}
	minutes := strconv.FormatFloat(time.Duration(window).Minutes(), 'f', -1, 64)
	if logs == slo.VictoriaLogs {
		stream := fmt.Sprintf("_stream:{job=%s} _time:%s", strconv.Quote(c.job), win)
		checks = append(checks, slo.Check{Name: checkErrorLogs, Source: slo.VictoriaLogs, Max: slo.Float(c.maxErrLogs),
			Query: fmt.Sprintf("%s ~%s | stats count() as errors | math errors / %s as errors_per_min | fields errors_per_min",
				stream, strconv.Quote(c.errorLogRegex), minutes),
			// VictoriaLogs counts 0 when no line matched, also when the
			// stream has no lines at all: those must be no data.
			PresenceQuery: stream + " | stats count() as lines"})
	}
	if logs == slo.Loki {
		checks = append(checks, slo.Check{Name: checkErrorLogs, Source: slo.Loki, Max: slo.Float(c.maxErrLogs),
			Query: fmt.Sprintf("sum(count_over_time(%s |~ %s [%s])) / %s", sel, strconv.Quote(c.errorLogRegex), win, minutes),
			// Loki returns no series when no line matched: that is 0 errors
			// only if the job logged anything at all in the window.
			PresenceQuery: fmt.Sprintf("sum(count_over_time(%s [%s]))", sel, win)})
	}
	return checks
}

// querier builds the client for one backend.
func (c config) querier(api promapi.API, e promconn.Config, b promconn.Backend, name namer) (slo.Querier, error) {
	client, err := b.Client(api, e, promconn.Request{Timeout: c.requestTimeout, Retries: c.requestRetries, UserAgent: userAgent}, name)
	if err != nil {
		return nil, err
	}
	return querier{client}, nil
}

// querier adapts a promapi client to slo.Querier: numbers only.
type querier struct{ c *promapi.Client }

func (q querier) Query(ctx context.Context, query string, at time.Time) (slo.Answer, error) {
	res, err := q.c.Query(ctx, query, at)
	if err != nil {
		return slo.Answer{}, err
	}
	var ans slo.Answer
	switch res.Type {
	case promapi.Vector, promapi.Matrix, promapi.Scalar:
		for _, s := range res.Series {
			samples := make([]slo.Sample, len(s.Samples))
			for i, smp := range s.Samples {
				samples[i] = slo.Sample{Time: smp.Time, Value: smp.Value}
			}
			ans.Series = append(ans.Series, slo.Series{Labels: s.Labels, Samples: samples})
		}
	case promapi.String:
		return ans, fmt.Errorf("%s: the query returns a string (%q), not a number", q.c.API(), res.Text)
	case promapi.Streams:
		return ans, fmt.Errorf("%s: the query returns log lines, not numbers; use a metric query such as count_over_time", q.c.API())
	default:
		return ans, fmt.Errorf("%s: unexpected result type %q", q.c.API(), res.Type)
	}
	ans.Warnings = res.Warnings
	return ans, nil
}

// checkSpec is one entry of the checks option (module) or a --check value
// (CLI, JSON or YAML).
type checkSpec struct {
	Name             string   `yaml:"name"`
	Source           string   `yaml:"source"`
	Query            string   `yaml:"query"`
	Max              *float64 `yaml:"max"`
	Min              *float64 `yaml:"min"`
	OnEmpty          string   `yaml:"on_empty"`
	SuccessCondition *string  `yaml:"success_condition"` // nil: not given ("" is an error)
	FailureCondition *string  `yaml:"failure_condition"`
	DryRun           bool     `yaml:"dry_run"`
	// The web source's keys.
	URL            string            `yaml:"url"`
	Method         string            `yaml:"method"`
	Headers        map[string]string `yaml:"headers"`
	Body           string            `yaml:"body"`
	JSONPath       string            `yaml:"json_path"`
	TimeoutSeconds *float64          `yaml:"timeout_seconds"`
	ValidateCerts  *bool             `yaml:"validate_certs"` // nil: not given (true)
	CAPath         string            `yaml:"ca_path"`
	ClientCert     string            `yaml:"client_cert"`
	ClientKey      string            `yaml:"client_key"`
}

// checkKeys are the keys of a check, in the order the docs list them.
var checkKeys = []string{"name", "source", "query", "max", "min", "on_empty", "success_condition", "failure_condition", "dry_run",
	"url", "method", "headers", "body", "json_path", "timeout_seconds", "validate_certs", "ca_path", "client_cert", "client_key"}

// webOnlyKeys are the keys only a web check takes.
var webOnlyKeys = checkKeys[slices.Index(checkKeys, "url"):]

// sources are the values of a check's source.
var sources = []slo.Source{slo.Prometheus, slo.Loki, slo.VictoriaLogs, slo.Web}

// specError is a problem with one key of a check; the front end names the
// check (checks[2].success_condition, --checks check 3).
type specError struct {
	Key, Check string
	Err        error
}

func (e *specError) Error() string { return fmt.Sprintf("%s of check %q %v", e.Key, e.Check, e.Err) }

func (s checkSpec) check() (slo.Check, error) {
	c := slo.Check{Name: s.Name, Source: slo.Source(s.Source), Query: s.Query, Max: s.Max, Min: s.Min,
		OnEmpty: slo.OnEmpty(s.OnEmpty), DryRun: s.DryRun}
	if c.Source == "" {
		c.Source = slo.Prometheus
	}
	if c.OnEmpty == "" {
		c.OnEmpty = slo.EmptyFails
	}
	// Compiled once, here: a malformed expression is a configuration error.
	for _, cond := range []struct {
		key  string
		text *string
		dst  **slo.Condition
	}{{"success_condition", s.SuccessCondition, &c.SuccessCondition}, {"failure_condition", s.FailureCondition, &c.FailureCondition}} {
		if cond.text == nil {
			continue
		}
		compiled, err := slo.CompileCondition(*cond.text)
		if err != nil {
			return c, &specError{Key: cond.key, Check: s.Name, Err: err}
		}
		*cond.dst = compiled
	}
	if !slices.Contains(sources, c.Source) {
		return c, &specError{Key: "source", Check: s.Name, Err: fmt.Errorf("must be one of %v, got %q", sources, s.Source)}
	}
	if err := s.webSource(&c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// webSource checks the web keys: required with source web, refused with
// any other source. A web check gets its own Querier; its query is the
// measurement's description (method, URL without query string, path).
func (s checkSpec) webSource(c *slo.Check) error {
	given := map[string]bool{"url": s.URL != "", "method": s.Method != "", "headers": s.Headers != nil, "body": s.Body != "",
		"json_path": s.JSONPath != "", "timeout_seconds": s.TimeoutSeconds != nil, "validate_certs": s.ValidateCerts != nil,
		"ca_path": s.CAPath != "", "client_cert": s.ClientCert != "", "client_key": s.ClientKey != ""}
	if c.Source != slo.Web {
		for _, key := range webOnlyKeys {
			if given[key] {
				return &specError{Key: key, Check: s.Name, Err: fmt.Errorf("is only for source web, not %s", c.Source)}
			}
		}
		return nil
	}
	if s.Query != "" {
		return &specError{Key: "query", Check: s.Name, Err: errors.New("is not used by source web (it measures url at json_path)")}
	}
	w := &webQuerier{opts: webmetric.Options{URL: s.URL, Method: s.Method, Headers: s.Headers, Body: s.Body, JSONPath: s.JSONPath,
		UserAgent: userAgent, CAFile: s.CAPath, ClientCertFile: s.ClientCert, ClientKeyFile: s.ClientKey}}
	if s.ValidateCerts != nil {
		w.opts.InsecureSkipVerify = !*s.ValidateCerts
	}
	if s.TimeoutSeconds != nil {
		d, err := seconds.Positive("timeout_seconds", *s.TimeoutSeconds)
		if err != nil {
			return s.keyError(err, nil)
		}
		w.opts.Timeout, w.timeoutSet = d, true
	}
	if err := w.build(0, 0); err != nil {
		return s.keyError(err, webKeys)
	}
	c.Querier, c.Query = w, w.src.Describe()
	return nil
}

// keyError is the *specError of a *fielderr.Error about one of the check's
// keys: keys renames its fields (nil: the field is the key).
func (s checkSpec) keyError(err error, keys map[string]string) error {
	fe, ok := fielderr.As(err)
	if !ok {
		return err
	}
	fe = fe.Renamed(fielderr.Names(keys))
	return &specError{Key: fe.Field, Check: s.Name, Err: errors.New(fe.Problem)}
}

// webKeys maps webmetric.Options fields to a check's keys.
var webKeys = map[string]string{"URL": "url", "Method": "method", "Headers": "headers", "Body": "body", "JSONPath": "json_path",
	"Timeout": "timeout_seconds", "Retries": "request_retries", "InsecureSkipVerify": "validate_certs", "CAFile": "ca_path",
	"ClientCertFile": "client_cert", "ClientKeyFile": "client_key"}

const userAgent = "threader.guard.slo_check"

// webQuerier is a web check's Querier. Its request timeout (unless the
// check sets timeout_seconds) and retries are the gate's, known only when
// every option is read: plan builds it again with them.
type webQuerier struct {
	opts       webmetric.Options
	timeoutSet bool
	src        *webmetric.Source
}

// build makes the Source with the gate's timeout and retries. Errors are
// *fielderr.Error values naming a webmetric.Options field.
func (w *webQuerier) build(timeout time.Duration, retries int) error {
	opts := w.opts
	if !w.timeoutSet {
		opts.Timeout = timeout
	}
	opts.Retries = retries
	src, err := webmetric.New(opts)
	if err != nil {
		return err
	}
	w.src = src
	return nil
}

// Query measures the value; the sample is stamped with the evaluation
// time, when it was measured.
func (w *webQuerier) Query(ctx context.Context, _ string, at time.Time) (slo.Answer, error) {
	v, err := w.src.Measure(ctx)
	if err != nil {
		return slo.Answer{}, err
	}
	return slo.Answer{Series: []slo.Series{{Samples: []slo.Sample{{Time: at, Value: v}}}}}, nil
}
