package slo

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
)

func condCheck(success, failure string) Check {
	c := Check{Name: "c", Source: Prometheus, Query: "q"}
	if success != "" {
		c.SuccessCondition = MustCondition(success)
	}
	if failure != "" {
		c.FailureCondition = MustCondition(failure)
	}
	return c
}

func TestConditionPhases(t *testing.T) {
	multi := Answer{Series: []Series{series("i=a", 0.001), series("i=b", 0.5)}}
	cases := []struct {
		name             string
		success, failure string
		answer           any
		phase            Phase
		reason           string
	}{
		{"argo condition as written", "result[0] <= 0.01", "", one(0.001), PhasePassed, "meets the success condition"},
		{"success only, not met, fails", "result[0] <= 0.01", "", one(0.5), PhaseFailed, "does not meet the success condition"},
		{"failure only, not met, passes", "", "result[0] > 0.01", one(0.001), PhasePassed, "does not meet the failure condition"},
		{"failure holds", "result[0] <= 0.01", "result[0] > 0.1", one(0.5), PhaseFailed, "meets the failure condition"},
		{"neither holds", "result[0] <= 0.01", "result[0] > 0.1", one(0.05), PhaseInconclusive, "meets neither"},
		{"every series counts", "all(result, {# <= 0.01})", "", multi, PhaseFailed, "result [0.001, 0.5]"},
		// NaN: a lone failure condition would pass it (Argo's fail-open:
		// NaN > 0.01 is false); it is an error unless a condition asks
		// about NaN with isNaN, isInf or default.
		{"NaN with isNaN", "!isNaN(result[0]) && result[0] <= 0.01", "", one(math.NaN()), PhaseFailed, "result [NaN]"},
		{"NaN under a lone failure condition", "", "result[0] > 0.01", one(math.NaN()), PhaseError, "result [NaN] holds NaN or ±Inf, which no condition asks about"},
		{"NaN leaves both conditions false", "result[0] <= 0.01", "result[0] > 0.1", one(math.NaN()), PhaseError, "holds NaN or ±Inf"},
		{"one NaN series of several", "", "any(result, {# > 0.01})", Answer{Series: []Series{series("i=a", 0.001), series("i=b", math.NaN())}}, PhaseError, "result [0.001, NaN]"},
		{"-Inf under a success condition", "result[0] <= 0.01", "", one(math.Inf(-1)), PhaseError, "holds NaN or ±Inf"},
		{"NaN a failure condition says is fine", "", "!isNaN(result[0]) && result[0] > 0.01", one(math.NaN()), PhasePassed, "does not meet the failure condition"},
		{"Inf with isInf", "", "isInf(result[0]) || result[0] > 0.01", one(math.Inf(1)), PhaseFailed, "result [+Inf]"},
		{"default", "default(result[0], 1) <= 0.01", "", one(math.NaN()), PhaseFailed, ""},
		// Empty answers: result = [], result[0] cannot be evaluated.
		{"empty index is an error", "result[0] <= 0.01", "", Answer{}, PhaseError, "cannot be evaluated on result []"},
		{"empty vacuous pass is still no data", "all(result, {# <= 0.01})", "", Answer{}, PhaseError, "no data (the conditions pass on an empty result"},
		{"empty failure guard fails", "", "len(result) == 0", Answer{}, PhaseFailed, "meets the failure condition"},
		{"query error", "result[0] <= 0.01", "", errors.New("prometheus: 503"), PhaseError, "prometheus: 503"},
	}
	for _, tc := range cases {
		r := evalOne(t, condCheck(tc.success, tc.failure), answers{"q": tc.answer})
		if r.Phase != tc.phase || !strings.Contains(r.Reason, tc.reason) || r.Passed != (tc.phase == PhasePassed) {
			t.Errorf("%s: phase %s, reason %q; want %s, %q", tc.name, r.Phase, r.Reason, tc.phase, tc.reason)
		}
	}
}

func TestEmptyAnswerWithOnEmptyPassReachesTheConditions(t *testing.T) {
	c := condCheck("len(result) == 0 || result[0] <= 0.01", "")
	c.OnEmpty = EmptyPasses
	if r := evalOne(t, c, answers{"q": Answer{}}); r.Phase != PhasePassed {
		t.Errorf("%+v", r)
	}
}

func TestBoundsApplyBeforeConditions(t *testing.T) {
	c := condCheck("true", "")
	c.Max = Float(0.01)
	if r := evalOne(t, c, answers{"q": one(0.5)}); r.Phase != PhaseFailed || r.Reason != "0.5 > 0.01" {
		t.Errorf("%+v", r)
	}
	if r := evalOne(t, c, answers{"q": one(math.NaN())}); r.Phase != PhaseError || r.Reason != "NaN" {
		t.Errorf("%+v", r)
	}
	c.SuccessCondition = MustCondition("result[0] < 0.001")
	if r := evalOne(t, c, answers{"q": one(0.005)}); r.Phase != PhaseFailed || !strings.Contains(r.Reason, "success condition") {
		t.Errorf("%+v", r)
	}
}

func TestMalformedConditionsAreConfigErrors(t *testing.T) {
	for _, text := range []string{"", "result[0] <=", "reslt[0] < 1", "result[0]", "len(result)", "foo(result)"} {
		if _, err := CompileCondition(text); err == nil {
			t.Errorf("%q compiled", text)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", text, err)
		}
	}
}

func TestPresenceWithAZeroCount(t *testing.T) {
	// VictoriaLogs answers a count of 0, not an empty vector: the presence
	// query still tells "no errors" from "no lines at all".
	c := logCheck()
	if r := evalOne(t, c, answers{"errors": one(0), "lines": one(40)}); r.Phase != PhasePassed || value(r) != 0.0 {
		t.Errorf("%+v", r)
	}
	if r := evalOne(t, c, answers{"errors": one(0), "lines": one(0)}); r.Phase != PhaseError || r.Reason != "no data" {
		t.Errorf("%+v", r)
	}
}

func TestDryRunChecksNeverDecide(t *testing.T) {
	dry := maxCheck("dry", "bad", 0.01)
	dry.DryRun = true
	checks := []Check{maxCheck("real", "good", 0.01), dry}
	ev := Evaluate(context.Background(), checks, map[Source]Querier{Prometheus: answers{"good": one(0.001), "bad": one(0.5)}}, t0, Trust{})
	if !ev.Passed || ev.Phase != PhasePassed || ev.Results[1].Phase != PhaseFailed || !ev.Results[1].DryRun || ev.Summary() != "" {
		t.Errorf("%+v", ev)
	}
	ev = Evaluate(context.Background(), checks, map[Source]Querier{Prometheus: answers{"good": one(0.5), "bad": one(0.5)}}, t0, Trust{})
	if ev.Passed || ev.Summary() != "real 0.5 > 0.01" {
		t.Errorf("%+v", ev)
	}
}

func TestEvaluationPhaseIsTheWorst(t *testing.T) {
	inc := condCheck("result[0] <= 0.01", "result[0] > 0.1")
	inc.Name, inc.Query = "inc", "mid"
	checks := []Check{maxCheck("ok", "good", 1), inc}
	q := answers{"good": one(0.5), "mid": one(0.05), "gone": errors.New("down")}
	if ev := Evaluate(context.Background(), checks, map[Source]Querier{Prometheus: q}, t0, Trust{}); ev.Phase != PhaseInconclusive {
		t.Errorf("%s", ev.Phase)
	}
	checks = append(checks, maxCheck("err", "gone", 1))
	if ev := Evaluate(context.Background(), checks, map[Source]Querier{Prometheus: q}, t0, Trust{}); ev.Phase != PhaseError {
		t.Errorf("%s", ev.Phase)
	}
	checks = append(checks, maxCheck("bad", "good", 0.1))
	if ev := Evaluate(context.Background(), checks, map[Source]Querier{Prometheus: q}, t0, Trust{}); ev.Phase != PhaseFailed {
		t.Errorf("%s", ev.Phase)
	}
}

// errorsThen answers with an error n times, then v.
func errorsThen(n int, v float64) Querier {
	i := 0
	return QuerierFunc(func(_ context.Context, _ string, at time.Time) (Answer, error) {
		i++
		if i <= n {
			return Answer{}, errors.New("prometheus: 503 unavailable")
		}
		return stamped(one(v), at), nil
	})
}

func TestLimitsStopPollingAtOnce(t *testing.T) {
	describe := func(f string) string { return map[string]string{"FailureLimit": "failure_limit"}[f] + f }
	for _, tc := range []struct {
		name   string
		q      Querier
		limits *Limits
		stop   Stop
		phase  Phase
		evals  int
		msg    string
	}{
		{"default: 5 errors in a row", errorsThen(100, 0), nil, StopErrorLimit, PhaseError, 5, "ConsecutiveErrorLimit 4 exceeded: 5 errored evaluations in a row: 5xx_ratio: prometheus: 503 unavailable"},
		{"errors then data", errorsThen(4, 0.001), nil, StopStable, PhasePassed, 5, "the check passed (5 evaluations)"},
		{"failure limit 0", script(0.5), &Limits{Failure: 0, Inconclusive: -1, ConsecutiveError: -1}, StopFailureLimit, PhaseFailed, 1, "failure_limitFailureLimit 0 exceeded: 1 failed evaluation of 1: 5xx_ratio 0.5 > 0.01"},
		{"failure limit 2", script(0.5, 0.001, 0.5, 0.5), &Limits{Failure: 2, Inconclusive: -1, ConsecutiveError: -1}, StopStable, PhasePassed, 2, ""},
		{"no limits: until timeout", errorsThen(100, 0), &Limits{Failure: -1, Inconclusive: -1, ConsecutiveError: -1}, StopTimeout, PhaseError, 7, ""},
	} {
		g := gate(tc.q, clock.NewFake(t0))
		g.Interval, g.Timeout, g.Limits, g.Describe = 10*time.Second, time.Minute, tc.limits, describe
		rep := run(t, g)
		if rep.Stop != tc.stop || rep.Phase != tc.phase || rep.Evaluations != tc.evals || (tc.msg != "" && rep.Msg != tc.msg) {
			t.Errorf("%s: stop %s, phase %s, %d evaluations, %q", tc.name, rep.Stop, rep.Phase, rep.Evaluations, rep.Msg)
		}
	}
}

func TestInconclusiveGate(t *testing.T) {
	inc := condCheck("result[0] <= 0.01", "result[0] > 0.1")
	q := map[Source]Querier{Prometheus: script(0.05)}
	g := Gate{Checks: []Check{inc}, Queriers: q, Clock: clock.NewFake(t0)}
	if rep := run(t, g); rep.Passed || rep.Phase != PhaseInconclusive {
		t.Errorf("%+v", rep)
	}
	g.PassInconclusive = true
	if rep := run(t, g); !rep.Passed || rep.Phase != PhaseInconclusive || !strings.HasPrefix(rep.Msg, "inconclusive, which passes") {
		t.Errorf("%+v", rep)
	}
	g.PassInconclusive, g.Interval, g.Timeout = false, 10*time.Second, time.Minute
	g.Limits = &Limits{Failure: -1, Inconclusive: 2, ConsecutiveError: 4}
	if rep := run(t, g); rep.Stop != StopInconclusiveLimit || rep.Evaluations != 3 || !strings.HasPrefix(rep.Msg, "InconclusiveLimit 2 exceeded") {
		t.Errorf("%+v", rep)
	}
}

func TestInitialDelayComesFirstAndTimeoutCountsAfterIt(t *testing.T) {
	clk := clock.NewFake(t0)
	g := gate(script(0.5, 0.5, 0.001), clk)
	g.InitialDelay, g.Interval, g.Timeout = 5*time.Minute, 10*time.Second, 30*time.Second
	rep := run(t, g)
	if !rep.Passed || rep.Measurements[0].At != t0.Add(5*time.Minute) || rep.Evaluations != 3 {
		t.Errorf("%+v", rep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, _ = gate(script(0.001), clock.NewFake(t0)).withDelay(time.Minute).Run(ctx)
	if rep.Passed || rep.Evaluations != 0 || rep.Phase != PhaseError || rep.Stop != StopCanceled {
		t.Errorf("%+v", rep)
	}
}

func (g Gate) withDelay(d time.Duration) Gate { g.InitialDelay = d; return g }

func TestMeasurementsKeepTheLastRetention(t *testing.T) {
	g := gate(script(0.5, 0.5, 0.5, 0.5, 0.001), clock.NewFake(t0))
	g.Interval, g.Timeout, g.Retention = 10*time.Second, time.Minute, 3
	rep := run(t, g)
	if rep.Evaluations != 5 || len(rep.Measurements) != 3 || rep.Measurements[2].At != rep.Last.At ||
		rep.Measurements[0].At != t0.Add(20*time.Second) || rep.Measurements[0].Results[0].Values[0] != 0.5 {
		t.Errorf("%+v", rep.Measurements)
	}
}

func TestACheckMayBringItsOwnQuerier(t *testing.T) {
	c := Check{Name: "web", Source: Web, Query: "GET https://x/ $.v", Max: Float(1), Querier: answers{"GET https://x/ $.v": one(0.5)}}
	g := Gate{Checks: []Check{c}, Queriers: map[Source]Querier{}, Clock: clock.NewFake(t0)}
	if rep := run(t, g); !rep.Passed || rep.Last.Results[0].Reason != "0.5 <= 1" {
		t.Errorf("%+v", rep)
	}
	c.Querier = nil
	g.Checks = []Check{c}
	if err := g.Validate(); err == nil || err.Error() != "check web: no web endpoint is configured" {
		t.Errorf("%v", err)
	}
}

func TestAGateOfDryRunsOnlyIsRefused(t *testing.T) {
	dry := maxCheck("dry", "q", 1)
	dry.DryRun = true
	if err := ValidateChecks([]Check{dry}); err == nil || err.Error() != "every check is a dry run: nothing would decide the gate" {
		t.Errorf("%v", err)
	}
}

// FuzzCondition compiles any text and runs what compiles over a few
// results: a configuration error or a phase, never a panic.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"result[0] <= 0.01", "all(result, {# < 1})", "isNaN(result[0])", "default(result[0], 1) > 0",
		"len(result) == 0 || result[0] > 1", "result[-1] > 0", "result[0:2] == []", "1/0 > 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := CompileCondition(text)
		if err != nil {
			return
		}
		for _, values := range [][]float64{nil, {math.NaN()}, {0.5, math.Inf(1)}} {
			c.holds(values)
		}
	})
}
