package backoff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/threader/guard/internal/clock"
)

// Verdict is what one attempt reports to the loop.
type Verdict int

const (
	// Succeeded ends the loop successfully.
	Succeeded Verdict = iota
	// Retryable is a failure that another attempt may fix.
	Retryable
	// Permanent is a failure that ends the loop at once.
	Permanent
)

func (v Verdict) String() string {
	switch v {
	case Succeeded:
		return "succeeded"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// StopReason says why a loop ended.
type StopReason string

// The reasons a loop ends.
const (
	StopSucceeded    StopReason = "succeeded"     // an attempt succeeded
	StopExhausted    StopReason = "exhausted"     // the last allowed attempt failed
	StopNotRetryable StopReason = "not_retryable" // an attempt failed with a Permanent verdict
	StopDeadline     StopReason = "deadline"      // the next delay would end at or past the deadline
	StopCanceled     StopReason = "canceled"      // the context was canceled
)

// Try describes the attempt about to run.
type Try struct {
	// Number is the attempt number, starting at 1.
	Number int
	// Delay is how long the loop slept before this attempt (0 for the first).
	Delay time.Duration
	// Timeout is the time this attempt may take: Policy.Timeout clipped to
	// what is left of Policy.Deadline. Zero means no limit. The attempt
	// function must enforce it; the loop only computes it.
	Timeout time.Duration
}

// Decision is reported to Policy.OnDecision after each attempt, once the loop
// knows what comes next, so a log line can say "retrying in 10s" or "giving up"
// truthfully.
type Decision struct {
	Try     Try
	Verdict Verdict
	// Retry is true when another attempt follows after NextDelay.
	Retry     bool
	NextDelay time.Duration
	// Stop is set when Retry is false: why the loop ends after this attempt.
	Stop StopReason
	// Rule is the name of the rule that decided, "" when none matched.
	Rule string
	// Hint is the retry-after hint that set NextDelay (before the MaxDelay
	// cap), when HasHint; only with Policy.HonorRetryAfter.
	Hint    time.Duration
	HasHint bool
}

// Outcome summarises a finished loop.
type Outcome struct {
	// Attempts is how many attempts ran.
	Attempts int
	// Stop says why the loop ended.
	Stop StopReason
	// Elapsed is measured on the policy's clock from the start of Run.
	Elapsed time.Duration
	// UnusedDelay is, when Stop is StopDeadline, the delay that did not fit.
	UnusedDelay time.Duration
}

// Policy describes a retry loop. Build one per run or share it: Run keeps its
// state (start time, attempt count) on its own stack, so the deadline is always
// measured from the start of Run, never from when the Policy was built.
//
// Deadline rules, with remaining = Deadline - time since Run started:
//   - An attempt starts only while remaining > 0. Its Try.Timeout is
//     min(Timeout, remaining) (just remaining when Timeout is 0), so an attempt
//     that honours its timeout ends by the deadline (plus whatever grace the
//     caller gives a process to exit after it is told to stop).
//   - No sleep begins whose end would reach the deadline: a delay d is slept
//     only if d < remaining. Otherwise the loop stops with StopDeadline instead
//     of sleeping a shortened delay, since that would retry sooner than the
//     schedule allows.
type Policy struct {
	// Attempts is the total number of attempts, >= 1.
	Attempts int
	// Schedule gives the delay after each failed attempt.
	Schedule Schedule
	// Timeout limits each attempt; zero means no limit.
	Timeout time.Duration
	// Deadline limits the whole run, attempts and sleeps together, measured
	// from the start of Run; zero means no limit.
	Deadline time.Duration
	// Clock is the time source for sleeps and the deadline; nil means clock.Real{}.
	Clock clock.Clock
	// OnDecision, if set, is called after every attempt (exactly once per
	// attempt, before any sleep).
	OnDecision func(Decision)
	// Rules decide failures by what they printed and their exit status
	// before Attempts and Schedule do (adaptive.go); the first match wins.
	// Only RunFailures gives them something to match.
	Rules []Rule
	// HonorRetryAfter lets a retry-after hint in a failed attempt's output
	// replace the computed delay (adaptive.go).
	HonorRetryAfter bool
}

// MinLimit is the smallest non-zero Timeout or Deadline. Zero means no limit,
// so a limit that rounds to zero somewhere on its way in (1e-10 seconds) must
// be refused rather than silently become no limit at all.
const MinLimit = time.Millisecond

// Validate reports the first option that is out of range.
func (p Policy) Validate() error {
	if p.Attempts < 1 {
		return fmt.Errorf("attempts must be >= 1, got %d", p.Attempts)
	}
	if p.Timeout < 0 || p.Timeout > 0 && p.Timeout < MinLimit {
		return fmt.Errorf("timeout must be 0 (none) or at least %v, got %v", MinLimit, p.Timeout)
	}
	if p.Deadline < 0 || p.Deadline > 0 && p.Deadline < MinLimit {
		return fmt.Errorf("deadline must be 0 (none) or at least %v, got %v", MinLimit, p.Deadline)
	}
	if err := p.Schedule.Validate(); err != nil {
		return err
	}
	return validateRules(p.Rules)
}

// ErrInvalidPolicy wraps every validation error returned by Run.
var ErrInvalidPolicy = errors.New("invalid retry policy")

// Run calls attempt until it succeeds, fails permanently, the attempts are used
// up, the next sleep would pass the deadline, or ctx is canceled. The error is
// non-nil only for an invalid policy (wrapping ErrInvalidPolicy); every other
// ending is described by Outcome.Stop.
//
// A canceled context ends the loop after the running attempt returns (the
// attempt function receives ctx and should stop early), or cuts a sleep short.
// An attempt that reports Succeeded wins even if ctx was canceled meanwhile.
func (p Policy) Run(ctx context.Context, attempt func(context.Context, Try) Verdict) (Outcome, error) {
	return p.RunFailures(ctx, func(ctx context.Context, tr Try) (Verdict, Failure) {
		return attempt(ctx, tr), Failure{}
	})
}

// RunFailures is Run for an attempt function that also describes its
// failure, so that Rules and HonorRetryAfter can judge it. The Failure of a
// successful attempt is ignored.
func (p Policy) RunFailures(ctx context.Context, attempt func(context.Context, Try) (Verdict, Failure)) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return Outcome{}, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	clk := p.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	start := clk.Now()
	remaining := func() time.Duration { return p.Deadline - clk.Now().Sub(start) }
	out := Outcome{}
	finish := func(stop StopReason) (Outcome, error) {
		out.Stop = stop
		out.Elapsed = clk.Now().Sub(start)
		return out, nil
	}

	try := Try{Number: 1}
	seen := ruleState{}
	for {
		if ctx.Err() != nil {
			return finish(StopCanceled)
		}
		try.Timeout = p.Timeout
		if p.Deadline > 0 {
			left := remaining()
			if left <= 0 {
				return finish(StopDeadline)
			}
			if try.Timeout == 0 || left < try.Timeout {
				try.Timeout = left
			}
		}

		verdict, failure := attempt(ctx, try)
		out.Attempts = try.Number
		d := p.decide(ctx, try, verdict, failure, seen, remaining)
		if p.OnDecision != nil {
			p.OnDecision(d)
		}
		if !d.Retry {
			if d.Stop == StopDeadline {
				out.UnusedDelay = d.NextDelay
			}
			return finish(d.Stop)
		}
		if err := clk.Sleep(ctx, d.NextDelay); err != nil {
			return finish(StopCanceled)
		}
		try = Try{Number: try.Number + 1, Delay: d.NextDelay}
	}
}

// decide turns an attempt's verdict (or the rule its failure matches) into
// what the loop does next.
func (p Policy) decide(ctx context.Context, try Try, v Verdict, f Failure, seen ruleState, remaining func() time.Duration) Decision {
	switch {
	case v == Succeeded:
		return Decision{Try: try, Verdict: v, Stop: StopSucceeded}
	case ctx.Err() != nil:
		return Decision{Try: try, Verdict: v, Stop: StopCanceled}
	}
	d, sched, matched := p.adapt(try, f, seen)
	d.Try, d.Verdict = try, v
	if !matched {
		switch {
		case v != Retryable:
			d.Stop = StopNotRetryable
		case try.Number >= p.Attempts:
			d.Stop = StopExhausted
		default:
			d.NextDelay = p.Schedule.Delay(try.Number)
			d.Retry = true
		}
	}
	p.applyHint(&d, f, sched)
	if d.Retry && p.Deadline > 0 && d.NextDelay >= remaining() {
		d.Retry, d.Stop = false, StopDeadline
	}
	return d
}
