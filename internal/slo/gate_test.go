package slo

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/threader/guard/internal/clock"
)

// timeline answers with the value of the step the query time falls in: the
// series is "bad" (0.5) before stableAt and "good" (0.001) from then on, like a
// service that recovers.
func timeline(stableAt time.Time) Querier {
	return QuerierFunc(func(_ context.Context, _ string, at time.Time) (Answer, error) {
		if at.Before(stableAt) {
			return stamped(one(0.5), at), nil
		}
		return stamped(one(0.001), at), nil
	})
}

// script answers with values[i] on the i-th query (the last value repeats).
func script(values ...float64) Querier {
	var mu sync.Mutex
	i := 0
	return QuerierFunc(func(_ context.Context, _ string, at time.Time) (Answer, error) {
		mu.Lock()
		defer mu.Unlock()
		v := values[min(i, len(values)-1)]
		i++
		return stamped(one(v), at), nil
	})
}

func gate(q Querier, clk clock.Clock) Gate {
	return Gate{Checks: []Check{maxCheck("5xx_ratio", "q", 0.01)}, Queriers: map[Source]Querier{Prometheus: q}, Clock: clk}
}

func run(t *testing.T, g Gate) Report {
	t.Helper()
	rep, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestSingleEvaluationWithoutPolling(t *testing.T) {
	clk := clock.NewFake(t0)
	rep := run(t, gate(script(0.023), clk))
	if rep.Passed || rep.Evaluations != 1 || rep.Stop != StopFailed || rep.Msg != "5xx_ratio 0.023 > 0.01" {
		t.Errorf("%+v", rep)
	}
	if len(clk.Slept()) != 0 {
		t.Errorf("slept %v without polling", clk.Slept())
	}
	rep = run(t, gate(script(0.001), clk))
	if !rep.Passed || rep.Msg != "the check passed" || !rep.Last.At.Equal(t0) {
		t.Errorf("%+v", rep)
	}
}

func TestPollingReturnsAtTheFirstStableEvaluation(t *testing.T) {
	clk := clock.NewFake(t0)
	g := gate(timeline(t0.Add(95*time.Second)), clk)
	g.Interval, g.Timeout = 30*time.Second, 10*time.Minute
	var seen []time.Time
	g.Progress = func(n, streak int, e Evaluation) { seen = append(seen, e.At) }
	rep := run(t, g)
	// Evaluations at 0, 30, 60, 90 fail; 120 is the first at or after 95s.
	if !rep.Passed || rep.Evaluations != 5 || !rep.Last.At.Equal(t0.Add(120*time.Second)) {
		t.Fatalf("%+v", rep)
	}
	if got := rep.Last.At.Sub(t0.Add(95 * time.Second)); got > g.Interval {
		t.Errorf("returned %s after the data turned stable, more than one interval", got)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}, clk.Slept()); diff != "" {
		t.Errorf("sleeps: %s", diff)
	}
	if len(seen) != 5 || rep.Msg != "the check passed (5 evaluations)" {
		t.Errorf("progress %v, msg %q", seen, rep.Msg)
	}
}

func TestConsecutivePassesResetOnAFailure(t *testing.T) {
	clk := clock.NewFake(t0)
	g := gate(script(0.001, 0.5, 0.001, 0.001, 0.001), clk)
	g.Interval, g.Timeout, g.Consecutive = 10*time.Second, time.Minute, 3
	var streaks []int
	g.Progress = func(n, streak int, e Evaluation) { streaks = append(streaks, streak) }
	rep := run(t, g)
	if !rep.Passed || rep.Evaluations != 5 || rep.Streak != 3 {
		t.Fatalf("%+v", rep)
	}
	if diff := cmp.Diff([]int{1, 0, 1, 2, 3}, streaks); diff != "" {
		t.Error(diff)
	}
	if rep.Msg != "the check passed 3 times in a row (5 evaluations)" {
		t.Errorf("msg %q", rep.Msg)
	}
}

func TestTimeoutFailsWithTheLastEvaluation(t *testing.T) {
	clk := clock.NewFake(t0)
	g := gate(script(0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.023, 0.001), clk)
	g.Interval, g.Timeout = 10*time.Second, time.Minute
	rep := run(t, g)
	// Evaluations at 0, 10, ..., 60s: seven, the last one still failing.
	if rep.Passed || rep.Evaluations != 7 || rep.Stop != StopTimeout || !rep.Last.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("%+v", rep)
	}
	if want := "not stable within 1m0s (7 evaluations): 5xx_ratio 0.023 > 0.01"; rep.Msg != want {
		t.Errorf("msg %q, want %q", rep.Msg, want)
	}
}

func TestTimeoutWhileTheStreakIsTooShort(t *testing.T) {
	clk := clock.NewFake(t0)
	g := gate(script(0.5, 0.5, 0.001), clk)
	g.Interval, g.Timeout, g.Consecutive = 10*time.Second, 20*time.Second, 2
	rep := run(t, g)
	if rep.Passed || rep.Streak != 1 || !strings.Contains(rep.Msg, "the last evaluation passed, but only once in a row of 2 needed") {
		t.Errorf("%+v", rep)
	}
}

func TestScheduleIsFixedRateWhenEvaluationsTakeTime(t *testing.T) {
	clk := clock.NewFake(t0)
	slow := QuerierFunc(func(_ context.Context, _ string, at time.Time) (Answer, error) {
		clk.Advance(4 * time.Second) // the query takes 4s
		return one(0.5), nil
	})
	g := gate(slow, clk)
	g.Interval, g.Timeout = 10*time.Second, 30*time.Second
	var ats []time.Duration
	g.Progress = func(_, _ int, e Evaluation) { ats = append(ats, e.At.Sub(t0)) }
	run(t, g)
	if diff := cmp.Diff([]time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second}, ats); diff != "" {
		t.Errorf("evaluation times: %s", diff)
	}
	if diff := cmp.Diff([]time.Duration{6 * time.Second, 6 * time.Second, 6 * time.Second}, clk.Slept()); diff != "" {
		t.Errorf("sleeps: %s", diff)
	}
}

func TestAnEvaluationLongerThanTheIntervalIsFollowedAtOnce(t *testing.T) {
	clk := clock.NewFake(t0)
	slow := QuerierFunc(func(context.Context, string, time.Time) (Answer, error) {
		clk.Advance(15 * time.Second)
		return one(0.5), nil
	})
	g := gate(slow, clk)
	g.Interval, g.Timeout = 10*time.Second, 25*time.Second
	rep := run(t, g)
	if diff := cmp.Diff([]time.Duration{0, 0}, clk.Slept()); diff != "" {
		t.Errorf("sleeps: %s", diff)
	}
	if rep.Evaluations != 3 {
		t.Errorf("%d evaluations", rep.Evaluations)
	}
}

func TestCancelStopsPolling(t *testing.T) {
	clk := clock.NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	g := gate(script(0.5), clk)
	g.Interval, g.Timeout = 10*time.Second, time.Hour
	g.Progress = func(n, _ int, _ Evaluation) {
		if n == 2 {
			cancel()
		}
	}
	rep, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed || rep.Stop != StopCanceled || rep.Evaluations != 2 || !strings.HasPrefix(rep.Msg, "canceled after 2 evaluations: ") {
		t.Errorf("%+v", rep)
	}
}

func TestAllChecksPassMessage(t *testing.T) {
	g := Gate{Checks: []Check{maxCheck("a", "q", 1), maxCheck("b", "q", 1), minCheck("c", "q", 0)},
		Queriers: map[Source]Querier{Prometheus: script(0.5)}, Clock: clock.NewFake(t0)}
	if rep := run(t, g); rep.Msg != "all 3 checks passed" {
		t.Errorf("msg %q", rep.Msg)
	}
}

func TestGateValidate(t *testing.T) {
	base := gate(script(0), clock.NewFake(t0))
	cases := map[string]func(g *Gate){
		"consecutive 3 needs an interval": func(g *Gate) { g.Consecutive = 3 },
		"needs a timeout":                 func(g *Gate) { g.Interval = time.Second },
		"too short for 3 consecutive":     func(g *Gate) { g.Interval, g.Timeout, g.Consecutive = time.Minute, time.Minute, 3 },
		"interval must be >= 0":           func(g *Gate) { g.Interval = -1 },
		"no loki endpoint is configured":  func(g *Gate) { g.Checks = []Check{logCheck()} },
		"no checks to evaluate":           func(g *Gate) { g.Checks = nil },
		"check x: needs max, min, success_condition or failure_condition": func(g *Gate) { g.Checks = []Check{{Name: "x", Source: Prometheus, Query: "q"}} },
		"consecutive must be >= 1, got -1":                                func(g *Gate) { g.Consecutive = -1 },
		"timeout must be >= 0, got -1ns":                                  func(g *Gate) { g.Timeout = -1 },
	}
	for want, mutate := range cases {
		g := base
		mutate(&g)
		if _, err := g.Run(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want error containing %q, got %v", want, err)
		}
	}
}
