package backoff

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
)

// failures returns an attempt function that reports the failures in order
// (a Failure with RC 0 and Ran true means success) and counts the calls.
func failures(calls *int, fs ...Failure) func(context.Context, Try) (Verdict, Failure) {
	return func(context.Context, Try) (Verdict, Failure) {
		f := fs[*calls]
		*calls++
		if f.Ran && f.RC == 0 {
			return Succeeded, f
		}
		return Retryable, f
	}
}

func failed(rc int, output string) Failure { return Failure{Ran: true, RC: rc, Output: output} }

var ok = Failure{Ran: true}

func runRules(t *testing.T, p Policy, fs ...Failure) (Outcome, []Decision, []time.Duration) {
	t.Helper()
	fake := clock.NewFake(epoch)
	p.Clock = fake
	var ds []Decision
	p.OnDecision = func(d Decision) { ds = append(ds, d) }
	calls := 0
	out, err := p.RunFailures(context.Background(), failures(&calls, fs...))
	if err != nil {
		t.Fatal(err)
	}
	return out, ds, fake.Slept()
}

func TestRuleScheduleStartsAtItsBaseAndUnmatchedUseTheTaskSchedule(t *testing.T) {
	p := Policy{Attempts: 6, Schedule: Schedule{Base: time.Second}, Rules: []Rule{{
		Name: "rate", MatchOutput: regexp.MustCompile(`429`), Attempts: 6,
		Schedule: Schedule{Base: 30 * time.Second, Factor: 3},
	}}}
	out, ds, slept := runRules(t, p, failed(1, "boom"), failed(1, "HTTP 429"), failed(1, "HTTP 429"), failed(1, "boom"), ok)
	if out.Stop != StopSucceeded || out.Attempts != 5 {
		t.Fatalf("outcome %+v", out)
	}
	// task: 1s (n=1); rule: 30s, 90s (its 1st and 2nd match); task: 8s (n=4).
	equalDurations(t, slept, []time.Duration{time.Second, 30 * time.Second, 90 * time.Second, 8 * time.Second})
	rules := []string{ds[0].Rule, ds[1].Rule, ds[2].Rule, ds[3].Rule}
	if strings.Join(rules, ",") != ",rate,rate," {
		t.Fatalf("rules %q", rules)
	}
}

func TestFirstMatchingRuleDecidesAndStopRuleNamesItself(t *testing.T) {
	p := Policy{Attempts: 5, Schedule: Schedule{Base: time.Second}, Rules: []Rule{
		{Name: "auth", MatchRC: []int{77}, MatchOutput: regexp.MustCompile(`(?i)unauthorized`), Action: ActionStop},
		{Name: "any77", MatchRC: []int{77}, Attempts: 5, Schedule: Schedule{Base: 2 * time.Second}},
	}}
	out, ds, slept := runRules(t, p, failed(77, "busy"), failed(77, "401 Unauthorized"))
	if out.Stop != StopByRule("auth") || out.Attempts != 2 {
		t.Fatalf("outcome %+v", out)
	}
	equalDurations(t, slept, []time.Duration{2 * time.Second})
	if ds[0].Rule != "any77" || ds[1].Rule != "auth" || ds[1].Retry {
		t.Fatalf("decisions %+v", ds)
	}
	if name, ok := out.Stop.Rule(); !ok || name != "auth" {
		t.Fatalf("Stop.Rule() = %q, %v", name, ok)
	}
	if _, ok := StopExhausted.Rule(); ok {
		t.Fatal("exhausted names a rule")
	}
}

func TestRuleOverridesAPermanentVerdictAndItsOwnAttemptsLimit(t *testing.T) {
	p := Policy{Attempts: 2, Rules: []Rule{{Name: "flaky", MatchRC: []int{3}, Attempts: 4, Schedule: Schedule{Base: time.Second, Factor: 1}}}}
	calls := 0
	p.Clock = clock.NewFake(epoch)
	out, _ := p.RunFailures(context.Background(), func(context.Context, Try) (Verdict, Failure) {
		calls++
		return Permanent, failed(3, "")
	})
	if out.Stop != StopExhausted || out.Attempts != 4 {
		t.Fatalf("outcome %+v after %d calls", out, calls)
	}
}

func TestFailuresThatDidNotRunAreNeverMatched(t *testing.T) {
	p := Policy{Attempts: 3, Rules: []Rule{{Name: "all", MatchRC: []int{127}, Attempts: 3}}}
	p.Clock = clock.NewFake(epoch)
	out, _ := p.RunFailures(context.Background(), func(context.Context, Try) (Verdict, Failure) {
		return Permanent, Failure{RC: 127}
	})
	if out.Stop != StopNotRetryable || out.Attempts != 1 {
		t.Fatalf("outcome %+v", out)
	}
}

func TestRetryAfterHintReplacesTheDelayCappedAtMaxDelay(t *testing.T) {
	p := Policy{Attempts: 4, HonorRetryAfter: true, Schedule: Schedule{Base: time.Second, MaxDelay: 60 * time.Second}}
	out, ds, slept := runRules(t, p,
		failed(1, "HTTP/1.1 429\r\nRetry-After: 7\r\n"), failed(1, "please retry after 600 seconds"), failed(1, "no hint"), ok)
	if out.Stop != StopSucceeded {
		t.Fatalf("outcome %+v", out)
	}
	equalDurations(t, slept, []time.Duration{7 * time.Second, 60 * time.Second, 4 * time.Second})
	if !ds[0].HasHint || ds[0].Hint != 7*time.Second || !ds[1].HasHint || ds[1].Hint != 600*time.Second || ds[2].HasHint {
		t.Fatalf("hints %+v", ds)
	}
}

func TestRetryAfterHintIgnoredUnlessHonoured(t *testing.T) {
	p := Policy{Attempts: 2, Schedule: Schedule{Base: time.Second}}
	_, ds, slept := runRules(t, p, failed(1, "Retry-After: 7"), ok)
	equalDurations(t, slept, []time.Duration{time.Second})
	if ds[0].HasHint {
		t.Fatalf("hint recorded: %+v", ds[0])
	}
}

func TestRetryAfterHintThatPassesTheDeadlineStopsInsteadOfShortening(t *testing.T) {
	p := Policy{Attempts: 3, HonorRetryAfter: true, Deadline: 20 * time.Second, Schedule: Schedule{Base: time.Second}}
	out, ds, slept := runRules(t, p, failed(1, "Retry-After: 30"))
	if out.Stop != StopDeadline || out.UnusedDelay != 30*time.Second || len(slept) != 0 {
		t.Fatalf("outcome %+v, slept %v", out, slept)
	}
	if !ds[0].HasHint || ds[0].Retry {
		t.Fatalf("decision %+v", ds[0])
	}
}

func TestRetryAfterHintUsesTheDecidingRulesCap(t *testing.T) {
	p := Policy{Attempts: 3, HonorRetryAfter: true, Schedule: Schedule{Base: time.Second, MaxDelay: 5 * time.Second},
		Rules: []Rule{{Name: "rate", MatchOutput: regexp.MustCompile(`429`), Attempts: 3, Schedule: Schedule{Base: time.Second, MaxDelay: 120 * time.Second}}}}
	_, _, slept := runRules(t, p, failed(1, "429 Retry-After: 100"), failed(1, "Retry-After: 100"), ok)
	equalDurations(t, slept, []time.Duration{100 * time.Second, 5 * time.Second})
}

func TestRetryAfterHint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"Retry-After: 12", 12 * time.Second, true},
		{"retry-after:3\nRetry-After: 5", 5 * time.Second, true},
		{"Rate limited; retry after 45 seconds.", 45 * time.Second, true},
		{"RETRY AFTER 2s", 2 * time.Second, true},
		{"retry after 1 sec", time.Second, true},
		{"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT", 0, false},
		{"retry after 5 minutes", 0, false},
		{"xretry-after: 5", 0, false},
		{"Retry-After: 99999999999999999999999", MaxDuration, true},
		{"", 0, false},
	} {
		got, ok := RetryAfterHint(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfterHint(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRuleValidationNamesTheRuleAndField(t *testing.T) {
	good := Rule{Name: "a", MatchRC: []int{1}, Attempts: 1}
	for _, tc := range []struct {
		rules []Rule
		index int
		field string
	}{
		{[]Rule{{Name: "", MatchRC: []int{1}, Attempts: 1}}, 0, FieldName},
		{[]Rule{good, {Name: "b", Attempts: 1}}, 1, FieldMatchOutput},
		{[]Rule{good, good}, 1, FieldName},
		{[]Rule{{Name: "a", MatchRC: []int{1}, Action: "later", Attempts: 1}}, 0, FieldAction},
		{[]Rule{{Name: "a", MatchRC: []int{1}}}, 0, FieldAttempts},
		{[]Rule{{Name: "a", MatchRC: []int{1}, Attempts: 1, Schedule: Schedule{Base: -1}}}, 0, FieldBase},
		{[]Rule{{Name: "a", MatchRC: []int{1}, Attempts: 1, Schedule: Schedule{Factor: 0.5}}}, 0, FieldFactor},
		{[]Rule{{Name: "a", MatchRC: []int{1}, Attempts: 1, Schedule: Schedule{MaxDelay: -1}}}, 0, FieldMaxDelay},
		{[]Rule{{Name: "a", MatchRC: []int{1}, Attempts: 1, Schedule: Schedule{Jitter: "lots"}}}, 0, FieldJitter},
	} {
		err := Policy{Attempts: 1, Rules: tc.rules}.Validate()
		var re *RuleError
		if !errors.As(err, &re) || re.Index != tc.index || re.Err.Field != tc.field {
			t.Errorf("rules %+v: got %v, want rule %d field %s", tc.rules, err, tc.index, tc.field)
		}
	}
	stop := Rule{Name: "s", MatchRC: []int{2}, Action: ActionStop} // attempts do not matter
	if err := (Policy{Attempts: 1, Rules: []Rule{stop}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// Without a max delay a hint is capped at MaxHint: a hostile or broken
// answer must not park the run for years. (Before the cap this slept the
// whole 999999999 s.)
func TestRetryAfterHintWithoutMaxDelayIsCappedAtMaxHint(t *testing.T) {
	p := Policy{Attempts: 2, HonorRetryAfter: true, Schedule: Schedule{Base: time.Second}}
	_, ds, slept := runRules(t, p, failed(1, "Retry-After: 999999999"), ok)
	equalDurations(t, slept, []time.Duration{MaxHint})
	if ds[0].Hint != 999999999*time.Second {
		t.Fatalf("hint as found: %v", ds[0].Hint)
	}
}
