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
	Threshold  float64
	Comparison Comparison
	Passed     bool
	// Reason says why, in a few words: "0.001 <= 0.01", "0.023 > 0.01",
	// "no data", "NaN", or the query error.
	Reason string
	// Series holds the labels of the deciding series (nil for a scalar or
	// when there is none); SeriesCount how many series the answer had.
	Series      map[string]string
	SeriesCount int
	// Warnings are the server's warnings for this check's queries.
	Warnings []string
}

// Evaluation is one round of all checks at one time.
type Evaluation struct {
	At      time.Time
	Results []Result
	// Passed is true when every check passed.
	Passed bool
}

// Failed returns the results that did not pass.
func (e Evaluation) Failed() []Result {
	var out []Result
	for _, r := range e.Results {
		if !r.Passed {
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
	run := func(dst *outcome, source Source, query string) {
		q := queriers[source]
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
		run(&main[i], c.Source, c.Query)
		if c.PresenceQuery != "" {
			run(&presence[i], c.Source, c.PresenceQuery)
		}
	}
	wg.Wait()

	ev := Evaluation{At: at, Passed: true}
	for i, c := range checks {
		mainErr := distrust(c.Source, main[i].answer, main[i].err, at, trust)
		presErr := distrust(c.Source, presence[i].answer, presence[i].err, at, trust)
		r := judge(c, main[i].answer, mainErr, presence[i].answer, presErr)
		ev.Results = append(ev.Results, r)
		ev.Passed = ev.Passed && r.Passed
	}
	return ev
}

// judge applies the package rules to one check's answers.
func judge(c Check, ans Answer, err error, pres Answer, presErr error) Result {
	r := Result{Name: c.Name, Source: c.Source, Query: c.Query, SeriesCount: len(ans.Series)}
	r.Threshold, r.Comparison = defaultBound(c)
	r.Warnings = append(append(r.Warnings, ans.Warnings...), pres.Warnings...)
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	if countSamples(ans.Series) == 0 {
		return judgeEmpty(c, r, pres, presErr)
	}
	w := worst(c, ans.Series)
	r.Series = w.labels
	r.Threshold, r.Comparison = w.threshold, w.comparison
	switch {
	case !finite(w.value):
		r.Reason = formatNonFinite(w.value)
	case w.rank == rankInvalid:
		r.Reason = fmt.Sprintf("%s is outside %s, the valid range of this check: broken data", FormatValue(w.value), c.Valid)
	default:
		v := w.value
		r.Value = &v
		r.Passed = w.rank == rankOK
		r.Reason = describe(v, w.threshold, w.comparison, r.Passed)
	}
	return r
}

func judgeEmpty(c Check, r Result, pres Answer, presErr error) Result {
	r.SeriesCount = 0
	if c.PresenceQuery != "" && presErr == nil && hasPositive(pres.Series) {
		zero := 0.0
		r.Value = &zero
		r.Threshold, r.Comparison = nearestBound(c, 0)
		r.Passed = meets(0, c)
		r.Reason = describe(0, r.Threshold, r.Comparison, r.Passed)
		if r.Passed {
			r.Reason += " (none matched; the presence query has data)"
		}
		return r
	}
	if c.OnEmpty == EmptyPasses {
		r.Passed = true
		r.Reason = "no data (on_empty: pass)"
		return r
	}
	if presErr != nil {
		r.Reason = "no data, and the presence query failed: " + presErr.Error()
		return r
	}
	r.Reason = "no data"
	return r
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

func countSamples(series []Series) int {
	n := 0
	for _, s := range series {
		n += len(s.Samples)
	}
	return n
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

// defaultBound is reported when there is no value: Max if set, else Min.
func defaultBound(c Check) (float64, Comparison) {
	if c.Max != nil {
		return *c.Max, AtMost
	}
	return *c.Min, AtLeast
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
