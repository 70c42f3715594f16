package backoff

// Adaptive retries: not every failure deserves the same schedule. A rate
// limit wants a longer wait (often one the server names), a wrong password
// wants no retry at all. Rules say so:
//
//   - A Rule matches a failed attempt when its MatchOutput (if set) matches
//     the attempt's output and its exit status is in MatchRC (if set); a rule
//     must set at least one of the two.
//   - The first rule that matches decides, whatever the attempt function's
//     own verdict was: ActionStop ends the loop (Outcome.Stop names the
//     rule, see StopByRule); ActionRetry retries on the rule's Schedule,
//     while the attempt number is below the rule's Attempts (the run's total
//     attempts, not just those that matched the rule). The delay after the
//     k-th failure matched by a rule is rule.Schedule.Delay(k): a rule's
//     schedule starts at its base when it first matches.
//   - A failure that matches no rule is decided as without rules: by the
//     attempt function's verdict and the Policy's Attempts and Schedule.
//   - With HonorRetryAfter, a hint in the failed attempt's output
//     ("Retry-After: 30", "retry after 30 seconds") replaces the computed
//     delay of a retry, capped at the deciding schedule's MaxDelay, or at
//     MaxHint when it has none: the output is the command's (or a server's)
//     word, and "Retry-After: 999999999" must not park a run for 31 years.
//     A hint is
//     never shortened to fit the deadline: retrying before the server allows
//     would fail again, so a hint that does not fit ends the loop with
//     StopDeadline like any other delay.
//   - Failures that must never be retried (a command that could not start,
//     an interrupted attempt) are reported with Failure.Ran false, and no
//     rule sees them.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/fielderr"
)

// Action is what a matching Rule does.
type Action string

// The rule actions.
const (
	ActionRetry Action = "retry" // retry on the rule's schedule; "" means the same
	ActionStop  Action = "stop"  // end the loop at once
)

// ParseAction accepts "retry" or "stop" (any case, spaces around); "" is retry.
func ParseAction(s string) (Action, error) {
	switch a := Action(strings.ToLower(strings.TrimSpace(s))); a {
	case "", ActionRetry:
		return ActionRetry, nil
	case ActionStop:
		return ActionStop, nil
	}
	return "", fielderr.Errorf(FieldAction, "must be retry or stop, got: %q", s)
}

// Field names carried by the *fielderr.Error values of a bad rule, the
// names of Rule's options as the front ends spell them; they add where the
// rule is ("retry_policies[1].").
const (
	FieldName        = "name"
	FieldMatchOutput = "match_output"
	FieldMatchRC     = "match_rc"
	FieldAction      = "action"
	FieldAttempts    = "attempts"
	FieldBase        = "base_seconds"
	FieldFactor      = "factor"
	FieldMaxDelay    = "max_delay_seconds"
	FieldJitter      = "jitter"
)

// RuleError is a bad option of the rule at Index (0-based) in
// Policy.Rules. Err's problem reads after the option's name ("must be
// retry or stop, got: \"later\""); the front end says where the rule came
// from (a module option, a flag, a file) and names the option.
type RuleError struct {
	Index int
	Err   *fielderr.Error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %d: %v", e.Index, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// Rule is one adaptive retry rule. Build it with plain fields; Validate
// names the first bad one.
type Rule struct {
	// Name identifies the rule in history, logs and StopByRule. Required,
	// unique within Policy.Rules, at most 64 characters of [A-Za-z0-9_.-].
	Name string
	// MatchOutput, when set, must match the failed attempt's output.
	MatchOutput *regexp.Regexp
	// MatchRC, when not empty, lists the exit statuses the rule matches.
	MatchRC []int
	// Action is ActionRetry ("" too) or ActionStop.
	Action Action
	// Attempts is the total attempts the run may make while failures match
	// this rule; >= 1. Ignored for ActionStop.
	Attempts int
	// Schedule gives the delays of the retries this rule decides.
	Schedule Schedule
}

var ruleName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate reports the first option of the rule that is out of range.
func (r Rule) Validate() error {
	if !ruleName.MatchString(r.Name) {
		return fielderr.Errorf(FieldName, "must be 1 to 64 characters of letters, digits, '_', '.' or '-', got: %q", r.Name)
	}
	if r.MatchOutput == nil && len(r.MatchRC) == 0 {
		return fielderr.New(FieldMatchOutput, "or match_rc must be set: a rule without a match would match every failure")
	}
	if _, err := ParseAction(string(r.Action)); err != nil {
		return err
	}
	if r.Action == ActionStop {
		return nil
	}
	if r.Attempts < 1 {
		return fielderr.Errorf(FieldAttempts, "must be 1 or greater, got: %d", r.Attempts)
	}
	return scheduleFieldError(r.Schedule)
}

// scheduleFieldError is Schedule.Validate with the field named.
func scheduleFieldError(s Schedule) error {
	switch {
	case s.Base < 0:
		return fielderr.Errorf(FieldBase, "must be 0 or greater, got: %v", s.Base.Seconds())
	case s.Factor != 0 && !(s.Factor >= 1) || math.IsInf(s.Factor, 0):
		return fielderr.Errorf(FieldFactor, "must be a finite number, 1 or greater, got: %v", s.Factor)
	case s.MaxDelay < 0:
		return fielderr.Errorf(FieldMaxDelay, "must be 0 or greater, got: %v", s.MaxDelay.Seconds())
	}
	if _, err := ParseJitter(string(s.Jitter)); err != nil {
		return fielderr.Errorf(FieldJitter, "must be none, full or equal, got: %q", s.Jitter)
	}
	return nil
}

// validateRules checks every rule and that names are unique.
func validateRules(rules []Rule) error {
	seen := map[string]bool{}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			if fe, ok := fielderr.As(err); ok {
				return &RuleError{Index: i, Err: fe}
			}
			return err
		}
		if seen[r.Name] {
			return &RuleError{Index: i, Err: fielderr.Errorf(FieldName, "%q is used by an earlier rule", r.Name)}
		}
		seen[r.Name] = true
	}
	return nil
}

// Failure describes a failed attempt to the rules.
type Failure struct {
	// Ran is false for a failure no rule may see: the command did not start
	// or was interrupted.
	Ran bool
	// RC is the exit status (-N for a signal).
	RC int
	// Output is what the attempt printed (stdout and stderr), as far as it
	// was kept.
	Output string
}

// Matches reports whether the rule matches the failure.
func (r Rule) Matches(f Failure) bool {
	if !f.Ran {
		return false
	}
	if len(r.MatchRC) > 0 && !slices.Contains(r.MatchRC, f.RC) {
		return false
	}
	return r.MatchOutput == nil || r.MatchOutput.MatchString(f.Output)
}

// StopByRule is the StopReason of a loop ended by the stop rule name:
// "policy:name".
func StopByRule(name string) StopReason { return StopReason(stopRulePrefix + name) }

const stopRulePrefix = "policy:"

// Rule returns the name of the stop rule that ended the loop, if one did.
func (s StopReason) Rule() (string, bool) {
	return strings.CutPrefix(string(s), stopRulePrefix)
}

// retryAfter finds "Retry-After: N" (the HTTP header, seconds form) or
// "retry after N seconds" (as many CLIs and APIs print it), any case.
var retryAfter = regexp.MustCompile(`(?i)\bretry-after:[ \t]*(\d+)\b|\bretry[ \t]+after[ \t]+(\d+)[ \t]*(?:s|secs?|seconds?)\b`)

// RetryAfterHint returns the last retry-after hint in output, in seconds.
// The last one wins: a command that retried inside itself prints the most
// recent answer last. A hint too large for a Duration is MaxDuration (the
// schedule's cap or the deadline then applies).
func RetryAfterHint(output string) (time.Duration, bool) {
	all := retryAfter.FindAllStringSubmatch(output, -1)
	if len(all) == 0 {
		return 0, false
	}
	m := all[len(all)-1]
	digits := m[1] + m[2] // exactly one group matched
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > int64(MaxDuration/time.Second) {
		return MaxDuration, true // only digits, so the error is a range error
	}
	return time.Duration(n) * time.Second, true
}

// ruleState counts the failures each rule matched, for its schedule.
type ruleState map[string]int

// adapt decides a failed attempt with the rules: ok is false when no rule
// matched (the caller decides as without rules). Retry decisions leave
// NextDelay unset for the caller's deadline check.
func (p Policy) adapt(try Try, f Failure, seen ruleState) (d Decision, sched Schedule, ok bool) {
	for _, r := range p.Rules {
		if !r.Matches(f) {
			continue
		}
		d.Rule = r.Name
		if r.Action == ActionStop {
			d.Stop = StopByRule(r.Name)
			return d, r.Schedule, true
		}
		seen[r.Name]++
		if try.Number >= r.Attempts {
			d.Stop = StopExhausted
			return d, r.Schedule, true
		}
		d.NextDelay = r.Schedule.Delay(seen[r.Name])
		d.Retry = true
		return d, r.Schedule, true
	}
	return d, p.Schedule, false
}

// MaxHint caps a retry-after hint when the deciding schedule has no MaxDelay.
const MaxHint = time.Hour

// applyHint replaces a retry's delay by the output's retry-after hint, when
// the policy honours hints, capped at the deciding schedule's MaxDelay.
func (p Policy) applyHint(d *Decision, f Failure, sched Schedule) {
	if !p.HonorRetryAfter || !d.Retry || !f.Ran {
		return
	}
	hint, ok := RetryAfterHint(f.Output)
	if !ok {
		return
	}
	d.Hint, d.HasHint = hint, true
	limit := MaxHint
	if sched.MaxDelay > 0 {
		limit = sched.MaxDelay
	}
	d.NextDelay = min(hint, limit)
}
