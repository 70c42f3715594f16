// Package metrics records what one run of a module did as Prometheus gauges
// and publishes them the two ways batch jobs use: a file for the
// node_exporter textfile collector, and a push to a Pushgateway.
//
// A module creates one Recorder per run, calls the Record methods for what
// happened, and calls Publish once at the end:
//
//	rec, err := metrics.New(metrics.Options{Module: "retry_command", Name: name, Mask: m.Mask})
//	...
//	rec.RecordRetry(metrics.RetryRun{Attempts: 3, MaxAttempts: 5, Outcome: metrics.OutcomeSuccess, ...})
//	err = rec.Publish(ctx, textfilePath, pushgatewayURL) // either may be ""
//
// Each Recorder has its own registry, so nothing global is exported and only
// the families a run recorded are published. The metric set is fixed and
// documented (Families, docs/metrics.md); every series carries the user-given
// `name` label and nothing that could hold a secret or a command line.
package metrics

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/threader/guard/internal/clock"
)

// MaxLabelValueBytes bounds the user-given values that become labels
// (name, check): long values are almost always a command or a query pasted
// where a short name was meant.
const MaxLabelValueBytes = 128

// Options configure a Recorder. Only Module is required.
type Options struct {
	// Module is the module or CLI name ("qos_guard", "retry_command",
	// "slo_check"). It is the Pushgateway job.
	Module string
	// Name is the user-given name of what this run is about (the `name`
	// option). It becomes the `name` label on every series and part of the
	// Pushgateway grouping key. Empty means Module.
	Name string
	// Instance is the `instance` label of the Pushgateway grouping key, so
	// runs on different hosts do not overwrite each other. Empty means the
	// host name. It is not written to the textfile (node_exporter's own
	// target labels say which host a textfile series came from).
	Instance string
	// Mask hides no_log values: every label value passes through it, and a
	// value it changes is kept masked (ansiblemod's Module.Mask fits). Nil
	// masks nothing.
	Mask func(string) string
	// Clock stamps the *_timestamp_seconds gauges. Nil means the wall clock.
	Clock clock.Clock
	// PushTimeout bounds one push to the Pushgateway when the context given
	// to Publish has no deadline. Zero means 10 seconds.
	PushTimeout time.Duration
}

// Recorder holds the metrics of one run. Its methods are safe for concurrent
// use. Record methods never fail: a bad value (an invalid check name, an
// unknown outcome) is remembered and returned by Publish, so a module's
// wiring stays one line per event.
type Recorder struct {
	module, name, instance string
	mask                   func(string) string
	clock                  clock.Clock
	pushTimeout            time.Duration
	reg                    *prometheus.Registry
	gauges                 map[string]*prometheus.GaugeVec
	counters               map[string]*prometheus.CounterVec

	mu                 sync.Mutex
	errs               []error
	breakGlassRecorded bool
}

// New returns a Recorder with an empty registry. It fails only when Module
// is empty or Name, after masking, is not a usable label value.
func New(opts Options) (*Recorder, error) {
	if strings.TrimSpace(opts.Module) == "" {
		return nil, errors.New("metrics: Options.Module is required (the module name, used as the Pushgateway job)")
	}
	r := &Recorder{
		module: opts.Module, mask: opts.Mask, clock: opts.Clock, pushTimeout: opts.PushTimeout,
		reg: prometheus.NewRegistry(), gauges: map[string]*prometheus.GaugeVec{}, counters: map[string]*prometheus.CounterVec{},
	}
	if r.mask == nil {
		r.mask = func(s string) string { return s }
	}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.pushTimeout <= 0 {
		r.pushTimeout = 10 * time.Second
	}
	name := opts.Name
	if name == "" {
		name = opts.Module
	}
	var err error
	if r.name, err = r.labelValue("name", name); err != nil {
		return nil, err
	}
	instance := opts.Instance
	if instance == "" {
		if instance, err = os.Hostname(); err != nil || instance == "" {
			instance = "localhost"
		}
	}
	if r.instance, err = r.labelValue("instance", instance); err != nil {
		return nil, err
	}
	for _, f := range familyDefs {
		if counters[f.Name] {
			c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: f.Name, Help: f.Help}, f.Labels)
			r.reg.MustRegister(c) // fixed, valid definitions: cannot fail
			r.counters[f.Name] = c
			continue
		}
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: f.Name, Help: f.Help}, f.Labels)
		r.reg.MustRegister(g)
		r.gauges[f.Name] = g
	}
	return r, nil
}

// Name is the masked `name` label value every series carries.
func (r *Recorder) Name() string { return r.name }

// Gatherer exposes the run's registry (without the `name` label, which
// Publish adds), for tests and for callers with their own exposition.
func (r *Recorder) Gatherer() prometheus.Gatherer { return r.reg }

// GuardState is the guard as a run left it.
type GuardState struct {
	Locked    bool
	LockedAt  time.Time // when the current lock was taken; zero if unlocked or unknown
	ExpiresAt time.Time // when the current lock expires; zero if unlocked
	// Changed is true when this run took, extended or released the lock
	// (not in check mode, where nothing changes).
	Changed bool
}

// RecordGuard records the guard-window state.
func (r *Recorder) RecordGuard(s GuardState) {
	now := r.clock.Now()
	r.set(GuardLocked, boolValue(s.Locked))
	lockedAt, expiry := time.Time{}, time.Time{}
	if s.Locked {
		lockedAt, expiry = s.LockedAt, s.ExpiresAt
	}
	r.set(GuardLockedAt, unixOrZero(lockedAt))
	r.set(GuardLockExpiry, unixOrZero(expiry))
	r.set(GuardLastEvaluation, unix(now))
	if s.Changed {
		r.set(GuardLastChange, unix(now))
	}
}

// RecordFreeze records whether a freeze window is active (status runs).
func (r *Recorder) RecordFreeze(frozen bool) {
	r.set(GuardFrozen, boolValue(frozen))
}

// RecordBreakGlassTotal records the number of break-glass uses the guard's
// audit log holds. The registry is the run's own, so adding to zero sets
// the counter to the log's count; only the first call of a run counts.
func (r *Recorder) RecordBreakGlassTotal(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < 0 || r.breakGlassRecorded {
		return
	}
	r.breakGlassRecorded = true
	r.counters[GuardBreakGlassTotal].WithLabelValues().Add(float64(n))
}

// RetryRun is what one run of a retried command did.
type RetryRun struct {
	Attempts    int           // attempts made (>= 1 once anything ran)
	MaxAttempts int           // configured limit; 0 = unlimited
	Outcome     Outcome       // how the run ended
	ExitCode    int           // exit code of the last attempt; -1 = none (killed, timed out, not started)
	Delay       time.Duration // total time slept between attempts
	Duration    time.Duration // whole run, first attempt to outcome
}

// RecordRetry records a finished run of a retried command. Per-attempt
// detail belongs in the log (logging.Logger.RetryAttempt), not in metrics.
func (r *Recorder) RecordRetry(run RetryRun) {
	if !run.Outcome.valid() {
		r.fail(fmt.Errorf("metrics: retry outcome %q is not one of %v", run.Outcome, Outcomes()))
		return
	}
	now := unix(r.clock.Now())
	r.set(RetryAttempts, float64(run.Attempts))
	r.set(RetryMaxAttempts, float64(run.MaxAttempts))
	r.set(RetryDelay, run.Delay.Seconds())
	r.set(RetryDuration, run.Duration.Seconds())
	r.set(RetryLastExitCode, float64(run.ExitCode))
	r.setOutcome(RetryLastOutcome, run.Outcome)
	r.set(RetryLastRun, now)
	if run.Outcome == OutcomeSuccess {
		r.set(RetryLastSuccess, now)
	} else {
		r.set(RetryLastFailure, now)
	}
}

// RecordSLOCheck records one SLO check's evaluation. check is the check's
// user-given name (never its query); value may be NaN when the query gave
// no usable value. Call it once per check.
func (r *Recorder) RecordSLOCheck(check string, value, threshold float64, passed bool) {
	label, err := r.labelValue("SLO check name", check)
	if err != nil {
		r.fail(err)
		return
	}
	now := unix(r.clock.Now())
	r.set(SLOCheckValue, value, label)
	r.set(SLOCheckThreshold, threshold, label)
	r.set(SLOCheckPassed, boolValue(passed), label)
	r.set(SLOCheckLastEval, now, label)
}

// CanaryJudgement is what one canary judgement decided.
type CanaryJudgement struct {
	Score          float64
	Classification string // one of CanaryClassifications()
	Metrics        []CanaryMetric
}

// CanaryMetric is one metric's classification in a judgement.
type CanaryMetric struct {
	Name           string // the metric's user-given name (never its query)
	Classification string // one of CanaryMetricClassifications()
}

// RecordCanaryJudgement records a canary judgement: its score, its
// classification and each metric's (every classification series is
// written, 1 for the one that happened, so `== 1` never sees a stale one).
func (r *Recorder) RecordCanaryJudgement(j CanaryJudgement) {
	if !slices.Contains(CanaryClassifications(), j.Classification) {
		r.fail(fmt.Errorf("metrics: canary classification %q is not one of %v", j.Classification, CanaryClassifications()))
		return
	}
	for _, m := range j.Metrics {
		if !slices.Contains(CanaryMetricClassifications(), m.Classification) {
			r.fail(fmt.Errorf("metrics: canary metric classification %q is not one of %v", m.Classification, CanaryMetricClassifications()))
			return
		}
	}
	r.set(CanaryScore, j.Score)
	for _, c := range CanaryClassifications() {
		r.set(CanaryClassification, boolValue(c == j.Classification), c)
	}
	for _, m := range j.Metrics {
		label, err := r.labelValue("canary metric name", m.Name)
		if err != nil {
			r.fail(err)
			continue
		}
		for _, c := range CanaryMetricClassifications() {
			r.set(CanaryMetricClassification, boolValue(c == m.Classification), label, c)
		}
	}
	r.set(CanaryLastJudgement, unix(r.clock.Now()))
}

// RecordRollback records a finished rollback attempt.
func (r *Recorder) RecordRollback(outcome Outcome, took time.Duration) {
	if !outcome.valid() {
		r.fail(fmt.Errorf("metrics: rollback outcome %q is not one of %v", outcome, Outcomes()))
		return
	}
	now := unix(r.clock.Now())
	r.setOutcome(RollbackLastOutcome, outcome)
	r.set(RollbackLastAttempt, now)
	r.set(RollbackDuration, took.Seconds())
	if outcome == OutcomeSuccess {
		r.set(RollbackLastSuccess, now)
	} else {
		r.set(RollbackLastFailure, now)
	}
}

func (r *Recorder) set(family string, v float64, labels ...string) {
	r.gauges[family].WithLabelValues(labels...).Set(v) // label counts are fixed by the callers above
}

func (r *Recorder) setOutcome(family string, got Outcome) {
	for _, o := range Outcomes() {
		r.set(family, boolValue(o == got), string(o))
	}
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *Recorder) recordErrors() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

// LabelValueError is a value that cannot be a label value. It names what
// the value is in this package's words (Label: "name", "instance", "SLO
// check name"); a module or CLI names it as its own option with Describe.
type LabelValueError struct {
	Label   string
	Shown   string // the masked value as shown in messages (quoted, shortened); "" when empty
	Problem string // e.g. "contains control characters"
}

func (e *LabelValueError) Error() string { return "metrics: " + e.Describe(e.Label) }

// Describe writes the problem with the value named as what:
// `checks[0].name "a\tb" contains control characters`.
func (e *LabelValueError) Describe(what string) string {
	if e.Shown == "" {
		return what + " " + e.Problem
	}
	return what + " " + e.Shown + " " + e.Problem
}

// labelValue masks v and checks it is a short, printable, valid UTF-8 label
// value. Errors show the masked value only.
func (r *Recorder) labelValue(label, v string) (string, error) {
	masked := r.mask(v)
	bad := func(shown, problem string) (string, error) {
		return "", &LabelValueError{Label: label, Shown: shown, Problem: problem}
	}
	switch {
	case strings.TrimSpace(masked) == "":
		return bad("", "must not be empty")
	case !utf8.ValidString(masked):
		return bad(fmt.Sprintf("%q", masked), "is not valid UTF-8")
	case len(masked) > MaxLabelValueBytes:
		return bad(fmt.Sprintf("%.40q...", masked), fmt.Sprintf(
			"is %d bytes; label values are limited to %d bytes: use a short name, not a command or a query", len(masked), MaxLabelValueBytes))
	case strings.IndexFunc(masked, unicode.IsControl) >= 0:
		return bad(fmt.Sprintf("%q", masked), "contains control characters")
	}
	return masked, nil
}

// ValidateName reports whether name would be accepted as the `name` label
// (or a check name), so modules can reject a bad option before doing work.
// The error is a *LabelValueError.
func ValidateName(name string) error {
	r := Recorder{mask: func(s string) string { return s }}
	_, err := r.labelValue(LabelName, name)
	return err
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func unixOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return unix(t)
}
