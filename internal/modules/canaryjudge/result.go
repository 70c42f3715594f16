package canaryjudge

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"

	"github.com/threader/guard/internal/canary"
)

// timeFormat is RFC 3339 in UTC.
const timeFormat = time.RFC3339

// judgement is a plan's outcome: the verdict and whether the task fails.
type judgement struct {
	verdict canary.Verdict
	failed  bool
	msg     string
}

// decide says whether the verdict fails the task and why. Fail closed: a
// metric that could not be measured (error: a failed query, two series)
// fails the judgement whatever the score, since the score leaves errors out
// as Kayenta does; such a verdict is reported as fail.
func (p plan) decide(v canary.Verdict) judgement {
	var broken []string
	for _, m := range v.Metrics {
		if m.Classification == canary.Error {
			broken = append(broken, m.Name)
		}
	}
	if len(broken) > 0 && v.Classification != canary.Fail {
		v.Classification = canary.Fail
		v.Decisive = broken
	}
	j := judgement{verdict: v}
	j.failed = v.Classification == canary.Fail || (v.Classification == canary.Marginal && p.failOnMarginal) ||
		(v.Classification != canary.Pass && v.Classification != canary.Marginal) // an unknown verdict never passes
	j.msg = p.message(v)
	return j
}

// message is one line: the verdict, the score against the thresholds, and
// the metrics that decided a verdict other than pass, with their reasons.
func (p plan) message(v canary.Verdict) string {
	score := formatNumber(v.Score)
	switch v.Classification {
	case canary.Pass:
		return fmt.Sprintf("canary passed: score %s (pass_score %s), %d metrics judged", score,
			formatNumber(p.passScore()), len(v.Metrics))
	case canary.Marginal:
		return fmt.Sprintf("canary is marginal: score %s is below pass_score %s; deciding metrics: %s", score,
			formatNumber(p.passScore()), deciding(v))
	}
	return fmt.Sprintf("canary failed: score %s (marginal_score %s); deciding metrics: %s", score,
		formatNumber(p.marginalScore()), deciding(v))
}

// passScore and marginalScore are the thresholds the judge used: both 0
// means its defaults (canary.Options).
func (p plan) passScore() float64 {
	if p.opts.PassScore == 0 && p.opts.MarginalScore == 0 {
		return canary.DefaultPassScore
	}
	return p.opts.PassScore
}

func (p plan) marginalScore() float64 {
	if p.opts.PassScore == 0 && p.opts.MarginalScore == 0 {
		return canary.DefaultMarginalScore
	}
	return p.opts.MarginalScore
}

// deciding lists the verdict's decisive metrics ("latency high (critical):
// reason"), or every metric that did not pass when the judge named none.
func deciding(v canary.Verdict) string {
	names := map[string]bool{}
	for _, n := range v.Decisive {
		names[n] = true
	}
	var parts []string
	for _, m := range v.Metrics {
		if (len(names) > 0 && !names[m.Name]) || (len(names) == 0 && m.Classification == canary.Pass) {
			continue
		}
		part := m.Name + " " + string(m.Classification)
		if m.Critical {
			part += " (critical)"
		}
		if m.Reason != "" {
			part += ": " + oneLine(m.Reason)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "none named"
	}
	return strings.Join(parts, "; ")
}

// resultFields is the module result (and the CLI's --json object), without
// changed/failed, which the front ends add. NaN becomes null.
func (p plan) resultFields(j judgement) map[string]any {
	v := j.verdict
	metrics := make([]any, 0, len(v.Metrics))
	for _, m := range v.Metrics {
		metrics = append(metrics, map[string]any{
			"name":           m.Name,
			"group":          m.Group,
			"classification": string(m.Classification),
			"critical":       m.Critical,
			"canary":         summaryFields(m.Canary),
			"baseline":       summaryFields(m.Baseline),
			"estimate":       number(m.Estimate),
			"ci_lower":       number(m.CILower),
			"ci_upper":       number(m.CIUpper),
			"effect_size":    number(m.EffectSize),
			"reason":         m.Reason,
		})
	}
	decisive := make([]any, 0, len(v.Decisive))
	for _, d := range v.Decisive {
		decisive = append(decisive, d)
	}
	return map[string]any{
		"score":          number(v.Score),
		"classification": string(v.Classification),
		"passed":         !j.failed,
		"decisive":       decisive,
		"metrics":        metrics,
		"interval": map[string]any{
			"start":        p.interval.start.Format(timeFormat),
			"end":          p.interval.end.Format(timeFormat),
			"step":         model.Duration(p.interval.step).String(),
			"step_seconds": p.interval.step.Seconds(),
			"points":       p.interval.points(),
		},
		"msg": j.msg,
	}
}

func summaryFields(s canary.Summary) map[string]any {
	return map[string]any{"count": s.Count, "mean": number(s.Mean)}
}

// number is f, or nil (JSON null) when f is NaN or infinite.
func number(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

func formatNumber(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// writeTable prints the interval, one row per metric and a final line:
// PASSED, MARGINAL or FAILED with the message.
func writeTable(w io.Writer, p plan, j judgement) {
	fmt.Fprintf(w, "interval %s to %s, step %s (%d points per query)\n", p.interval.start.Format(timeFormat),
		p.interval.end.Format(timeFormat), model.Duration(p.interval.step), p.interval.points())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tGROUP\tRESULT\tCANARY n/mean\tBASELINE n/mean\tESTIMATE\tINTERVAL\tEFFECT\tREASON")
	for _, m := range j.verdict.Metrics {
		result := string(m.Classification)
		if m.Classification != canary.Pass {
			result = strings.ToUpper(result)
		}
		if m.Critical {
			result += " (critical)"
		}
		group := m.Group
		if group == "" {
			group = "-"
		}
		ci := "-"
		if !math.IsNaN(m.CILower) && !math.IsNaN(m.CIUpper) {
			ci = "[" + formatNumber(m.CILower) + ", " + formatNumber(m.CIUpper) + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%s\t%d/%s\t%s\t%s\t%s\t%s\n", m.Name, group, result,
			m.Canary.Count, formatNumber(m.Canary.Mean), m.Baseline.Count, formatNumber(m.Baseline.Mean),
			formatNumber(m.Estimate), ci, formatNumber(m.EffectSize), oneLine(m.Reason))
	}
	tw.Flush()
	verdict := map[canary.Classification]string{canary.Pass: "PASSED", canary.Marginal: "MARGINAL"}[j.verdict.Classification]
	if verdict == "" {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s\n", verdict, j.msg)
}
