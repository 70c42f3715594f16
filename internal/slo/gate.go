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
	// Progress, if set, is called after every evaluation with its number
	// (from 1) and the current streak of passing evaluations.
	Progress func(n, streak int, e Evaluation)
}

// Report is the outcome of Run.
type Report struct {
	// Passed is true when the last Consecutive evaluations all passed.
	Passed bool
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
)

// Validate reports the first problem with the gate's options.
func (g Gate) Validate() error {
	if err := ValidateChecks(g.Checks); err != nil {
		return err
	}
	for _, c := range g.Checks {
		if g.Queriers[c.Source] == nil {
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
	}
	return nil
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
	start := clk.Now()
	deadline := start.Add(g.Timeout)
	var rep Report
	for {
		began := clk.Now()
		ev := Evaluate(ctx, g.Checks, g.Queriers, began, g.Trust)
		rep.Evaluations++
		rep.Last = ev
		if ev.Passed {
			rep.Streak++
		} else {
			rep.Streak = 0
		}
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
	rep.Msg = g.message(rep)
	return rep
}

// message builds Report.Msg.
func (g Gate) message(rep Report) string {
	n := len(rep.Last.Results)
	polling := g.Interval > 0
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
	summary := rep.Last.Summary()
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
