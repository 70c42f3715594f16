package slocheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/promconn"
	"github.com/threader/guard/internal/seconds"
)

// spec adds metrics_textfile and pushgateway_url (observe.WithOptions); name
// is the `name` label of the metrics and name= of the log lines.
var spec = ansiblemod.Spec{
	Options: observe.WithOptions(ansiblemod.MergeOptions(
		map[string]ansiblemod.Option{
			"job":                    {Type: ansiblemod.Str, Default: defaultJob},
			"window":                 {Type: ansiblemod.Str, Default: defaultWindow},
			"max_5xx_ratio":          {Type: ansiblemod.Float, Default: defaultMax5xxRatio},
			"min_health_ratio":       {Type: ansiblemod.Float, Default: defaultMinHealthRatio},
			"max_error_logs_per_min": {Type: ansiblemod.Float, Default: defaultMaxErrorLogs},
			"error_log_regex":        {Type: ansiblemod.Str, Default: defaultErrorLogRegex},
			"default_checks":         {Type: ansiblemod.Bool, Default: true},
			"checks": {Type: ansiblemod.List, Elements: ansiblemod.Dict, Options: map[string]ansiblemod.Option{
				"name":              {Type: ansiblemod.Str, Required: true},
				"source":            {Type: ansiblemod.Str, Default: "prometheus", Choices: []any{"prometheus", "loki", "victorialogs", "web"}},
				"query":             {Type: ansiblemod.Str},
				"max":               {Type: ansiblemod.Float},
				"min":               {Type: ansiblemod.Float},
				"on_empty":          {Type: ansiblemod.Str, Default: "fail", Choices: []any{"fail", "pass"}},
				"success_condition": {Type: ansiblemod.Str},
				"failure_condition": {Type: ansiblemod.Str},
				"dry_run":           {Type: ansiblemod.Bool, Default: false},
				"url":               {Type: ansiblemod.Str},
				"method":            {Type: ansiblemod.Str, Choices: []any{"GET", "POST"}},
				"headers":           {Type: ansiblemod.Dict, NoLogValues: true},
				"body":              {Type: ansiblemod.Str, NoLog: true},
				"json_path":         {Type: ansiblemod.Str},
				"timeout_seconds":   {Type: ansiblemod.Float},
				"validate_certs":    {Type: ansiblemod.Bool},
				"ca_path":           {Type: ansiblemod.Path},
				"client_cert":       {Type: ansiblemod.Path},
				"client_key":        {Type: ansiblemod.Path},
			}, RequiredOneOf: [][]string{{"max", "min", "success_condition", "failure_condition"}},
				RequiredIf: []ansiblemod.RequiredIf{
					{Key: "source", Value: "prometheus", Requirements: []string{"query"}},
					{Key: "source", Value: "loki", Requirements: []string{"query"}},
					{Key: "source", Value: "victorialogs", Requirements: []string{"query"}},
					{Key: "source", Value: "web", Requirements: []string{"url", "json_path"}},
				}},
			"failure_limit":           {Type: ansiblemod.Int, Default: defaultFailureLimit},
			"inconclusive_limit":      {Type: ansiblemod.Int, Default: defaultInconclusiveLimit},
			"consecutive_error_limit": {Type: ansiblemod.Int, Default: defaultConsecutiveErrorLimit},
			"initial_delay_seconds":   {Type: ansiblemod.Float, Default: 0.0},
			"fail_on_inconclusive":    {Type: ansiblemod.Bool, Default: true},
			"measurement_retention":   {Type: ansiblemod.Int, Default: defaultRetention},
			"interval_seconds":        {Type: ansiblemod.Float, Default: 0.0},
			"consecutive":             {Type: ansiblemod.Int, Default: 1},
			"timeout_seconds":         {Type: ansiblemod.Float, Default: defaultTimeout.Seconds()},
			"request_timeout_seconds": {Type: ansiblemod.Float, Default: defaultRequestTimeout.Seconds()},
			"request_retries":         {Type: ansiblemod.Int, Default: defaultRequestRetries},
			"fail_on_violation":       {Type: ansiblemod.Bool, Default: true},
			"accept_warnings":         {Type: ansiblemod.Bool, Default: false},
			"name":                    {Type: ansiblemod.Str},
		},
		prometheusBackend.Options(),
		lokiBackend.Options(),
		victoriaLogsBackend.Options(),
	)),
	SupportsCheckMode: true,
}

// The backends' connection options (internal/modules/promconn, shared
// with canary_judge); their secrets fall back to SLO_CHECK_PREFIX_BEARER_TOKEN
// and SLO_CHECK_PREFIX_PASSWORD.
var (
	prometheusBackend = promconn.Backend{Prefix: "prometheus", Title: "Prometheus", Env: "SLO_CHECK_PROMETHEUS_",
		DefaultURL: defaultPrometheusURL}
	lokiBackend = promconn.Backend{Prefix: "loki", Title: "Loki", Env: "SLO_CHECK_LOKI_", DefaultURL: defaultLokiURL,
		URLHelp: " (empty: no error-log check on Loki)"}
	victoriaLogsBackend = promconn.Backend{Prefix: "victorialogs", Title: "VictoriaLogs", Env: "SLO_CHECK_VICTORIALOGS_",
		URLHelp: " (the error-log check runs there unless --loki-url is given)", AccountTenant: true}
)

// Module is slo_check as the dispatcher runs it.
var Module = ansiblemod.Program{Name: moduleName, Spec: spec, Handler: runModule, CLI: runCLI}

// optionName leaves option names as they are: the module's errors name options.
func optionName(option string) string { return option }

func runModule(m *ansiblemod.Module) (ansiblemod.Result, error) {
	cfg, err := moduleConfig(m)
	if err != nil {
		return nil, err
	}
	p, err := cfg.plan(optionName)
	if err != nil {
		return nil, err
	}
	obs, err := observe.Begin(m) // checks name, metrics_textfile, pushgateway_url
	if err != nil {
		return nil, err
	}
	defer obs.FinishModule(m) // publishes unless in check mode; a failure is a warning
	for _, w := range p.warnings {
		m.Warn("%s", w)
	}
	observeEvaluations(&p.gate, obs)
	// The gate only reads, so check mode runs it for real: "changed" is
	// always false and the answer is the same as without --check. Its
	// evaluations are logged, but check mode publishes no metrics.
	rep, err := p.gate.Run(context.Background())
	if err != nil {
		return nil, err
	}
	for _, w := range rep.Last.Warnings() {
		m.Warn("%s", w)
	}
	res := ansiblemod.Result(resultFields(rep))
	res["changed"] = false
	if !rep.Passed && cfg.failOnViolation {
		return res, errors.New(rep.Msg)
	}
	return res, nil
}

func moduleConfig(m *ansiblemod.Module) (config, error) {
	c := defaultConfig()
	c.prometheus = prometheusBackend.FromModule(m)
	c.loki = lokiBackend.FromModule(m)
	c.victorialogs = victoriaLogsBackend.FromModule(m)
	c.lokiGiven = m.Provided("loki_url")
	c.job, c.window = m.Str("job"), m.Str("window")
	c.max5xx, c.minHealth, c.maxErrLogs = m.Float("max_5xx_ratio"), m.Float("min_health_ratio"), m.Float("max_error_logs_per_min")
	c.errorLogRegex = m.Str("error_log_regex")
	c.defaultChecks = m.Bool("default_checks")
	for option, dst := range map[string]*time.Duration{
		"interval_seconds": &c.interval, "timeout_seconds": &c.timeout, "request_timeout_seconds": &c.requestTimeout,
		"initial_delay_seconds": &c.initialDelay,
	} {
		convert := seconds.Duration // 0: none (no polling, no delay)
		if option == "request_timeout_seconds" {
			convert = seconds.Positive
		}
		d, err := convert(option, m.Float(option))
		if err != nil {
			return c, err
		}
		*dst = d
	}
	c.consecutive = m.Int("consecutive")
	c.requestRetries = m.Int("request_retries")
	c.failOnViolation = m.Bool("fail_on_violation")
	c.acceptWarnings = m.Bool("accept_warnings")
	c.failureLimit, c.inconclusiveLimit = m.Int("failure_limit"), m.Int("inconclusive_limit")
	c.consecutiveErrorLimit, c.retention = m.Int("consecutive_error_limit"), m.Int("measurement_retention")
	c.failOnInconclusive = m.Bool("fail_on_inconclusive")
	for i, raw := range m.List("checks") {
		d, _ := raw.(map[string]any)
		s := checkSpec{Name: str(d["name"]), Source: str(d["source"]), Query: str(d["query"]), OnEmpty: str(d["on_empty"]),
			SuccessCondition: optionalStr(d["success_condition"]), FailureCondition: optionalStr(d["failure_condition"])}
		s.Max, s.Min = float(d["max"]), float(d["min"])
		s.DryRun, _ = d["dry_run"].(bool)
		s.URL, s.Method, s.Body, s.JSONPath = str(d["url"]), str(d["method"]), str(d["body"]), str(d["json_path"])
		s.TimeoutSeconds = float(d["timeout_seconds"])
		s.CAPath, s.ClientCert, s.ClientKey = str(d["ca_path"]), str(d["client_cert"]), str(d["client_key"])
		if v, ok := d["validate_certs"].(bool); ok {
			s.ValidateCerts = &v
		}
		if h, ok := d["headers"].(map[string]any); ok {
			s.Headers = map[string]string{}
			for k, v := range h {
				s.Headers[k] = fmt.Sprint(v)
			}
		}
		// The name becomes the `check` label of the metrics.
		if err := observe.CheckLabel(fmt.Sprintf("checks[%d].name", i), s.Name); err != nil {
			return c, err
		}
		ch, err := s.check()
		var se *specError
		if errors.As(err, &se) {
			return c, fmt.Errorf("checks[%d].%s (check %q) %v", i, se.Key, se.Check, se.Err)
		}
		if err != nil {
			return c, fmt.Errorf("checks[%d]: %v", i, err)
		}
		c.checks = append(c.checks, ch)
	}
	return c, nil
}

func str(v any) string { s, _ := v.(string); return s }

// optionalStr is nil for an option that was not given.
func optionalStr(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

func float(v any) *float64 {
	if f, ok := v.(float64); ok {
		return &f
	}
	return nil
}
