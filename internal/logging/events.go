package logging

import (
	"strings"
	"time"
)

// The events modules log. Each helper writes one line with a fixed event
// name and fixed keys, so the lines can be searched and parsed the same way
// from every module (docs/metrics.md lists them).
const (
	EventRetryAttempt  = "retry_attempt"
	EventRetryFinished = "retry_finished"
	EventGuardChange   = "guard_state_change"
	EventSLOEvaluation = "slo_evaluation"
	EventRollback      = "rollback"
	EventBreakGlass    = "guard_break_glass"
	EventCanaryMetric  = "canary_metric"
	EventCanaryVerdict = "canary_judgement"
)

// RetryAttempt is one finished attempt of a retried command and what the
// loop does next.
type RetryAttempt struct {
	Attempt     int           // 1-based
	MaxAttempts int           // 0 = unlimited
	ExitCode    int           // -1 when the command did not exit normally
	Took        time.Duration // how long the attempt ran
	Succeeded   bool
	Retry       bool          // another attempt follows
	NextDelay   time.Duration // the wait before it, when Retry
	Stop        string        // why the loop ends, when !Retry (e.g. "exhausted", "deadline")
	Err         error         // what went wrong, if anything (masked like every value)
}

// RetryAttempt logs an attempt: info when it succeeded, warning otherwise.
func (l *Logger) RetryAttempt(a RetryAttempt) error {
	level, next := LevelWarning, "give_up"
	switch {
	case a.Succeeded:
		level, next = LevelInfo, "done"
	case a.Retry:
		next = "retry"
	}
	fields := []Field{F("attempt", a.Attempt), F("max_attempts", a.MaxAttempts), F("exit_code", a.ExitCode),
		F("took_seconds", a.Took), F("next", next)}
	if a.Retry {
		fields = append(fields, F("delay_seconds", a.NextDelay))
	}
	if !a.Succeeded && !a.Retry && a.Stop != "" {
		fields = append(fields, F("stop", a.Stop))
	}
	if a.Err != nil {
		fields = append(fields, F("error", a.Err))
	}
	return l.Event(level, EventRetryAttempt, fields...)
}

// RetryFinished is the outcome of a whole retried run.
type RetryFinished struct {
	Outcome  string // metrics.Outcome values: success, failure, timeout
	Attempts int
	ExitCode int
	Delay    time.Duration // total time waited between attempts
	Took     time.Duration
	Stop     string // the loop's stop reason
}

// RetryFinished logs the end of a retried run: info on success, error otherwise.
func (l *Logger) RetryFinished(r RetryFinished) error {
	level := LevelError
	if r.Outcome == "success" {
		level = LevelInfo
	}
	return l.Event(level, EventRetryFinished, F("outcome", r.Outcome), F("attempts", r.Attempts),
		F("exit_code", r.ExitCode), F("delay_seconds", r.Delay), F("took_seconds", r.Took), optional("stop", r.Stop))
}

// GuardChange is a guard-window state change (lock taken, extended,
// released, or found expired).
type GuardChange struct {
	From, To  string // "locked" / "unlocked"
	Action    string // what changed it: "lock", "extend", "unlock", ...
	LockedAt  time.Time
	ExpiresAt time.Time
	Reason    string // the lock's reason, masked like every value
	Owner     string
	Hold      bool // the lock is a hold: a deployment in progress
	CheckMode bool // the change was only planned (--check)
}

// GuardChange logs a guard state change at notice level.
func (l *Logger) GuardChange(c GuardChange) error {
	return l.Event(LevelNotice, EventGuardChange, F("from", c.From), F("to", c.To), optional("action", c.Action),
		timeField("locked_at", c.LockedAt), timeField("expires_at", c.ExpiresAt),
		optional("reason", c.Reason), optional("owner", c.Owner), flagField("hold", c.Hold), F("check_mode", c.CheckMode))
}

// BreakGlass is a deployment let past a locked or frozen guard.
type BreakGlass struct {
	Guard   string   // the lock file or etcd key
	Owner   string   // who broke the glass
	Reason  string   // why (required)
	Lock    string   // the reason of the lock overridden; empty if none or not locked
	Locked  bool     // a lock was overridden
	Windows []string // the freeze windows overridden
}

// BreakGlass logs a break-glass use at warning level.
func (l *Logger) BreakGlass(b BreakGlass) error {
	return l.Event(LevelWarning, EventBreakGlass, F("guard", b.Guard), optional("owner", b.Owner), optional("reason", b.Reason),
		F("locked", b.Locked), optional("lock_reason", b.Lock), optional("windows", strings.Join(b.Windows, ",")))
}

// SLOEvaluation is one SLO check's result.
type SLOEvaluation struct {
	Check      string // the check's name (not its query)
	Value      float64
	Comparison string // e.g. "<=", ">="
	Threshold  float64
	Passed     bool
	// Evaluation numbers the evaluations of one polling run from 1; 0
	// leaves the key out.
	Evaluation int
	Samples    int   // series/points the query returned, when known
	Err        error // why no usable value was obtained, if so
}

// SLOEvaluation logs a check: info when it passed, warning when it did not.
func (l *Logger) SLOEvaluation(e SLOEvaluation) error {
	level := LevelWarning
	if e.Passed {
		level = LevelInfo
	}
	fields := []Field{F("check", e.Check), F("value", e.Value), optional("comparison", e.Comparison),
		F("threshold", e.Threshold), F("passed", e.Passed)}
	if e.Evaluation > 0 {
		fields = append(fields, F("evaluation", e.Evaluation))
	}
	if e.Samples > 0 {
		fields = append(fields, F("samples", e.Samples))
	}
	if e.Err != nil {
		fields = append(fields, F("error", e.Err))
	}
	return l.Event(level, EventSLOEvaluation, fields...)
}

// CanaryMetric is one metric's outcome in a canary judgement.
type CanaryMetric struct {
	Metric         string // the metric's name (not its queries)
	Classification string
	Critical       bool
	CanaryCount    int
	BaselineCount  int
	Estimate       float64 // NaN when the test did not run
	EffectSize     float64
	Reason         string
}

// CanaryMetric logs a metric: info when it passed, warning otherwise.
func (l *Logger) CanaryMetric(m CanaryMetric) error {
	level := LevelWarning
	if m.Classification == "pass" {
		level = LevelInfo
	}
	return l.Event(level, EventCanaryMetric, F("metric", m.Metric), F("classification", m.Classification),
		F("critical", m.Critical), F("canary_count", m.CanaryCount), F("baseline_count", m.BaselineCount),
		F("estimate", m.Estimate), F("effect_size", m.EffectSize), optional("reason", m.Reason))
}

// CanaryJudgement is a whole canary judgement.
type CanaryJudgement struct {
	Score          float64
	Classification string // pass, marginal, fail
	Decisive       []string
	Start, End     time.Time
	Step           time.Duration
}

// CanaryJudgement logs a judgement: info when it passed, warning when
// marginal, error when it failed.
func (l *Logger) CanaryJudgement(j CanaryJudgement) error {
	level, known := map[string]Level{"pass": LevelInfo, "marginal": LevelWarning}[j.Classification]
	if !known {
		level = LevelError
	}
	return l.Event(level, EventCanaryVerdict, F("score", j.Score), F("classification", j.Classification),
		optional("decisive", strings.Join(j.Decisive, ",")), timeField("start", j.Start), timeField("end", j.End),
		F("step_seconds", j.Step))
}

// Rollback is a finished rollback attempt.
type Rollback struct {
	Outcome  string // success, failure, timeout
	Trigger  string // why it ran, e.g. the failed check's name
	ExitCode int
	Took     time.Duration
	Err      error
}

// Rollback logs a rollback: notice on success, error otherwise.
func (l *Logger) Rollback(r Rollback) error {
	level := LevelError
	if r.Outcome == "success" {
		level = LevelNotice
	}
	fields := []Field{F("outcome", r.Outcome), optional("trigger", r.Trigger), F("exit_code", r.ExitCode), F("took_seconds", r.Took)}
	if r.Err != nil {
		fields = append(fields, F("error", r.Err))
	}
	return l.Event(level, EventRollback, fields...)
}

// optional drops an empty string field (a nil Value is skipped by Format).
func optional(key, value string) Field {
	if value == "" {
		return Field{Key: key}
	}
	return F(key, value)
}

// flagField is key=true when set, left out otherwise.
func flagField(key string, set bool) Field {
	if !set {
		return Field{Key: key}
	}
	return F(key, true)
}

func timeField(key string, t time.Time) Field {
	if t.IsZero() {
		return Field{Key: key}
	}
	return F(key, t)
}
