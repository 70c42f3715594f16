package slo

import (
	"context"
	"fmt"
	"time"

	"github.com/threader/guard/internal/clock"
)

// Gate evaluates a set of checks once, or polls until they are stable.
//
// With Interval 0 the checks are evaluated once. Otherwise they are
// re-evaluated every Interval (measured from the start of the previous
// evaluation, so a slow evaluation does not stretch the schedule) until all
// checks have passed Consecutive evaluations in a row, or until the next
// evaluation would start after Timeout, measured from the start of Run. The
// gate returns as soon as the condition is met.
//
// An evaluation that has started is never cut short by Timeout: its queries
// are bounded by their own request timeout, so Run may end up to one request
// timeout after Timeout, and the report always holds a complete evaluation.
//
// Phases: an evaluation passes when its phase is PhasePassed, or
// PhaseInconclusive with PassInconclusive. While polling, Limits stop the
// gate early: more failed evaluations than Limits.Failure, more inconclusive
// ones than Limits.Inconclusive, or more errored ones in a row than
// Limits.ConsecutiveError (a gate whose every measurement errors stops, it
// never passes). The first evaluation starts after InitialDelay; Timeout is
// counted from then.
type Gate struct {
	Checks []Check
	// Queriers maps each source used by Checks to its backend.
	Queriers map[Source]Querier
	// Clock is the time source; nil means clock.Real{}. Each evaluation
	// queries at Clock.Now().
	Clock clock.Clock
	// Interval between evaluations; 0 evaluates once.
	Interval time.Duration
	// Consecutive is how many passing evaluations in a row are needed; 0
	// means 1. More than 1 needs an Interval.
	Consecutive int
	// Timeout bounds polling; required when Interval > 0.
	Timeout time.Duration
	// Trust says which answers are believed (warnings, timestamps).
	Trust Trust
	// Limits stop polling early; nil means DefaultLimits().
	Limits *Limits
	// InitialDelay is waited before the first evaluation.
	InitialDelay time.Duration
	// PassInconclusive lets an inconclusive evaluation pass. Off by default:
	// an inconclusive gate fails.
	PassInconclusive bool
	// Retention is how many evaluations Report.Measurements keeps, newest
	// last; 0 means DefaultRetention.
	Retention int
	// Describe names a Gate or Limits field in messages (FailureLimit →
	// failure_limit); nil leaves the field names.
	Describe func(field string) string
	// Progress, if set, is called after every evaluation with its number
	// (from 1) and the current streak of passing evaluations.
	Progress func(n, streak int, e Evaluation)
}

// Limits bound the evaluations of one phase while polling; a negative
// limit is no limit. A limit of N stops the gate when the count exceeds N.
type Limits struct {
	Failure          int // failed evaluations in all
	Inconclusive     int // inconclusive evaluations in all
	ConsecutiveError int // errored evaluations in a row
}

// DefaultLimits: failures and inconclusive evaluations are polled through
// until Timeout (the gate waits for stability), 5 errors in a row stop it.
func DefaultLimits() Limits { return Limits{Failure: -1, Inconclusive: -1, ConsecutiveError: 4} }

// DefaultRetention is how many evaluations a Report keeps by default.
const DefaultRetention = 10

// Report is the outcome of Run.
type Report struct {
	// Passed is true when the last Consecutive evaluations all passed.
	Passed bool
	// Phase is the gate's verdict: passed (or inconclusive when allowed)
	// when stable; the limit's phase when a limit stopped it; otherwise the
	// last evaluation's phase (failed when it passed but too few in a row).
	Phase Phase
	// Measurements are the last Retention evaluations, oldest first.
	Measurements []Evaluation
	// Failures, Inconclusives and ErrorsInRow count evaluations by phase.
	Failures, Inconclusives, ErrorsInRow int
	// Last is the final evaluation.
	Last Evaluation
	// Evaluations counts the evaluations made.
	Evaluations int
	// Streak is the number of passing evaluations in a row at the end.
	Streak int
	// Stop says why polling ended.
	Stop Stop
	// Msg is a one-line summary: what failed, or that all passed.
	Msg string
}

// Stop says why Run ended.
type Stop string

// The ways Run ends.
const (
	StopStable   Stop = "stable"   // the checks passed Consecutive times in a row
	StopFailed   Stop = "failed"   // a single evaluation (no polling) failed
	StopTimeout  Stop = "timeout"  // polling ran out of time
	StopCanceled Stop = "canceled" // the context was canceled
	// A limit stopped polling.
	StopFailureLimit      Stop = "failure_limit"
	StopInconclusiveLimit Stop = "inconclusive_limit"
	StopErrorLimit        Stop = "consecutive_error_limit"
)

// Validate reports the first problem with the gate's options.
func (g Gate) Validate() error {
	if err := ValidateChecks(g.Checks); err != nil {
		return err
	}
	for _, c := range g.Checks {
		if c.querier(g.Queriers) == nil {
			return fmt.Errorf("check %s: no %s endpoint is configured", c.Name, c.Source)
		}
	}
	switch {
	case g.Interval < 0:
		return fmt.Errorf("interval must be >= 0, got %s", g.Interval)
	case g.Consecutive < 0:
		return fmt.Errorf("consecutive must be >= 1, got %d", g.Consecutive)
	case g.Timeout < 0:
		return fmt.Errorf("timeout must be >= 0, got %s", g.Timeout)
	case g.Interval == 0 && g.Consecutive > 1:
		return fmt.Errorf("consecutive %d needs an interval > 0 to re-evaluate", g.Consecutive)
	case g.Interval > 0 && g.Timeout == 0:
		return fmt.Errorf("polling (interval %s) needs a timeout > 0", g.Interval)
	case g.Interval > 0 && g.Timeout < g.Interval*time.Duration(max(g.Consecutive, 1)-1):
		return fmt.Errorf("timeout %s is too short for %d consecutive evaluations %s apart",
			g.Timeout, g.Consecutive, g.Interval)
	case g.InitialDelay < 0:
		return fmt.Errorf("initial delay must be >= 0, got %s", g.InitialDelay)
	case g.Retention < 0:
		return fmt.Errorf("retention must be >= 0, got %d", g.Retention)
	}
	return nil
}

func (g Gate) limits() Limits {
	if g.Limits == nil {
		return DefaultLimits()
	}
	return *g.Limits
}

func (g Gate) describe(field string) string {
	if g.Describe == nil {
		return field
	}
	return g.Describe(field)
}

// passes says whether an evaluation counts towards the streak.
func (g Gate) passes(e Evaluation) bool {
	return e.Phase == PhasePassed || (e.Phase == PhaseInconclusive && g.PassInconclusive)
}

// record adds one evaluation to the report's counts and measurements.
func (g Gate) record(rep *Report, ev Evaluation) {
	rep.Evaluations++
	rep.Last = ev
	keep := g.Retention
	if keep == 0 {
		keep = DefaultRetention
	}
	rep.Measurements = append(rep.Measurements, ev)
	if len(rep.Measurements) > keep {
		rep.Measurements = append([]Evaluation(nil), rep.Measurements[len(rep.Measurements)-keep:]...)
	}
	if g.passes(ev) {
		rep.Streak++
	} else {
		rep.Streak = 0
	}
	rep.ErrorsInRow++
	switch ev.Phase {
	case PhaseFailed:
		rep.Failures++
	case PhaseInconclusive:
		rep.Inconclusives++
	}
	if ev.Phase != PhaseError {
		rep.ErrorsInRow = 0
	}
}

// limitStop is the limit the counts exceed, or "".
func (g Gate) limitStop(rep Report) Stop {
	lim := g.limits()
	switch {
	case lim.Failure >= 0 && rep.Failures > lim.Failure:
		return StopFailureLimit
	case lim.Inconclusive >= 0 && rep.Inconclusives > lim.Inconclusive:
		return StopInconclusiveLimit
	case lim.ConsecutiveError >= 0 && rep.ErrorsInRow > lim.ConsecutiveError:
		return StopErrorLimit
	}
	return ""
}

// Run evaluates the checks as described on Gate. The error is non-nil only
// when the gate is invalid; every other outcome, a canceled context included,
// is a Report.
func (g Gate) Run(ctx context.Context) (Report, error) {
	if err := g.Validate(); err != nil {
		return Report{}, err
	}
	clk := g.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	need := max(g.Consecutive, 1)
	var rep Report
	if g.InitialDelay > 0 {
		if err := clk.Sleep(ctx, g.InitialDelay); err != nil {
			return g.finish(rep, StopCanceled), nil
		}
	}
	deadline := clk.Now().Add(g.Timeout)
	for {
		began := clk.Now()
		ev := Evaluate(ctx, g.Checks, g.Queriers, began, g.Trust)
		g.record(&rep, ev)
		if g.Progress != nil {
			g.Progress(rep.Evaluations, rep.Streak, ev)
		}
		switch {
		case rep.Streak >= need:
			return g.finish(rep, StopStable), nil
		case ctx.Err() != nil:
			return g.finish(rep, StopCanceled), nil
		case g.Interval == 0:
			return g.finish(rep, StopFailed), nil
		case g.limitStop(rep) != "":
			return g.finish(rep, g.limitStop(rep)), nil
		}
		next := began.Add(g.Interval)
		if next.After(deadline) {
			return g.finish(rep, StopTimeout), nil
		}
		if err := clk.Sleep(ctx, next.Sub(clk.Now())); err != nil {
			return g.finish(rep, StopCanceled), nil
		}
	}
}

func (g Gate) finish(rep Report, stop Stop) Report {
	rep.Stop = stop
	rep.Passed = stop == StopStable
	rep.Phase = rep.Last.Phase
	switch {
	case stop == StopFailureLimit:
		rep.Phase = PhaseFailed
	case stop == StopInconclusiveLimit:
		rep.Phase = PhaseInconclusive
	case stop == StopErrorLimit || rep.Evaluations == 0:
		rep.Phase = PhaseError
	case !rep.Passed && rep.Phase == PhasePassed:
		rep.Phase = PhaseFailed // passed, but too few times in a row
	}
	rep.Msg = g.message(rep)
	return rep
}

// message builds Report.Msg.
func (g Gate) message(rep Report) string {
	n := len(rep.Last.Results)
	polling := g.Interval > 0
	if rep.Passed && rep.Phase == PhaseInconclusive {
		return "inconclusive, which passes (inconclusive evaluations are allowed): " + rep.Last.Summary()
	}
	if rep.Passed {
		msg := fmt.Sprintf("all %d checks passed", n)
		if n == 1 {
			msg = "the check passed"
		}
		switch {
		case polling && rep.Streak > 1:
			msg += fmt.Sprintf(" %d times in a row (%s)", rep.Streak, plural(rep.Evaluations, "evaluation"))
		case polling:
			msg += fmt.Sprintf(" (%s)", plural(rep.Evaluations, "evaluation"))
		}
		return msg
	}
	if rep.Evaluations == 0 {
		return "canceled during the initial delay, before any evaluation"
	}
	summary := rep.Last.Summary()
	if summary == "" && rep.Last.Phase == PhaseInconclusive {
		summary = "inconclusive"
	}
	if summary == "" {
		// The last evaluation passed but the streak was too short.
		summary = fmt.Sprintf("the last evaluation passed, but only %s in a row of %d needed",
			times(rep.Streak), max(g.Consecutive, 1))
	}
	switch rep.Stop {
	case StopTimeout:
		return fmt.Sprintf("not stable within %s (%s): %s", g.Timeout, plural(rep.Evaluations, "evaluation"), summary)
	case StopCanceled:
		return fmt.Sprintf("canceled after %s: %s", plural(rep.Evaluations, "evaluation"), summary)
	case StopFailureLimit:
		return fmt.Sprintf("%s %d exceeded: %s of %d: %s", g.describe("FailureLimit"), g.limits().Failure,
			plural(rep.Failures, "failed evaluation"), rep.Evaluations, summary)
	case StopInconclusiveLimit:
		return fmt.Sprintf("%s %d exceeded: %s of %d: %s", g.describe("InconclusiveLimit"), g.limits().Inconclusive,
			plural(rep.Inconclusives, "inconclusive evaluation"), rep.Evaluations, summary)
	case StopErrorLimit:
		return fmt.Sprintf("%s %d exceeded: %s in a row: %s", g.describe("ConsecutiveErrorLimit"), g.limits().ConsecutiveError,
			plural(rep.ErrorsInRow, "errored evaluation"), summary)
	}
	return summary
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
