package backoff

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// script returns an attempt function that answers the verdicts in order and
// records every Try it was given.
func script(tries *[]Try, verdicts ...Verdict) func(context.Context, Try) Verdict {
	return func(_ context.Context, tr Try) Verdict {
		*tries = append(*tries, tr)
		return verdicts[len(*tries)-1]
	}
}

func TestSucceedsOnThirdAttemptAfterBaseAndTwiceBase(t *testing.T) {
	fake := clock.NewFake(epoch)
	var tries []Try
	var decisions []Decision
	p := Policy{Attempts: 3, Schedule: Schedule{Base: 5 * time.Second}, Clock: fake,
		OnDecision: func(d Decision) { decisions = append(decisions, d) }}
	out, err := p.Run(context.Background(), script(&tries, Retryable, Retryable, Succeeded))
	if err != nil {
		t.Fatal(err)
	}
	if out.Stop != StopSucceeded || out.Attempts != 3 || out.Elapsed != 15*time.Second {
		t.Fatalf("outcome %+v", out)
	}
	equalDurations(t, fake.Slept(), []time.Duration{5 * time.Second, 10 * time.Second})
	for i, want := range []time.Duration{0, 5 * time.Second, 10 * time.Second} {
		if tries[i].Number != i+1 || tries[i].Delay != want || tries[i].Timeout != 0 {
			t.Fatalf("try %d: %+v", i+1, tries[i])
		}
	}
	if len(decisions) != 3 || !decisions[0].Retry || decisions[0].NextDelay != 5*time.Second ||
		!decisions[1].Retry || decisions[1].NextDelay != 10*time.Second ||
		decisions[2].Retry || decisions[2].Stop != StopSucceeded {
		t.Fatalf("decisions %+v", decisions)
	}
}

func TestExhaustedAttemptsDoNotSleepAfterTheLast(t *testing.T) {
	fake := clock.NewFake(epoch)
	var tries []Try
	var last Decision
	calls := 0
	p := Policy{Attempts: 3, Schedule: Schedule{Base: time.Second}, Clock: fake,
		OnDecision: func(d Decision) { calls++; last = d }}
	out, _ := p.Run(context.Background(), script(&tries, Retryable, Retryable, Retryable))
	if out.Stop != StopExhausted || out.Attempts != 3 || len(tries) != 3 {
		t.Fatalf("outcome %+v after %d tries", out, len(tries))
	}
	equalDurations(t, fake.Slept(), []time.Duration{time.Second, 2 * time.Second})
	if calls != 3 || last.Retry || last.Stop != StopExhausted || last.NextDelay != 0 {
		t.Fatalf("%d decisions, last %+v", calls, last)
	}
}

func TestPermanentFailureStopsAtOnce(t *testing.T) {
	fake := clock.NewFake(epoch)
	var tries []Try
	p := Policy{Attempts: 5, Schedule: Schedule{Base: time.Second}, Clock: fake}
	out, _ := p.Run(context.Background(), script(&tries, Retryable, Permanent, Retryable))
	if out.Stop != StopNotRetryable || out.Attempts != 2 {
		t.Fatalf("outcome %+v", out)
	}
	equalDurations(t, fake.Slept(), []time.Duration{time.Second})
}

func TestSingleAttempt(t *testing.T) {
	var tries []Try
	out, _ := Policy{Attempts: 1, Clock: clock.NewFake(epoch)}.Run(context.Background(), script(&tries, Retryable))
	if out.Stop != StopExhausted || out.Attempts != 1 {
		t.Fatalf("outcome %+v", out)
	}
}

func TestDeadlineStopsBeforeASleepThatWouldPassIt(t *testing.T) {
	fake := clock.NewFake(epoch)
	var tries []Try
	p := Policy{Attempts: 10, Schedule: Schedule{Base: 10 * time.Second}, Deadline: 25 * time.Second, Clock: fake}
	out, _ := p.Run(context.Background(), script(&tries, Retryable, Retryable, Retryable))
	// t=0 attempt 1, sleep 10s, t=10 attempt 2, next delay 20s would end at 30s > 25s.
	if out.Stop != StopDeadline || out.Attempts != 2 || out.UnusedDelay != 20*time.Second {
		t.Fatalf("outcome %+v", out)
	}
	equalDurations(t, fake.Slept(), []time.Duration{10 * time.Second})
	// Without a per-attempt timeout each attempt may use what is left.
	if tries[0].Timeout != 25*time.Second || tries[1].Timeout != 15*time.Second {
		t.Fatalf("attempt timeouts %v, %v; want 25s, 15s", tries[0].Timeout, tries[1].Timeout)
	}
}

func TestDeadlineSleepEndingExactlyAtItIsNotTaken(t *testing.T) {
	// A sleep ending at the deadline would leave no time for the attempt.
	fake := clock.NewFake(epoch)
	var tries []Try
	p := Policy{Attempts: 3, Schedule: Schedule{Base: 10 * time.Second}, Deadline: 10 * time.Second, Clock: fake}
	out, _ := p.Run(context.Background(), script(&tries, Retryable, Retryable))
	if out.Stop != StopDeadline || out.Attempts != 1 || len(fake.Slept()) != 0 {
		t.Fatalf("outcome %+v, slept %v", out, fake.Slept())
	}
	// One nanosecond more and the sleep fits.
	fake2 := clock.NewFake(epoch)
	tries = nil
	p.Deadline += time.Nanosecond
	p.Clock = fake2
	out, _ = p.Run(context.Background(), script(&tries, Retryable, Retryable))
	if out.Attempts != 2 || tries[1].Timeout != time.Nanosecond {
		t.Fatalf("outcome %+v, tries %+v", out, tries)
	}
}

func TestDeadlineClipsAttemptTimeoutAndCountsAttemptTime(t *testing.T) {
	fake := clock.NewFake(epoch)
	var tries []Try
	// Each attempt uses its whole timeout (a hung command).
	hang := func(_ context.Context, tr Try) Verdict {
		tries = append(tries, tr)
		fake.Advance(tr.Timeout)
		return Retryable
	}
	p := Policy{Attempts: 10, Schedule: Schedule{Base: time.Second}, Timeout: 10 * time.Second,
		Deadline: 25 * time.Second, Clock: fake}
	out, _ := p.Run(context.Background(), hang)
	// t=0 try 1 (10s) → t=10, sleep 1s → t=11 try 2 (10s) → t=21, sleep 2s → t=23,
	// try 3 gets only 2s → t=25, nothing left.
	want := []time.Duration{10 * time.Second, 10 * time.Second, 2 * time.Second}
	if len(tries) != 3 {
		t.Fatalf("%d tries: %+v", len(tries), tries)
	}
	for i, w := range want {
		if tries[i].Timeout != w {
			t.Fatalf("try %d timeout %v, want %v", i+1, tries[i].Timeout, w)
		}
	}
	if out.Stop != StopDeadline || out.Elapsed != 25*time.Second {
		t.Fatalf("outcome %+v", out)
	}
}

func TestDeadlineCountsFromRunNotFromConstruction(t *testing.T) {
	fake := clock.NewFake(epoch)
	p := Policy{Attempts: 2, Schedule: Schedule{Base: time.Second}, Deadline: time.Minute, Clock: fake}
	fake.Advance(time.Hour) // the policy sat around for an hour
	var tries []Try
	out, _ := p.Run(context.Background(), script(&tries, Retryable, Succeeded))
	if out.Stop != StopSucceeded || tries[0].Timeout != time.Minute {
		t.Fatalf("outcome %+v, tries %+v", out, tries)
	}
	// The same policy run again gets a fresh budget.
	tries = nil
	fake.Advance(time.Hour)
	out, _ = p.Run(context.Background(), script(&tries, Succeeded))
	if out.Stop != StopSucceeded || tries[0].Timeout != time.Minute {
		t.Fatalf("second run: outcome %+v, tries %+v", out, tries)
	}
}

func TestTimeoutWithoutDeadline(t *testing.T) {
	var tries []Try
	p := Policy{Attempts: 2, Timeout: 3 * time.Second, Clock: clock.NewFake(epoch)}
	p.Run(context.Background(), script(&tries, Retryable, Retryable))
	if tries[0].Timeout != 3*time.Second || tries[1].Timeout != 3*time.Second {
		t.Fatalf("tries %+v", tries)
	}
}

func TestCancelDuringAttemptStopsFurtherAttempts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fake := clock.NewFake(epoch)
	n := 0
	var last Decision
	p := Policy{Attempts: 5, Schedule: Schedule{Base: time.Second}, Clock: fake,
		OnDecision: func(d Decision) { last = d }}
	out, _ := p.Run(ctx, func(ctx context.Context, _ Try) Verdict { n++; cancel(); return Retryable })
	if out.Stop != StopCanceled || n != 1 || len(fake.Slept()) != 0 || last.Stop != StopCanceled {
		t.Fatalf("outcome %+v after %d attempts, slept %v, last %+v", out, n, fake.Slept(), last)
	}
}

func TestCancelDuringSleep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A real clock and a long delay: the sleep must end when ctx is canceled.
	n := 0
	p := Policy{Attempts: 5, Schedule: Schedule{Base: time.Hour}}
	time.AfterFunc(20*time.Millisecond, cancel)
	out, _ := p.Run(ctx, func(context.Context, Try) Verdict { n++; return Retryable })
	if out.Stop != StopCanceled || n != 1 {
		t.Fatalf("outcome %+v after %d attempts", out, n)
	}
}

func TestCanceledBeforeRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	out, _ := Policy{Attempts: 3, Clock: clock.NewFake(epoch)}.Run(ctx, func(context.Context, Try) Verdict { n++; return Succeeded })
	if out.Stop != StopCanceled || out.Attempts != 0 || n != 0 {
		t.Fatalf("outcome %+v, %d attempts", out, n)
	}
}

func TestSuccessWinsOverCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, _ := Policy{Attempts: 3, Clock: clock.NewFake(epoch)}.Run(ctx, func(context.Context, Try) Verdict { cancel(); return Succeeded })
	if out.Stop != StopSucceeded {
		t.Fatalf("outcome %+v", out)
	}
}

func TestInvalidPolicy(t *testing.T) {
	for _, p := range []Policy{{Attempts: 0}, {Attempts: 1, Timeout: -1}, {Attempts: 1, Deadline: -1},
		{Attempts: 1, Timeout: time.Nanosecond}, {Attempts: 1, Deadline: MinLimit - 1}, {Attempts: 1, Schedule: Schedule{Factor: 0.1}}} {
		called := false
		_, err := p.Run(context.Background(), func(context.Context, Try) Verdict { called = true; return Succeeded })
		if !errors.Is(err, ErrInvalidPolicy) || called {
			t.Fatalf("%+v: err %v, called %v", p, err, called)
		}
	}
}
