package canary

import (
	"slices"
	"strings"
	"testing"
)

// results builds metric results "name:group:classification[:critical]".
func results(specs ...string) []MetricResult {
	var out []MetricResult
	for _, s := range specs {
		f := strings.Split(s, ":")
		r := MetricResult{Name: f[0], Group: f[1], Classification: Classification(f[2])}
		r.Critical = len(f) > 3
		out = append(out, r)
	}
	return out
}

func score(t *testing.T, weights map[string]float64, specs ...string) Verdict {
	t.Helper()
	return verdict(results(specs...), Options{GroupWeights: weights}.withDefaults())
}

func wantVerdict(t *testing.T, v Verdict, score float64, c Classification, decisive ...string) {
	t.Helper()
	if v.Score != score || v.Classification != c || !slices.Equal(v.Decisive, decisive) {
		t.Errorf("verdict %v %s decisive %q (%s); want %v %s %q", v.Score, v.Classification, v.Decisive, v.Reason, score, c, decisive)
	}
}

func TestGroupScoresAndUnweightedGroups(t *testing.T) {
	// Group a: 1 of 2 pass (50); group b: 1 of 1 (100); equal shares: 75.
	v := score(t, nil, "a1:a:pass", "a2:a:high", "b1:b:pass")
	wantVerdict(t, v, 75, Marginal, "a2")
	if v.Reason != "score 75 < pass_score 95, >= marginal_score 75" {
		t.Errorf("reason %q", v.Reason)
	}
	// One third: two decimals.
	wantVerdict(t, score(t, nil, "x:g:pass", "y:g:low", "z:g:high"), 33.33, Fail, "y", "z")
}

func TestWeights(t *testing.T) {
	// a weighs 80: 0.8·50 + 0.2·100 = 60.
	wantVerdict(t, score(t, map[string]float64{"a": 80}, "a1:a:pass", "a2:a:high", "b1:b:pass"), 60, Fail, "a2")
	// a weighs 50; b and c share the other 50: 0.5·0 + 0.25·100 + 0.25·100.
	wantVerdict(t, score(t, map[string]float64{"a": 50}, "a1:a:high", "b1:b:pass", "c1:c:pass"), 50, Fail, "a1")
	// Every group weighted.
	wantVerdict(t, score(t, map[string]float64{"a": 10, "b": 90}, "a1:a:high", "b1:b:pass"), 90, Marginal, "a1")
	// The unnamed group "" is a group like any other.
	wantVerdict(t, score(t, map[string]float64{"": 100}, "m:a:high", "n::pass"), 100, Pass)
}

func TestNodataLeftOutOfItsGroup(t *testing.T) {
	// Nodata does not count: group a is 1 of 1; a group of only Nodata
	// counts 100. 2 of 5 unmeasured is under half.
	wantVerdict(t, score(t, nil, "a1:a:pass", "a2:a:nodata", "b1:b:nodata", "c1:c:pass", "c2:c:pass"), 100, Pass)
}

func TestHalfNodataForcesZero(t *testing.T) {
	v := score(t, nil, "a:g:pass", "b:g:nodata", "c:g:pass", "d:g:nodata")
	wantVerdict(t, v, 0, Fail, "b", "d")
	if v.Reason != "score 0: 2 of 4 metrics have no data or an error" {
		t.Errorf("reason %q", v.Reason)
	}
	// Errors are unmeasured too; a failing metric is named before them.
	wantVerdict(t, score(t, nil, "a:g:high", "b:g:error", "c:g:nodata", "d:g:pass"), 0, Fail, "a", "b", "c")
	// Just under half: scored normally.
	wantVerdict(t, score(t, nil, "a:g:pass", "b:g:nodata", "c:g:pass"), 100, Pass)
}

func TestCriticalForcesZero(t *testing.T) {
	v := score(t, nil, "ok:g:pass", "lat:g:high", "err:h:high:critical")
	wantVerdict(t, v, 0, Fail, "err", "lat")
	if v.Reason != "score 0: critical metric err did not pass" {
		t.Errorf("reason %q", v.Reason)
	}
	// Forced to Fail even when marginal_score would let 0 through.
	v = verdict(results("a:g:high:critical"), Options{PassScore: 50, MarginalScore: 0})
	wantVerdict(t, v, 0, Fail, "a")
}

func TestErrorCountsAgainstItsGroup(t *testing.T) {
	// Error is like NodataFail: 1 pass of 2 in group a, and b 100: 75.
	wantVerdict(t, score(t, nil, "a1:a:pass", "a2:a:error", "b1:b:pass", "b2:b:pass"), 75, Marginal, "a2")
	wantVerdict(t, score(t, nil, "a1:a:pass", "a2:a:nodata_fail", "b1:b:pass", "b2:b:pass"), 75, Marginal, "a2")
}

func TestThresholds(t *testing.T) {
	o := Options{PassScore: 90, MarginalScore: 50}
	for _, c := range []struct {
		score float64
		want  Classification
	}{{100, Pass}, {90, Pass}, {89.99, Marginal}, {50, Marginal}, {49.99, Fail}, {0, Fail}} {
		if got := classifyScore(c.score, o); got != c.want {
			t.Errorf("classifyScore(%v) = %s, want %s", c.score, got, c.want)
		}
	}
	if v := score(t, nil, "a:g:pass"); v.Decisive != nil || v.Reason != "score 100 >= pass_score 95" {
		t.Errorf("a passing verdict: decisive %q, reason %q", v.Decisive, v.Reason)
	}
}
