// Package canaryjudge is the threader.guard.canary_judge Ansible module and
// the canary_judge CLI: thin front ends that fetch each metric's canary and
// baseline series from Prometheus (range queries, internal/promapi), lay
// them on the step grid, and hand them to internal/canary, which judges
// them. Both front ends fill the same config and share plan (config →
// validated judgement plan), fetch (Prometheus → samples on the grid) and
// resultFields (verdict → result), so the module's result and the CLI's
// --json output are the same object.
//
// The rules of this layer, all fail closed:
//
//   - The interval is lookback (ending now) or start and end (RFC 3339),
//     exactly one form; end after start and not after now (steps in the
//     future have no data yet); at most maxPoints steps per query,
//     as Prometheus refuses more (11,000).
//   - Each query must return at most one series. No series is no data on
//     that side (every step NaN); two or more are an error of that metric
//     naming the query option (metrics[i].canary_query), never a choice of
//     one of them.
//   - A step with no point is NaN; the metric's nan_strategy decides what it
//     becomes. Two points on one step (a repeated timestamp, an answer at a
//     finer step than asked) are an error of that metric. A query that fails (HTTP error, timeout, an answer with
//     warnings, a non-finite value) makes its metric an error: the judge
//     classifies it error, and an error never passes.
//
// Options the judge checks (confidence, pass_score, group_weights,
// metrics[i].effect_size...) come back from internal/canary as
// *fielderr.Error already spelled like the module's options; the CLI
// renames them once, to name its config file.
package canaryjudge

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/threader/guard/internal/canary"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/promconn"
	"github.com/threader/guard/internal/promapi"
)

// Defaults.
const (
	defaultPrometheusURL  = "http://prometheus.local:9090"
	defaultStep           = "1m"
	defaultConfidence     = canary.DefaultConfidence
	defaultPassScore      = canary.DefaultPassScore
	defaultMarginalScore  = canary.DefaultMarginalScore
	defaultRequestTimeout = 10 * time.Second
	defaultRequestRetries = 3
	// maxPoints is Prometheus's limit of points per series of a range
	// query ("exceeded maximum resolution of 11,000 points per timeseries").
	maxPoints = 11000
	// maxRequestSeconds bounds request_timeout_seconds (about 31 years).
	maxRequestSeconds = 1e9
	// queryConcurrency is how many range queries run at once.
	queryConcurrency = 4
	userAgent        = "threader.guard.canary_judge"
)

// prometheusBackend is the Prometheus connection (options prometheus_*,
// shared with slo_check); its secrets fall back to
// CANARY_JUDGE_PROMETHEUS_BEARER_TOKEN and CANARY_JUDGE_PROMETHEUS_PASSWORD.
var prometheusBackend = promconn.Backend{Prefix: "prometheus", Title: "Prometheus", Env: "CANARY_JUDGE_PROMETHEUS_",
	DefaultURL: defaultPrometheusURL}

// metricSpec is one entry of the metrics option (module) or of the config
// file's metrics list (CLI).
type metricSpec struct {
	Name           string         `yaml:"name"`
	CanaryQuery    string         `yaml:"canary_query"`
	BaselineQuery  string         `yaml:"baseline_query"`
	Direction      string         `yaml:"direction"`
	NaNStrategy    string         `yaml:"nan_strategy"`
	Critical       bool           `yaml:"critical"`
	MustHaveData   bool           `yaml:"must_have_data"`
	Group          string         `yaml:"group"`
	EffectSize     effectSizeSpec `yaml:"effect_size"`
	Outliers       string         `yaml:"outliers"`
	MaxCanaryValue *float64       `yaml:"max_canary_value"`
}

type effectSizeSpec struct {
	Measure          string   `yaml:"measure"`
	AllowedIncrease  *float64 `yaml:"allowed_increase"`
	AllowedDecrease  *float64 `yaml:"allowed_decrease"`
	CriticalIncrease *float64 `yaml:"critical_increase"`
	CriticalDecrease *float64 `yaml:"critical_decrease"`
}

// The keys of a metric and of its effect_size, in the order the docs list
// them.
var (
	metricKeys = []string{"name", "canary_query", "baseline_query", "direction", "nan_strategy", "critical", "must_have_data",
		"group", "effect_size", "outliers", "max_canary_value"}
	effectSizeKeys = []string{"measure", "allowed_increase", "allowed_decrease", "critical_increase", "critical_decrease"}
)

func (s metricSpec) metric() canary.Metric {
	e := s.EffectSize
	return canary.Metric{Name: s.Name, Group: s.Group, Direction: canary.Direction(s.Direction),
		NaNStrategy: canary.NaNStrategy(s.NaNStrategy), Critical: s.Critical, MustHaveData: s.MustHaveData,
		EffectSize: canary.EffectSize{Measure: canary.Measure(e.Measure), AllowedIncrease: e.AllowedIncrease,
			AllowedDecrease: e.AllowedDecrease, CriticalIncrease: e.CriticalIncrease, CriticalDecrease: e.CriticalDecrease},
		Outliers: canary.Outliers(s.Outliers), MaxCanaryValue: s.MaxCanaryValue}
}

// config holds every option, already typed.
type config struct {
	prometheus     promconn.Config
	requestTimeout float64 // seconds
	requestRetries int

	lookback, start, end, step string

	metrics        []metricSpec
	groupWeights   map[string]float64
	confidence     float64
	passScore      float64
	marginalScore  float64
	failOnMarginal bool

	clock clock.Clock // nil: the wall clock
}

func defaultConfig() config {
	return config{prometheus: prometheusBackend.Default(), requestTimeout: defaultRequestTimeout.Seconds(),
		requestRetries: defaultRequestRetries, step: defaultStep, confidence: defaultConfidence,
		passScore: defaultPassScore, marginalScore: defaultMarginalScore, failOnMarginal: true}
}

// lowerDefaultMarginal keeps the default marginal_score at or below a
// pass_score set lower than it: pass_score 70 alone means marginal 70, not
// an error about marginal_score, which the user never set.
func (c *config) lowerDefaultMarginal(marginalGiven bool) {
	if !marginalGiven && c.marginalScore > c.passScore {
		c.marginalScore = c.passScore
	}
}

// namer turns a module option name into what the user wrote: the option
// itself for the module, a flag or a key of the config file for the CLI.
type namer func(option string) string

// plan is everything a judgement needs, checked.
type plan struct {
	interval       interval
	client         *promapi.Client
	opts           canary.Options
	specs          []metricSpec
	metrics        []canary.Metric
	failOnMarginal bool
}

// plan checks the options and builds the judgement plan. Errors name the
// option as name spells it.
func (c config) plan(name namer) (plan, error) {
	p := plan{failOnMarginal: c.failOnMarginal, specs: c.metrics}
	now := time.Now()
	if c.clock != nil {
		now = c.clock.Now()
	}
	var err error
	if p.interval, err = c.resolveInterval(now, name); err != nil {
		return p, err
	}
	if err := c.checkRequest(name); err != nil {
		return p, err
	}
	for i, s := range c.metrics {
		if err := s.check(i, name); err != nil {
			return p, err
		}
		p.metrics = append(p.metrics, s.metric())
	}
	// internal/canary reads PassScore and MarginalScore both 0 as "use the
	// defaults" (95 and 75): a pass_score of 0 would silently become 95.
	// It would pass every canary anyway; report-only is marginal_score 0
	// with fail_on_marginal false.
	if c.passScore == 0 {
		return p, fmt.Errorf("%s must be greater than 0: a score of 0 would pass every canary (to report without failing, "+
			"set %s 0 and %s false)", name("pass_score"), name("marginal_score"), name("fail_on_marginal"))
	}
	p.opts = canary.Options{Confidence: c.confidence, PassScore: c.passScore, MarginalScore: c.marginalScore,
		GroupWeights: c.groupWeights}
	// The judge's own options are checked (and named) by the judge, before
	// any query is sent.
	if err := canary.Validate(p.opts, p.metrics); err != nil {
		return p, judgeError(err, name)
	}
	p.client, err = prometheusBackend.Client(promapi.Prometheus, c.prometheus, promconn.Request{
		Timeout: time.Duration(c.requestTimeout * float64(time.Second)), Retries: c.requestRetries, UserAgent: userAgent}, name)
	if err != nil {
		return p, err
	}
	return p, nil
}

// judgeError names the judge's field as the front end spells it.
func judgeError(err error, name namer) error {
	if _, ok := fielderr.As(err); ok {
		return errors.New(fielderr.Rename(err, name))
	}
	return err
}

// check refuses what the judge does not look at: empty queries and a name
// that cannot be a metric label. The judge checks the rest (choices,
// bounds, unique names) in plan.
func (s metricSpec) check(i int, name namer) error {
	key := func(k string) string { return name(fmt.Sprintf("metrics[%d].%s", i, k)) }
	if err := observe.CheckLabel(key("name"), s.Name); err != nil { // the `metric` label of the metrics
		return err
	}
	// In this order, so the same input always names the same key.
	for _, q := range [...]struct{ key, query string }{{"canary_query", s.CanaryQuery}, {"baseline_query", s.BaselineQuery}} {
		if strings.TrimSpace(q.query) == "" {
			return fmt.Errorf("%s is required (metric %q)", key(q.key), s.Name)
		}
	}
	return nil
}

func (c config) checkRequest(name namer) error {
	t := c.requestTimeout
	switch {
	case math.IsNaN(t) || math.IsInf(t, 0) || t < 0.001 || t > maxRequestSeconds:
		return fmt.Errorf("%s must be between 0.001 and %v seconds, got %v", name("request_timeout_seconds"), float64(maxRequestSeconds), t)
	case c.requestRetries < 0:
		return fmt.Errorf("%s must be 0 or greater, got %d", name("request_retries"), c.requestRetries)
	}
	return nil
}

// interval is the range every query covers: start, start+step, ... up to
// end.
type interval struct {
	start, end time.Time
	step       time.Duration
}

// points is the number of steps on the grid.
func (iv interval) points() int { return int(iv.end.Sub(iv.start)/iv.step) + 1 }

// resolveInterval checks lookback, start, end and step and returns the
// interval. lookback ends at now (to the second).
func (c config) resolveInterval(now time.Time, name namer) (interval, error) {
	var iv interval
	step, err := parseDuration(c.step)
	if err != nil {
		return iv, fmt.Errorf("%s %v", name("step"), err)
	}
	iv.step = step
	lookback, start, end := strings.TrimSpace(c.lookback), strings.TrimSpace(c.start), strings.TrimSpace(c.end)
	switch {
	case lookback != "" && (start != "" || end != ""):
		other := "start"
		if start == "" {
			other = "end"
		}
		return iv, fmt.Errorf("%s and %s are mutually exclusive: give %s (ending now) or %s and %s",
			name("lookback"), name(other), name("lookback"), name("start"), name("end"))
	case lookback != "":
		d, err := parseDuration(lookback)
		if err != nil {
			return iv, fmt.Errorf("%s %v", name("lookback"), err)
		}
		iv.end = now.UTC().Truncate(time.Second)
		iv.start = iv.end.Add(-d)
	case start == "" && end == "":
		return iv, fmt.Errorf("the interval is missing: give %s (e.g. 30m, ending now) or %s and %s (RFC 3339)",
			name("lookback"), name("start"), name("end"))
	case start == "" || end == "":
		missing, given := "start", "end"
		if end == "" {
			missing, given = "end", "start"
		}
		return iv, fmt.Errorf("%s is required with %s", name(missing), name(given))
	default:
		if iv.start, err = parseTime(start); err != nil {
			return iv, fmt.Errorf("%s %v", name("start"), err)
		}
		if iv.end, err = parseTime(end); err != nil {
			return iv, fmt.Errorf("%s %v", name("end"), err)
		}
		if !iv.end.After(iv.start) {
			return iv, fmt.Errorf("%s %s must be after %s %s", name("end"), end, name("start"), start)
		}
		// Steps after now have no data yet: Prometheus repeats the last
		// sample for 5 minutes, then leaves them out, and nan_strategy
		// replace would turn them into zeros on both sides that drown
		// the real difference.
		if iv.end.After(now) {
			return iv, fmt.Errorf("%s %s is in the future (now is %s): the steps after now have no data yet; "+
				"give an end that has passed, or %s", name("end"), end, now.UTC().Format(time.RFC3339), name("lookback"))
		}
	}
	if iv.step > iv.end.Sub(iv.start) {
		return iv, fmt.Errorf("%s %s is longer than the interval (%s): each side would have one point", name("step"),
			model.Duration(iv.step), model.Duration(iv.end.Sub(iv.start)))
	}
	if steps := iv.end.Sub(iv.start) / iv.step; steps > maxPoints {
		return iv, fmt.Errorf("the interval of %s at %s %s has %d steps, more than the %d points Prometheus answers per query: "+
			"use a larger %s or a shorter interval", model.Duration(iv.end.Sub(iv.start)), name("step"), model.Duration(iv.step),
			steps, maxPoints, name("step"))
	}
	return iv, nil
}

// parseDuration accepts a Prometheus duration such as 30m, 1h30m or 90s.
func parseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 1h or 90s", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be greater than 0, got %q", s)
	}
	return time.Duration(d), nil
}

// parseTime accepts an RFC 3339 time such as 2026-11-29T17:00:00Z.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-29T17:00:00Z", s)
	}
	return t.UTC(), nil
}

// weights converts the group_weights values, in the order of their names,
// so that the same input always names the same bad group.
func weights(raw map[string]any, name namer) (map[string]float64, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := map[string]float64{}
	for _, group := range slices.Sorted(maps.Keys(raw)) {
		w, err := weight(group, raw[group], name)
		if err != nil {
			return nil, err
		}
		out[group] = w
	}
	return out, nil
}

// weight converts a group_weights value: a number, or text that is one.
func weight(group string, v any, name namer) (float64, error) {
	switch w := v.(type) {
	case float64:
		return w, nil
	case int:
		return float64(w), nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(w), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s must be a number, got %v", name("group_weights."+group), v)
}
