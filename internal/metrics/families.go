package metrics

// The stable metric set. Every family but one is a gauge: modules are
// short-lived batch processes, so (as the Prometheus docs advise for batch
// jobs) they report the state of their last run and when it happened, not
// counters that would reset on every process start. The exception,
// threader_guard_break_glass_total, is a true counter because its value is
// not the run's own: it is the number of break-glass lines in the guard's
// audit log, which only grows (a rotated log is a counter reset).
//
// Every series carries the label `name` (the user-given name of the guard,
// the retried command, the SLO gate or the rollback). Families listed with
// more labels add them; the set of values of each extra label is small and
// fixed (outcome) or chosen by the user (check). Raw command lines, queries,
// reasons and owners are never labels.
//
// Renaming or removing a family here breaks alerts and dashboards: treat this
// list as an API (docs/metrics.md documents it; a test keeps them in step).
const (
	// Guard (qos_guard): RecordGuard.
	GuardLocked         = "threader_guard_locked"
	GuardLockedAt       = "threader_guard_locked_at_timestamp_seconds"
	GuardLockExpiry     = "threader_guard_lock_expiry_timestamp_seconds"
	GuardLastChange     = "threader_guard_lock_last_change_timestamp_seconds"
	GuardLastEvaluation = "threader_guard_lock_last_evaluation_timestamp_seconds"
	// RecordFreeze, RecordBreakGlassTotal.
	GuardFrozen          = "threader_guard_frozen"
	GuardBreakGlassTotal = "threader_guard_break_glass_total"

	// Retried commands (retry_command): RecordRetry.
	RetryAttempts     = "threader_guard_retry_attempts"
	RetryMaxAttempts  = "threader_guard_retry_max_attempts"
	RetryDelay        = "threader_guard_retry_delay_seconds"
	RetryDuration     = "threader_guard_retry_duration_seconds"
	RetryLastExitCode = "threader_guard_retry_last_exit_code"
	RetryLastOutcome  = "threader_guard_retry_last_outcome"
	RetryLastRun      = "threader_guard_retry_last_run_timestamp_seconds"
	RetryLastSuccess  = "threader_guard_retry_last_success_timestamp_seconds"
	RetryLastFailure  = "threader_guard_retry_last_failure_timestamp_seconds"

	// SLO checks (slo_check): RecordSLOCheck.
	SLOCheckValue     = "threader_guard_slo_check_value"
	SLOCheckThreshold = "threader_guard_slo_check_threshold"
	SLOCheckPassed    = "threader_guard_slo_check_passed"
	SLOCheckLastEval  = "threader_guard_slo_check_last_evaluation_timestamp_seconds"

	// Canary judgements (canary_judge): RecordCanaryJudgement.
	CanaryScore                = "threader_guard_canary_score"
	CanaryClassification       = "threader_guard_canary_classification"
	CanaryMetricClassification = "threader_guard_canary_metric_classification"
	CanaryLastJudgement        = "threader_guard_canary_last_judgement_timestamp_seconds"

	// Rollbacks: RecordRollback.
	RollbackLastOutcome = "threader_guard_rollback_last_outcome"
	RollbackLastAttempt = "threader_guard_rollback_last_attempt_timestamp_seconds"
	RollbackLastSuccess = "threader_guard_rollback_last_success_timestamp_seconds"
	RollbackLastFailure = "threader_guard_rollback_last_failure_timestamp_seconds"
	RollbackDuration    = "threader_guard_rollback_duration_seconds"
)

// Label names.
const (
	LabelName    = "name"    // user-given name; on every series
	LabelCheck   = "check"   // SLO check name
	LabelOutcome = "outcome" // one of Outcomes()
	// LabelClassification is a canary judgement's or metric's
	// classification: one of CanaryClassifications() or
	// CanaryMetricClassifications().
	LabelClassification = "classification"
	LabelMetric         = "metric" // canary metric name
)

// Family documents one metric family of the stable set.
type Family struct {
	Name   string
	Help   string
	Labels []string // all labels a series carries, `name` first
	Type   string   // TypeGauge or TypeCounter
}

// Family types, as the exposition format's # TYPE line names them.
const (
	TypeGauge   = "gauge"
	TypeCounter = "counter"
)

// familyDef is a family as familyDefs lists it: labels besides `name`.
type familyDef struct {
	Name, Help string
	Labels     []string
}

// counters are the families of TypeCounter.
var counters = map[string]bool{GuardBreakGlassTotal: true}

// familyDefs is the single source of the help texts and labels; the
// registry, the docs test and the dashboard test all read it.
var familyDefs = []familyDef{
	{GuardLocked, "1 if the guard-window was locked when the guard last ran, else 0.", nil},
	{GuardLockedAt, "Unix time the current guard-window lock was taken; 0 when unlocked or unknown (legacy lock file).", nil},
	{GuardLockExpiry, "Unix time the current guard-window lock expires; 0 when unlocked.", nil},
	{GuardLastChange, "Unix time the guard last changed state (lock taken, extended or released) through this tool.", nil},
	{GuardLastEvaluation, "Unix time the guard state was last read and published.", nil},
	{GuardFrozen, "1 if a freeze window was active when the guard's status was last read, else 0.", nil},
	{GuardBreakGlassTotal, "Break-glass uses recorded in the guard's audit log on this host (lines with action break_glass).", nil},
	{RetryAttempts, "Attempts the last run of the retried command made (1 means it succeeded or gave up without retrying).", nil},
	{RetryMaxAttempts, "Attempt limit configured for the last run; 0 means unlimited.", nil},
	{RetryDelay, "Seconds the last run spent waiting between attempts (backoff delays).", nil},
	{RetryDuration, "Seconds the last run took from the first attempt to the final outcome.", nil},
	{RetryLastExitCode, "Exit code of the last attempt; -1 when it did not exit normally (killed, timed out, not started).", nil},
	{RetryLastOutcome, "1 for the outcome of the last run of the retried command, 0 for the other outcomes.", []string{LabelOutcome}},
	{RetryLastRun, "Unix time the last run of the retried command finished.", nil},
	{RetryLastSuccess, "Unix time of the last run that succeeded.", nil},
	{RetryLastFailure, "Unix time of the last run that did not succeed.", nil},
	{SLOCheckValue, "Value the SLO check's query returned at its last evaluation; NaN when it returned no usable value.", []string{LabelCheck}},
	{SLOCheckThreshold, "Threshold the SLO check compared its value with.", []string{LabelCheck}},
	{SLOCheckPassed, "1 if the SLO check passed at its last evaluation, else 0.", []string{LabelCheck}},
	{SLOCheckLastEval, "Unix time of the SLO check's last evaluation.", []string{LabelCheck}},
	{CanaryScore, "Score (0-100) of the last canary judgement: the weighted share of its metrics that passed.", nil},
	{CanaryClassification, "1 for the classification of the last canary judgement (pass, marginal, fail), 0 for the others.", []string{LabelClassification}},
	{CanaryMetricClassification, "1 for the classification of each metric at the last canary judgement (pass, high, low, nodata, nodata_fail, error), 0 for the others.", []string{LabelMetric, LabelClassification}},
	{CanaryLastJudgement, "Unix time of the last canary judgement.", nil},
	{RollbackLastOutcome, "1 for the outcome of the last rollback attempt, 0 for the other outcomes.", []string{LabelOutcome}},
	{RollbackLastAttempt, "Unix time of the last rollback attempt.", nil},
	{RollbackLastSuccess, "Unix time of the last rollback that succeeded.", nil},
	{RollbackLastFailure, "Unix time of the last rollback that did not succeed.", nil},
	{RollbackDuration, "Seconds the last rollback attempt took.", nil},
}

// Families returns the documented metric set: names, help texts and labels.
func Families() []Family {
	out := make([]Family, len(familyDefs))
	for i, f := range familyDefs {
		out[i] = Family{Name: f.Name, Help: f.Help, Labels: append([]string{LabelName}, f.Labels...), Type: TypeGauge}
		if counters[f.Name] {
			out[i].Type = TypeCounter
		}
	}
	return out
}

// Outcome is how a run of a retried command or a rollback ended. It is the
// value of the `outcome` label; the set is closed so queries can rely on it.
type Outcome string

// The outcomes. Every outcome series is written on each run (1 for the one
// that happened, 0 for the others), so `== 1` queries never see a stale 1.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure" // failed, gave up or was not retryable
	OutcomeTimeout Outcome = "timeout" // the overall deadline ended the run
)

// Outcomes lists every Outcome in a fixed order.
func Outcomes() []Outcome { return []Outcome{OutcomeSuccess, OutcomeFailure, OutcomeTimeout} }

func (o Outcome) valid() bool {
	for _, known := range Outcomes() {
		if o == known {
			return true
		}
	}
	return false
}

// CanaryClassifications are a canary judgement's classifications, the
// values of its `classification` label (canary.Classification spells them
// the same).
func CanaryClassifications() []string { return []string{"pass", "marginal", "fail"} }

// CanaryMetricClassifications are a canary metric's classifications.
func CanaryMetricClassifications() []string {
	return []string{"pass", "high", "low", "nodata", "nodata_fail", "error"}
}
