// Package slo evaluates SLO checks fail-closed: a check passes only on a
// measured, finite value that meets its threshold. It knows nothing about
// HTTP: queries go through the Querier interface, time through clock.Clock.
//
// The rules, in the order they apply to one check:
//
//  1. A query error (HTTP, API, timeout, unparseable answer) fails the check
//     with the error text as the reason.
//  2. An answer is only believed if it is current and complete (Trust): an
//     answer carrying server warnings (Prometheus or Loki "warnings", for
//     example partial data after a failed remote read) fails the check
//     unless Trust.AcceptWarnings; a sample whose timestamp is more than
//     Trust.MaxSkew (default 5 minutes) before or after the evaluation time
//     fails it (a stale cache, a proxy replaying old answers, a server with
//     a wrong clock), and so does a sample without a timestamp. Every
//     sample counts, so an instant query of a range selector longer than
//     MaxSkew (up[15m]) fails: gate on avg_over_time(up[15m]) instead.
//  3. An empty answer fails with "no data", unless OnEmpty is EmptyPasses, or
//     the check has a PresenceQuery that returned a positive value, in which
//     case the empty answer counts as 0 (a count over no matching log lines:
//     Loki returns no series rather than 0).
//  4. Every sample of every series is compared; NaN and ±Inf fail ("NaN",
//     "+Inf", "-Inf"), even where +Inf would satisfy a ">=" bound, and so
//     does a value outside the check's Valid range (a ratio of -0.5 or 7 is
//     broken data, not a pass).
//  5. The worst sample decides and names its series: non-finite first, then the
//     largest violation, then (when all pass) the one closest to its bound.
package slo

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Source names the backend a check queries: the key of its Querier in
// Gate.Queriers, unless the check brings its own (Check.Querier). Adding a
// source is adding a Querier; the gate logic does not change.
type Source string

// The backends the collection ships.
const (
	Prometheus   Source = "prometheus"
	Loki         Source = "loki"
	VictoriaLogs Source = "victorialogs"
	// Web checks query a URL each: every one brings its Querier.
	Web Source = "web"
)

// OnEmpty says what an empty query answer means.
type OnEmpty string

// The two choices; the zero value means EmptyFails.
const (
	EmptyFails  OnEmpty = "fail"
	EmptyPasses OnEmpty = "pass"
)

// Comparison is the direction of a bound: the value must be <= Max or >= Min.
type Comparison string

// The two comparisons.
const (
	AtMost  Comparison = "<="
	AtLeast Comparison = ">="
)

// Check is one SLO condition: bounds (Max, Min), conditions
// (SuccessCondition, FailureCondition) or both; bounds are applied first.
type Check struct {
	// Name identifies the check in results and messages, e.g. "5xx_ratio".
	Name string
	// Source is the backend to query.
	Source Source
	// Query is an instant query; every sample it returns must meet the bounds.
	Query string
	// Max and Min are inclusive bounds. A check needs a bound or a condition.
	Max, Min *float64
	// SuccessCondition and FailureCondition are expressions over the answer's
	// values (see Condition and judgeConditions).
	SuccessCondition, FailureCondition *Condition
	// DryRun checks are evaluated and reported with their phase but never
	// decide an evaluation or the gate.
	DryRun bool
	// Querier, when set, answers this check's queries instead of
	// Gate.Queriers[Source] (a web check's own URL).
	Querier Querier
	// OnEmpty decides an empty answer; "" means EmptyFails.
	OnEmpty OnEmpty
	// PresenceQuery, when set, proves that data exists: if Query returns no
	// series but PresenceQuery returns a value > 0, Query counts as 0. The
	// error-log check uses the job's total log line count here, so "no
	// matching lines" is 0 errors while "no lines at all" is no data.
	PresenceQuery string
	// Valid, when set, is the range every measured value must lie in to be
	// data at all: the built-in ratio checks use [0, 1]. A value outside it
	// fails the check whatever Max and Min say.
	Valid *Range
}

// Range is an inclusive interval [Min, Max].
type Range struct{ Min, Max float64 }

func (r Range) contains(v float64) bool { return v >= r.Min && v <= r.Max }

func (r Range) String() string { return "[" + FormatValue(r.Min) + ", " + FormatValue(r.Max) + "]" }

// Ratio returns the valid range of a ratio, [0, 1] (a new value each time,
// so no check can change another's).
func Ratio() *Range { return &Range{Min: 0, Max: 1} }

// DefaultMaxSkew is how far a sample's timestamp may be from the evaluation
// time when Trust.MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// Trust says which answers are believed at all (rule 2).
type Trust struct {
	// AcceptWarnings lets an answer that carries server warnings count.
	// Off by default: a warning such as a failed remote read means the
	// answer may be missing exactly the bad data.
	AcceptWarnings bool
	// MaxSkew bounds the distance between a sample's timestamp and the
	// evaluation time, either way. Zero means DefaultMaxSkew.
	MaxSkew time.Duration
}

func (t Trust) maxSkew() time.Duration {
	if t.MaxSkew <= 0 {
		return DefaultMaxSkew
	}
	return t.MaxSkew
}

// Float returns a pointer to v, for Check.Max and Check.Min.
func Float(v float64) *float64 { return &v }

// Validate reports the first problem with c, naming the field.
func (c Check) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("check has no name")
	case c.Source == "":
		return fmt.Errorf("check %s: source is empty", c.Name)
	case c.Query == "":
		return fmt.Errorf("check %s: query is empty", c.Name)
	case !c.hasBounds() && !c.hasConditions():
		return fmt.Errorf("check %s: needs max, min, success_condition or failure_condition", c.Name)
	case c.Max != nil && !finite(*c.Max):
		return fmt.Errorf("check %s: max must be a finite number, got %v", c.Name, *c.Max)
	case c.Min != nil && !finite(*c.Min):
		return fmt.Errorf("check %s: min must be a finite number, got %v", c.Name, *c.Min)
	case c.Max != nil && c.Min != nil && *c.Min > *c.Max:
		return fmt.Errorf("check %s: min %v is greater than max %v, so nothing could pass", c.Name, *c.Min, *c.Max)
	case c.Valid != nil && !(finite(c.Valid.Min) && finite(c.Valid.Max) && c.Valid.Min <= c.Valid.Max):
		return fmt.Errorf("check %s: valid range %v is not a finite interval", c.Name, *c.Valid)
	case c.OnEmpty != "" && c.OnEmpty != EmptyFails && c.OnEmpty != EmptyPasses:
		return fmt.Errorf("check %s: on_empty must be %q or %q, got %q", c.Name, EmptyFails, EmptyPasses, c.OnEmpty)
	}
	return nil
}

func (c Check) hasBounds() bool     { return c.Max != nil || c.Min != nil }
func (c Check) hasConditions() bool { return c.SuccessCondition != nil || c.FailureCondition != nil }

// querier is the check's own Querier, or its source's.
func (c Check) querier(queriers map[Source]Querier) Querier {
	if c.Querier != nil {
		return c.Querier
	}
	return queriers[c.Source]
}

// ValidateChecks validates each check and refuses duplicate names.
func ValidateChecks(checks []Check) error {
	if len(checks) == 0 {
		return fmt.Errorf("no checks to evaluate")
	}
	seen := map[string]bool{}
	deciding := false
	for _, c := range checks {
		if err := c.Validate(); err != nil {
			return err
		}
		if seen[c.Name] {
			return fmt.Errorf("check name %q is used twice", c.Name)
		}
		seen[c.Name] = true
		deciding = deciding || !c.DryRun
	}
	if !deciding {
		// A gate of dry runs only would pass whatever it measured.
		return fmt.Errorf("every check is a dry run: nothing would decide the gate")
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Series is one labelled series of a query answer with its samples (one for
// an instant vector, several for a matrix). Labels is nil for a scalar.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Sample is one timestamped value. A zero Time means the answer did not say
// when the value was measured, which fails the check (rule 2).
type Sample struct {
	Time  time.Time
	Value float64
}

// Answer is what a Querier returns on success. No series means no data.
type Answer struct {
	Series []Series
	// Warnings from the server are passed on to the result.
	Warnings []string
}

// Querier runs an instant query evaluated at a given time. Implementations
// return an error for anything that is not a well-formed numeric answer (API
// errors, timeouts, string or log-line results); the error text becomes the
// check's reason, so it should say where it came from ("prometheus: 503 …").
type Querier interface {
	Query(ctx context.Context, query string, at time.Time) (Answer, error)
}

// QuerierFunc adapts a function to Querier.
type QuerierFunc func(ctx context.Context, query string, at time.Time) (Answer, error)

// Query calls f.
func (f QuerierFunc) Query(ctx context.Context, query string, at time.Time) (Answer, error) {
	return f(ctx, query, at)
}
