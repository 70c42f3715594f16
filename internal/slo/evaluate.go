package slo

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// Result is the outcome of one check in one evaluation.
type Result struct {
	Name   string
	Source Source
	Query  string
	// Value is the deciding (worst) sample, or nil when there is no finite
	// value: no data, NaN, ±Inf or an error. With no data but a positive
	// PresenceQuery it is 0.
	Value *float64
	// Threshold and Comparison are the bound that decided: the violated one,
	// or, when nothing is violated, the one the value is closest to (Max when
	// there is no value to compare).
	// Threshold is NaN and Comparison empty for a check without bounds.
	Threshold  float64
	Comparison Comparison
	// Phase is the check's verdict (see Phase); Passed is Phase == PhasePassed.
	Phase  Phase
	Passed bool
	// DryRun is the check's DryRun: reported, never deciding.
	DryRun bool
	// Values are every sample value of the answer (the conditions' result).
	Values []float64
	// Reason says why, in a few words: "0.001 <= 0.01", "0.023 > 0.01",
	// "no data", "NaN", or the query error.
	Reason string
	// Series holds the labels of the deciding series (nil for a scalar or
	// when there is none); SeriesCount how many series the answer had.
	Series      map[string]string
	SeriesCount int
	// Warnings are the server's warnings for this check's queries.
	Warnings []string

	bounded      bool // Reason is a bound's "v <= t"
	presenceZero bool // the empty answer counts as 0 (PresenceQuery)
}

// Phase is the verdict of a check, an evaluation or a gate.
type Phase string

// The phases. An evaluation's phase is the worst of its checks' phases
// (dry-run checks aside), in the order passed < inconclusive < error <
// failed; only passed passes, and inconclusive when the gate allows it.
const (
	PhasePassed       Phase = "passed"
	PhaseFailed       Phase = "failed"
	PhaseInconclusive Phase = "inconclusive" // both conditions set, neither holds
	PhaseError        Phase = "error"        // no usable measurement: query error, no data, NaN, broken data, a condition that cannot run
)

func (p Phase) severity() int {
	return map[Phase]int{PhasePassed: 0, PhaseInconclusive: 1, PhaseError: 2, PhaseFailed: 3}[p]
}

// Evaluation is one round of all checks at one time.
type Evaluation struct {
	At      time.Time
	Results []Result
	// Phase is the worst phase of the checks that are not dry runs.
	Phase Phase
	// Passed is Phase == PhasePassed.
	Passed bool
}

// Failed returns the results that did not pass, dry runs aside.
func (e Evaluation) Failed() []Result {
	var out []Result
	for _, r := range e.Results {
		if !r.Passed && !r.DryRun {
			out = append(out, r)
		}
	}
	return out
}

// Warnings returns every check's warnings, prefixed with the check name.
func (e Evaluation) Warnings() []string {
	var out []string
	for _, r := range e.Results {
		for _, w := range r.Warnings {
			out = append(out, r.Name+": "+w)
		}
	}
	return out
}

// Evaluate runs every check once, all queries concurrently (a check with a
// PresenceQuery runs both at once), each evaluated at at, and believes only
// the answers trust allows. A check whose source has no Querier in queriers
// fails. Checks must be valid (see ValidateChecks).
func Evaluate(ctx context.Context, checks []Check, queriers map[Source]Querier, at time.Time, trust Trust) Evaluation {
	type outcome struct {
		answer Answer
		err    error
	}
	main := make([]outcome, len(checks))
	presence := make([]outcome, len(checks))
	var wg sync.WaitGroup
	run := func(dst *outcome, c Check, query string) {
		source, q := c.Source, c.querier(queriers)
		if q == nil {
			dst.err = fmt.Errorf("no %s endpoint is configured", source)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst.answer, dst.err = q.Query(ctx, query, at)
		}()
	}
	for i, c := range checks {
		run(&main[i], c, c.Query)
		if c.PresenceQuery != "" {
			run(&presence[i], c, c.PresenceQuery)
		}
	}
	wg.Wait()

	ev := Evaluation{At: at, Phase: PhasePassed}
	for i, c := range checks {
		mainErr := distrust(c.Source, main[i].answer, main[i].err, at, trust)
		presErr := distrust(c.Source, presence[i].answer, presence[i].err, at, trust)
		r := judge(c, main[i].answer, mainErr, presence[i].answer, presErr)
		r.Passed = r.Phase == PhasePassed
		ev.Results = append(ev.Results, r)
		if !r.DryRun && r.Phase.severity() > ev.Phase.severity() {
			ev.Phase = r.Phase
		}
	}
	ev.Passed = ev.Phase == PhasePassed
	return ev
}

// judge applies the package rules to one check's answers and sets its phase.
func judge(c Check, ans Answer, err error, pres Answer, presErr error) Result {
	r := Result{Name: c.Name, Source: c.Source, Query: c.Query, SeriesCount: len(ans.Series), DryRun: c.DryRun, Phase: PhaseError}
	r.Threshold, r.Comparison = defaultBound(c)
	r.Warnings = append(append(r.Warnings, ans.Warnings...), pres.Warnings...)
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	r.Values = sampleValues(ans.Series)
	if c.PresenceQuery != "" && allZero(r.Values) {
		// A positive count proves the stream has lines; none or only zeros
		// mean 0 errors only if the presence query finds lines at all.
		if presErr != nil {
			r.Reason = "no data, and the presence query failed: " + presErr.Error()
			return r
		}
		if !hasPositive(pres.Series) {
			r.Reason = "no data"
			return r
		}
		if len(r.Values) == 0 {
			r.SeriesCount, r.Values, r.presenceZero = 0, []float64{0}, true
		}
	}
	if len(r.Values) == 0 && c.hasBounds() {
		return judgeEmpty(c, r)
	}
	if c.hasBounds() {
		r = judgeBounds(c, r, ans.Series)
		if r.Phase != PhasePassed || !c.hasConditions() {
			return r
		}
	}
	return judgeConditions(c, r)
}

// judgeEmpty decides an empty answer of a check with bounds.
func judgeEmpty(c Check, r Result) Result {
	r.SeriesCount = 0
	if c.OnEmpty == EmptyPasses && !c.hasConditions() {
		r.Phase = PhasePassed
		r.Reason = "no data (on_empty: pass)"
		return r
	}
	if c.OnEmpty == EmptyPasses {
		return judgeConditions(c, r)
	}
	r.Reason = "no data"
	return r
}

// judgeBounds applies Max, Min and Valid to every sample (rules 4 and 5).
func judgeBounds(c Check, r Result, series []Series) Result {
	r.bounded = true
	if r.presenceZero {
		zero := 0.0
		r.Value = &zero
		r.Threshold, r.Comparison = nearestBound(c, 0)
		r.Phase = phaseOf(meets(0, c))
		r.Reason = describe(0, r.Threshold, r.Comparison, r.Phase == PhasePassed)
		if r.Phase == PhasePassed {
			r.Reason += " (none matched; the presence query has data)"
		}
		return r
	}
	w := worst(c, series)
	r.Series = w.labels
	r.Threshold, r.Comparison = w.threshold, w.comparison
	switch {
	case !finite(w.value):
		r.Reason, r.bounded = formatNonFinite(w.value), false
	case w.rank == rankInvalid:
		r.Reason, r.bounded = fmt.Sprintf("%s is outside %s, the valid range of this check: broken data", FormatValue(w.value), c.Valid), false
	default:
		v := w.value
		r.Value = &v
		r.Phase = phaseOf(w.rank == rankOK)
		r.Reason = describe(v, w.threshold, w.comparison, r.Phase == PhasePassed)
	}
	return r
}

// judgeConditions applies SuccessCondition and FailureCondition to the
// values, as Argo Rollouts does: a failure condition that holds fails; a
// success condition that holds passes; when both are set and neither holds
// the check is inconclusive; a lone success condition that does not hold
// fails, a lone failure condition that does not hold passes. A condition
// that cannot be evaluated is an error. A check that passes on an empty
// answer is still "no data" unless OnEmpty is EmptyPasses.
func judgeConditions(c Check, r Result) Result {
	if r.Value == nil && len(r.Values) == 1 && finite(r.Values[0]) {
		v := r.Values[0]
		r.Value = &v
	}
	var failed, succeeded bool
	if c.FailureCondition != nil {
		holds, err := c.FailureCondition.holds(r.Values)
		if err != nil {
			return conditionError(r, "failure", c.FailureCondition, err)
		}
		failed = holds
	}
	if c.SuccessCondition != nil {
		holds, err := c.SuccessCondition.holds(r.Values)
		if err != nil {
			return conditionError(r, "success", c.SuccessCondition, err)
		}
		succeeded = holds
	}
	r.bounded = false
	values := "result " + formatValues(r.Values)
	switch {
	case failed:
		r.Phase, r.Reason = PhaseFailed, fmt.Sprintf("%s meets the failure condition %s", values, c.FailureCondition)
	case succeeded || c.SuccessCondition == nil:
		r.Phase = PhasePassed
		r.Reason = fmt.Sprintf("%s meets the success condition %s", values, c.SuccessCondition)
		if c.SuccessCondition == nil {
			r.Reason = fmt.Sprintf("%s does not meet the failure condition %s", values, c.FailureCondition)
		}
	case c.FailureCondition != nil:
		r.Phase, r.Reason = PhaseInconclusive, fmt.Sprintf("%s meets neither the success nor the failure condition", values)
	default:
		r.Phase, r.Reason = PhaseFailed, fmt.Sprintf("%s does not meet the success condition %s", values, c.SuccessCondition)
	}
	if len(r.Values) == 0 && c.OnEmpty != EmptyPasses && r.Phase == PhasePassed {
		r.Phase, r.Reason = PhaseError, "no data (the conditions pass on an empty result; on_empty: pass accepts that)"
	}
	if (r.Phase == PhasePassed || r.Phase == PhaseInconclusive) && !allFinite(r.Values) && !asksNonFinite(c) {
		r.Phase = PhaseError
		r.Reason = fmt.Sprintf("%s holds NaN or ±Inf, which no condition asks about (isNaN, isInf or default): "+
			"comparisons with NaN are false, so the conditions did not measure", values)
	}
	return r
}

func allFinite(values []float64) bool {
	for _, v := range values {
		if !finite(v) {
			return false
		}
	}
	return true
}

// asksNonFinite: a condition of c says what NaN or ±Inf means.
func asksNonFinite(c Check) bool {
	return c.SuccessCondition != nil && c.SuccessCondition.asksNonFinite ||
		c.FailureCondition != nil && c.FailureCondition.asksNonFinite
}

func conditionError(r Result, which string, c *Condition, err error) Result {
	r.Phase, r.bounded = PhaseError, false
	r.Reason = fmt.Sprintf("the %s condition %s cannot be evaluated on result %s: %v", which, c, formatValues(r.Values), err)
	return r
}

func phaseOf(passed bool) Phase {
	if passed {
		return PhasePassed
	}
	return PhaseFailed
}

func sampleValues(series []Series) []float64 {
	var out []float64
	for _, s := range series {
		for _, smp := range s.Samples {
			out = append(out, smp.Value)
		}
	}
	return out
}

func allZero(values []float64) bool {
	for _, v := range values {
		if v != 0 {
			return false
		}
	}
	return true
}

// distrust applies rule 2 to one answer: the query's error, or why the
// answer cannot be believed, or nil.
func distrust(source Source, ans Answer, err error, at time.Time, trust Trust) error {
	if err != nil {
		return err
	}
	if len(ans.Warnings) > 0 && !trust.AcceptWarnings {
		return &DistrustError{Reason: fmt.Sprintf("%s answered with warnings, so the data may be incomplete: %s",
			source, strings.Join(ans.Warnings, "; "))}
	}
	limit := trust.maxSkew()
	for _, s := range ans.Series {
		for _, smp := range s.Samples {
			if smp.Time.IsZero() {
				return &DistrustError{Reason: fmt.Sprintf("%s answered a sample without a timestamp", source)}
			}
			if skew := smp.Time.Sub(at); skew > limit || -skew > limit {
				return &DistrustError{Reason: fmt.Sprintf("%s answered a sample %s, more than %s from the evaluation time: stale data or a wrong clock",
					source, skewText(skew, limit), limit)}
			}
		}
	}
	return nil
}

// DistrustError is an answer that arrived but is not believed (rule 2).
type DistrustError struct{ Reason string }

func (e *DistrustError) Error() string { return e.Reason }

// skewText says how far off a sample is, to the millisecond (the APIs'
// precision) unless that would round it down to the limit it exceeds.
func skewText(skew, limit time.Duration) string {
	word := "after"
	if skew < 0 {
		skew, word = -skew, "before"
	}
	if r := skew.Round(time.Millisecond); r > limit {
		skew = r
	}
	return "timestamped " + skew.String() + " " + word
}

func hasPositive(series []Series) bool {
	for _, s := range series {
		for _, smp := range s.Samples {
			if finite(smp.Value) && smp.Value > 0 {
				return true
			}
		}
	}
	return false
}

// ranks order samples from good to bad.
const (
	rankOK = iota
	rankViolated
	rankInvalid // NaN, ±Inf, or outside the check's Valid range
)

type sampleVerdict struct {
	labels     map[string]string
	value      float64
	rank       int
	badness    float64 // within a rank: larger is worse
	threshold  float64
	comparison Comparison
}

func (a sampleVerdict) worseThan(b sampleVerdict) bool {
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	return a.badness > b.badness
}

// worst returns the deciding sample of a non-empty answer.
func worst(c Check, series []Series) sampleVerdict {
	var out sampleVerdict
	first := true
	for _, s := range series {
		for _, smp := range s.Samples {
			sv := verdictFor(c, s.Labels, smp.Value)
			if first || sv.worseThan(out) {
				out, first = sv, false
			}
		}
	}
	return out
}

func verdictFor(c Check, labels map[string]string, v float64) sampleVerdict {
	sv := sampleVerdict{labels: labels, value: v}
	if !finite(v) {
		sv.rank, sv.badness = rankInvalid, math.Inf(1)
		sv.threshold, sv.comparison = nonFiniteBound(c, v)
		return sv
	}
	if c.Valid != nil && !c.Valid.contains(v) {
		// Farther outside is worse; NaN and ±Inf are worse still.
		sv.rank, sv.badness = rankInvalid, math.Max(c.Valid.Min-v, v-c.Valid.Max)
		sv.threshold, sv.comparison = nearestBound(c, v)
		return sv
	}
	if c.Max != nil && v > *c.Max {
		sv.rank, sv.badness, sv.threshold, sv.comparison = rankViolated, v-*c.Max, *c.Max, AtMost
		return sv
	}
	if c.Min != nil && v < *c.Min {
		sv.rank, sv.badness, sv.threshold, sv.comparison = rankViolated, *c.Min-v, *c.Min, AtLeast
		return sv
	}
	sv.threshold, sv.comparison = nearestBound(c, v)
	sv.badness = -math.Abs(v - sv.threshold)
	return sv
}

// meets reports whether a finite v is within every bound (inclusive).
func meets(v float64, c Check) bool {
	return (c.Max == nil || v <= *c.Max) && (c.Min == nil || v >= *c.Min)
}

// defaultBound is reported when there is no value: Max if set, else Min,
// else none (NaN, "").
func defaultBound(c Check) (float64, Comparison) {
	switch {
	case c.Max != nil:
		return *c.Max, AtMost
	case c.Min != nil:
		return *c.Min, AtLeast
	}
	return math.NaN(), ""
}

// nearestBound picks the bound closest to v (Max on a tie).
func nearestBound(c Check, v float64) (float64, Comparison) {
	switch {
	case c.Max != nil && c.Min != nil:
		if math.Abs(*c.Min-v) < math.Abs(*c.Max-v) {
			return *c.Min, AtLeast
		}
		return *c.Max, AtMost
	default:
		return defaultBound(c)
	}
}

// nonFiniteBound names the bound a NaN or ±Inf is reported against: the one
// +Inf would break (Max), the one -Inf would break (Min), Max first for NaN.
func nonFiniteBound(c Check, v float64) (float64, Comparison) {
	if math.IsInf(v, -1) && c.Min != nil {
		return *c.Min, AtLeast
	}
	return defaultBound(c)
}
