package canary

import (
	"fmt"
	"math"
	"strings"
)

// groupScore is one group's share of passing metrics.
type groupScore struct {
	name        string
	pass, total int // total counts Pass, High, Low, NodataFail and Error
}

// value is 100·pass/total; a group with nothing countable (only Nodata)
// counts 100, as Kayenta's scorer has it.
func (g groupScore) value() float64 {
	if g.total == 0 {
		return 100
	}
	return 100 * float64(g.pass) / float64(g.total)
}

// counts reports whether a classification takes part in its group's score:
// all but Nodata. Error counts against the group like NodataFail, since a
// gate that cannot measure does not pass.
func counts(c Classification) bool { return c != Nodata }

// groupScores tallies the results by group, in the order groups first
// appear, so the arithmetic (and its rounding) is always the same.
func groupScores(results []MetricResult) []groupScore {
	var groups []groupScore
	index := map[string]int{}
	for _, r := range results {
		i, ok := index[r.Group]
		if !ok {
			i = len(groups)
			index[r.Group] = i
			groups = append(groups, groupScore{name: r.Group})
		}
		if counts(r.Classification) {
			groups[i].total++
		}
		if r.Classification == Pass {
			groups[i].pass++
		}
	}
	return groups
}

// weightedSum adds the group scores by weight: a group in weights gets its
// weight, the other groups share what is left equally.
func weightedSum(groups []groupScore, weights map[string]float64) float64 {
	left, unweighted := 100.0, 0
	for _, g := range groups {
		if w, ok := weights[g.name]; ok {
			left -= w
		} else {
			unweighted++
		}
	}
	sum := 0.0
	for _, g := range groups {
		w, ok := weights[g.name]
		if !ok {
			w = left / float64(unweighted)
		}
		sum += g.value() * w / 100
	}
	return math.Max(0, math.Min(100, sum))
}

// round2 rounds a score to two decimals.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// verdict scores the results and classifies the score (see Judge).
func verdict(results []MetricResult, o Options) Verdict {
	v := Verdict{Metrics: results, Score: round2(weightedSum(groupScores(results), o.GroupWeights))}
	critical, failing, unmeasured := sortOut(results)
	var forced string
	switch {
	case len(critical) > 0:
		forced = "critical metric " + strings.Join(critical, ", ") + " did not pass"
	case 2*len(unmeasured) >= len(results):
		forced = fmt.Sprintf("%d of %d metrics have no data or an error", len(unmeasured), len(results))
	}
	v.Classification = classifyScore(v.Score, o)
	if forced != "" {
		v.Score, v.Classification = 0, Fail // whatever marginal_score says
	}
	v.Reason = scoreReason(v, o, forced)
	if v.Classification != Pass {
		v.Decisive = decisive(critical, failing, unmeasured, forced != "" && len(critical) == 0)
	}
	return v
}

// sortOut names the critical non-pass metrics, the failing ones (High,
// Low, NodataFail, Error, not critical) and the unmeasured ones (Nodata
// and Error, for the half-unmeasured rule).
func sortOut(results []MetricResult) (critical, failing, unmeasured []string) {
	for _, r := range results {
		switch {
		case r.Critical:
			critical = append(critical, r.Name)
		case r.Classification != Pass && r.Classification != Nodata:
			failing = append(failing, r.Name)
		}
		if r.Classification == Nodata || r.Classification == Error {
			unmeasured = append(unmeasured, r.Name)
		}
	}
	return critical, failing, unmeasured
}

// decisive lists the critical metrics first, then the failing ones, then,
// when they forced the score to 0, the unmeasured ones not yet named.
func decisive(critical, failing, unmeasured []string, unmeasuredForced bool) []string {
	out := append(append([]string{}, critical...), failing...)
	if unmeasuredForced {
		named := map[string]bool{}
		for _, n := range out {
			named[n] = true
		}
		for _, n := range unmeasured {
			if !named[n] {
				out = append(out, n)
			}
		}
	}
	return out
}

func classifyScore(score float64, o Options) Classification {
	switch {
	case score >= o.PassScore:
		return Pass
	case score >= o.MarginalScore:
		return Marginal
	}
	return Fail
}

func scoreReason(v Verdict, o Options, forced string) string {
	if forced != "" {
		return "score 0: " + forced
	}
	switch v.Classification {
	case Pass:
		return fmt.Sprintf("score %s >= pass_score %s", short(v.Score), short(o.PassScore))
	case Marginal:
		return fmt.Sprintf("score %s < pass_score %s, >= marginal_score %s", short(v.Score), short(o.PassScore), short(o.MarginalScore))
	}
	return fmt.Sprintf("score %s < marginal_score %s", short(v.Score), short(o.MarginalScore))
}
