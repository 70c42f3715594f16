package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/clock"
)

// Retry runs a Command until it succeeds or a rule says to stop. Fill the
// fields and call Run; a Retry holds no state between runs.
//
// Which failures are retried:
//   - a command that could not be started (not found, bad chdir) never is;
//   - a timed-out attempt always is, whatever RetryOnRC and RetryOnOutput say,
//     since a hung attempt has no exit status of its own to judge;
//   - otherwise the exit status must be in RetryOnRC (when set; a command
//     killed by signal N has status -N) and stdout or stderr must match
//     RetryOnOutput (when set). Only the kept end of each stream (see
//     Command.OutputLimit) is searched.
type Retry struct {
	// Command is run once per attempt. Its Timeout is the per-attempt
	// timeout, clipped for each attempt to what is left of Deadline.
	Command Command
	// Attempts is the total number of attempts, >= 1.
	Attempts int
	// Schedule gives the delay after each failed attempt.
	Schedule backoff.Schedule
	// Deadline limits the whole run from the start of Run; zero means none.
	// See backoff.Policy for the exact rules.
	Deadline time.Duration
	// RetryOnRC, when not empty, lists the only exit statuses retried.
	RetryOnRC []int
	// RetryOnOutput, when set, must match stdout or stderr of a failed
	// attempt for it to be retried.
	RetryOnOutput *regexp.Regexp
	// Policies decide failed attempts by their output (stdout, a newline,
	// stderr) and exit status before RetryOnRC and RetryOnOutput do; see
	// backoff's adaptive.go. A command that could not start or was
	// interrupted is never retried, whatever they say.
	Policies []backoff.Rule
	// HonorRetryAfter lets a "Retry-After: N" hint in a failed attempt's
	// output replace the computed delay.
	HonorRetryAfter bool
	// OnAttempt, if set, is called once after every attempt, when it is
	// known whether another attempt follows (for logs and metrics).
	OnAttempt func(Attempt)
	// Clock drives the sleeps and the deadline; nil means clock.Real{}.
	// Attempt durations are always wall-clock time.
	Clock clock.Clock
}

// Attempt records one attempt and what the loop decided after it.
type Attempt struct {
	// Number counts from 1.
	Number int
	// RC, Signal and TimedOut are as in Result.
	RC       int
	Signal   string
	TimedOut bool
	// Duration is how long the attempt ran.
	Duration time.Duration
	// Delay is how long the loop slept before this attempt.
	Delay time.Duration
	// Interrupted is true when ctx was canceled while the attempt ran and
	// the signal was forwarded to it (it may still have exited 0).
	Interrupted bool
	// Leftovers is as in Result: processes the attempt left, then stopped.
	Leftovers int
	// Err is set when the command could not be started.
	Err error

	// Retry is true when another attempt follows after NextDelay.
	Retry     bool
	NextDelay time.Duration
	// Stop says why the run ends after this attempt, when Retry is false;
	// with backoff.StopDeadline, NextDelay is the delay that did not fit.
	Stop backoff.StopReason
	// Why explains a failure that was not retried ("rc 2 is not in retry_on_rc").
	Why string
	// Policy names the policy that decided after this attempt ("" for none).
	Policy string
	// Hint is the retry-after hint found in the output when HasHint (only
	// with HonorRetryAfter); NextDelay is the delay actually used.
	Hint    time.Duration
	HasHint bool
}

// Report is the result of a whole Retry run.
type Report struct {
	// Last is the result of the last attempt that ran.
	Last Result
	// History has one entry per attempt, in order.
	History []Attempt
	// Stop says why the run ended; backoff.StopSucceeded means success.
	Stop backoff.StopReason
	// Total is the time of the whole run, measured on the Retry's clock.
	Total time.Duration
	// Deadline is the configured deadline, kept for the failure message.
	Deadline time.Duration
}

// Succeeded reports whether the last attempt succeeded.
func (r Report) Succeeded() bool { return r.Stop == backoff.StopSucceeded }

// Validate reports the first invalid option, naming it.
func (r Retry) Validate() error {
	if err := r.Command.Validate(); err != nil {
		return err
	}
	if r.Command.Passthrough && r.NeedsOutput() {
		return errors.New("retry_on_output, retry policies and honor_retry_after need the output captured, but Command.Passthrough is set")
	}
	return r.policy(nil).Validate()
}

// NeedsOutput reports whether deciding a failure reads the attempt's output.
func (r Retry) NeedsOutput() bool {
	if r.RetryOnOutput != nil || r.HonorRetryAfter {
		return true
	}
	for _, p := range r.Policies {
		if p.MatchOutput != nil {
			return true
		}
	}
	return false
}

func (r Retry) policy(onDecision func(backoff.Decision)) backoff.Policy {
	return backoff.Policy{
		Attempts:        r.Attempts,
		Schedule:        r.Schedule,
		Timeout:         r.Command.Timeout,
		Deadline:        r.Deadline,
		Clock:           r.Clock,
		OnDecision:      onDecision,
		Rules:           r.Policies,
		HonorRetryAfter: r.HonorRetryAfter,
	}
}

// Run runs the attempts. The error is non-nil only for invalid options; a
// command that failed, could not start or was interrupted is described by
// the Report. Cancel ctx (with an interrupt.Cause to choose the signal) to
// forward a signal to the running attempt and stop further attempts.
func (r Retry) Run(ctx context.Context) (Report, error) {
	if err := r.Validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Deadline: r.Deadline}
	var lastErr error
	var why string

	attempt := func(ctx context.Context, try backoff.Try) (backoff.Verdict, backoff.Failure) {
		cmd := r.Command
		cmd.Timeout = try.Timeout
		res, err := Run(ctx, cmd)
		rep.Last, lastErr = res, err
		v, reason := r.verdict(res, err)
		why = reason
		return v, failure(res, err)
	}
	onDecision := func(d backoff.Decision) {
		a := Attempt{
			Number: d.Try.Number, RC: rep.Last.RC, Signal: rep.Last.Signal, TimedOut: rep.Last.TimedOut,
			Duration: rep.Last.Duration, Delay: d.Try.Delay, Interrupted: rep.Last.Interrupted, Err: lastErr,
			Leftovers: rep.Last.Leftovers,
			Retry:     d.Retry, NextDelay: d.NextDelay, Stop: d.Stop,
			Policy: d.Rule, Hint: d.Hint, HasHint: d.HasHint,
		}
		if d.Stop == backoff.StopNotRetryable {
			a.Why = why
		}
		rep.History = append(rep.History, a)
		if r.OnAttempt != nil {
			r.OnAttempt(a)
		}
	}

	out, err := r.policy(onDecision).RunFailures(ctx, attempt)
	if err != nil {
		return Report{}, err
	}
	rep.Stop, rep.Total = out.Stop, out.Elapsed
	return rep, nil
}

// verdict decides whether a finished attempt may be retried, and why not.
func (r Retry) verdict(res Result, err error) (backoff.Verdict, string) {
	switch {
	case err != nil:
		return backoff.Permanent, err.Error()
	case res.Success():
		return backoff.Succeeded, ""
	case res.Interrupted:
		return backoff.Permanent, "interrupted"
	case res.TimedOut:
		return backoff.Retryable, ""
	case len(r.RetryOnRC) > 0 && !slices.Contains(r.RetryOnRC, res.RC):
		return backoff.Permanent, fmt.Sprintf("rc %d is not in retry_on_rc", res.RC)
	case r.RetryOnOutput != nil && !r.RetryOnOutput.MatchString(res.Stdout) && !r.RetryOnOutput.MatchString(res.Stderr):
		return backoff.Permanent, "the output does not match retry_on_output"
	}
	return backoff.Retryable, ""
}

// failure describes an attempt to the policies; one that could not start or
// was interrupted is not theirs to judge.
func failure(res Result, err error) backoff.Failure {
	if err != nil || res.Interrupted {
		return backoff.Failure{}
	}
	return backoff.Failure{Ran: true, RC: res.RC, Output: res.Stdout + "\n" + res.Stderr}
}

// messageTailBytes is how much of the end of the output a failure message quotes.
const messageTailBytes = 512

// Message describes the run in one line for a log or a module result, such
// as "command failed after 3 attempts (last rc=2): <end of stderr>". The end
// of stderr is quoted, or of stdout when stderr is empty (ansible-playbook,
// for one, reports failures on stdout).
func (r Report) Message() string {
	n := len(r.History)
	if r.Succeeded() {
		return fmt.Sprintf("command succeeded on attempt %d", n)
	}
	if n == 0 {
		return "command did not run: " + string(r.Stop)
	}
	last := r.History[n-1]
	if last.Err != nil {
		return last.Err.Error()
	}
	var b strings.Builder
	if r.Stop == backoff.StopCanceled {
		fmt.Fprintf(&b, "command interrupted on attempt %d (%s)", n, Describe(last))
	} else {
		fmt.Fprintf(&b, "command failed after %d %s (last %s)", n, plural(n, "attempt", "attempts"), Describe(last))
	}
	switch r.Stop {
	case backoff.StopNotRetryable:
		fmt.Fprintf(&b, "; not retried: %s", last.Why)
	case backoff.StopDeadline:
		fmt.Fprintf(&b, "; stopped: a %s delay would pass the %s deadline", Seconds(last.NextDelay), Seconds(r.Deadline))
	}
	if name, ok := r.Stop.Rule(); ok {
		fmt.Fprintf(&b, "; not retried: retry policy %s says stop", name)
	}
	if end := outputEnd(r.Last); end != "" {
		b.WriteString(": ")
		b.WriteString(end)
	}
	return b.String()
}

// Describe says how an attempt ended: "rc=1", "timed out after 2s, rc=-15 (SIGTERM)".
func Describe(a Attempt) string {
	s := "rc=" + strconv.Itoa(a.RC)
	if a.Signal != "" {
		s += " (" + a.Signal + ")"
	}
	if a.TimedOut {
		s = "timed out after " + Seconds(a.Duration.Round(time.Millisecond)) + ", " + s
	}
	return s
}

// Seconds formats d as seconds the way the options are written: "10s", "0.2s".
func Seconds(d time.Duration) string {
	ms := d.Round(time.Millisecond).Milliseconds()
	return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + "s"
}

func outputEnd(res Result) string {
	s := strings.TrimSpace(res.Stderr)
	if s == "" {
		s = strings.TrimSpace(res.Stdout)
	}
	if len(s) > messageTailBytes {
		s = s[len(s)-messageTailBytes:]
		for len(s) > 0 && s[0]&0xC0 == 0x80 { // do not start inside a UTF-8 character
			s = s[1:]
		}
		s = "..." + s
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
