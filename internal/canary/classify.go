package canary

import (
	"fmt"
	"slices"
)

// boundFraction is Kayenta's tolerance around no change: a shift counts
// only when its interval clears a quarter of the estimate's size.
const boundFraction = 0.25

// classifyMetric judges one metric (steps 1 to 7 of the package comment).
func classifyMetric(m Metric, s Samples, confidence float64) MetricResult {
	res := MetricResult{
		Name: m.Name, Group: m.Group,
		Canary: Summary{Mean: nan}, Baseline: Summary{Mean: nan},
		Estimate: nan, CILower: nan, CIUpper: nan, EffectSize: nan,
	}
	if s.Err != nil {
		return res.failed(m, Error, "could not get the data: "+s.Err.Error())
	}
	if reason := infiniteReason(s); reason != "" {
		return res.failed(m, Error, reason)
	}
	canaryAll := handleNaN(s.Canary, m.NaNStrategy)
	canary, baseline := canaryAll, handleNaN(s.Baseline, m.NaNStrategy)
	if m.Outliers == RemoveOutliers {
		canary, baseline = withoutOutliers(canary), withoutOutliers(baseline)
	}
	res.Canary, res.Baseline = summarize(canary), summarize(baseline)
	if reason := maxExceeded(canaryAll, m.MaxCanaryValue); reason != "" {
		return res.failed(m, High, reason)
	}
	if len(canary) == 0 || len(baseline) == 0 {
		return res.noData(m)
	}
	return res.compare(m, canary, baseline, confidence)
}

func summarize(values []float64) Summary {
	return Summary{Count: len(values), Mean: mean(values)}
}

// failed sets a classification that is not Pass and needs no test: an
// error or a breach of MaxCanaryValue. It is critical when the metric is.
func (res MetricResult) failed(m Metric, c Classification, reason string) MetricResult {
	res.Classification, res.Critical, res.Reason = c, m.Critical, reason
	return res
}

// infiniteReason refuses +Inf and -Inf points: they cannot be ranked
// against each other or averaged, and Prometheus returns +Inf for a
// histogram_quantile in the +Inf bucket, which is no value to pass on.
func infiniteReason(s Samples) string {
	for _, side := range []struct {
		name   string
		values []float64
	}{{"canary", s.Canary}, {"baseline", s.Baseline}} {
		if i := firstInf(side.values); i >= 0 {
			return fmt.Sprintf("%s point %d of %d is %v; infinite values cannot be compared", side.name, i+1, len(side.values), side.values[i])
		}
	}
	return ""
}

// maxExceeded checks the absolute bound on every canary point, outliers
// included (a spike above the bound is what the bound is for).
func maxExceeded(canary []float64, limit *float64) string {
	if limit == nil {
		return ""
	}
	above, peak := 0, *limit
	for _, v := range canary {
		if v > *limit {
			above++
			peak = max(peak, v)
		}
	}
	if above == 0 {
		return ""
	}
	return fmt.Sprintf("canary above max_canary_value %s: peak %s, %d of %d points above", short(*limit), short(peak), above, len(canary))
}

// noData: a side without points. A metric that must have data, or is
// critical, fails closed (NodataFail); the others are left out of the score.
func (res MetricResult) noData(m Metric) MetricResult {
	side := "canary"
	switch {
	case res.Canary.Count == 0 && res.Baseline.Count == 0:
		side = "canary and baseline"
	case res.Baseline.Count == 0:
		side = "baseline"
	}
	res.Classification, res.Reason = Nodata, "no data for the "+side
	if m.MustHaveData || m.Critical {
		res.Classification, res.Critical = NodataFail, m.Critical
		res.Reason += " (must have data)"
		if m.Critical {
			res.Reason = "no data for the " + side + " (critical metric)"
		}
	}
	return res
}

// compare runs the test on two non-empty samples (steps 5 to 7).
func (res MetricResult) compare(m Metric, canary, baseline []float64, confidence float64) MetricResult {
	bounds := m.EffectSize.resolve()
	r := newRankTest(canary, baseline) // both sorted once, for every step below
	if same := identical(r.x, r.y); same != "" {
		res.Estimate, res.CILower, res.CIUpper = 0, 0, 0
		res.EffectSize = neutralEffect(bounds.measure)
		res.Classification, res.Reason = Pass, same
		return res
	}
	s, err := r.shift(confidence)
	if err != nil {
		return res.failed(m, Error, "Mann-Whitney test: "+err.Error())
	}
	res.Estimate, res.CILower, res.CIUpper = s.Estimate, s.Lower, s.Upper
	res.EffectSize = effectSize(bounds.measure, r, res.Canary.Mean, res.Baseline.Mean)
	v := decide(m.Direction, s, res.EffectSize, bounds)
	res.Classification = v.class
	res.Critical = m.Critical && v.critical
	res.Reason = v.reason(s, res.EffectSize, bounds, confidence)
	if res.Critical {
		res.Reason += "; critical metric"
	}
	return res
}

// identical says why two sorted samples need no test: the same points, or
// one value everywhere (Kayenta's two Pass shortcuts; no noise is added).
func identical(c, b []float64) string {
	if slices.Equal(c, b) {
		return "canary and baseline have the same points"
	}
	if constant(c) && constant(b) && c[0] == b[0] {
		return "every canary and baseline point is " + short(c[0])
	}
	return ""
}

func neutralEffect(m Measure) float64 {
	if m == CLES {
		return 0.5
	}
	return 1
}

// decision is the outcome of the interval and effect-size gates.
type decision struct {
	class       Classification
	significant string  // "higher" or "lower" when the interval clears the bound
	ignored     bool    // significant in a direction Direction does not judge
	small       bool    // significant, but the effect is within the allowed bound
	critical    bool    // the effect reaches the critical bound
	allowed     float64 // the allowed bound of the significant direction
	criticalAt  float64
}

// decide applies Kayenta's classification: High when the interval's lower
// end is above boundFraction·|estimate| and the effect reaches
// AllowedIncrease (or is undefined), Low symmetrically, else Pass.
func decide(dir Direction, s shift, effect float64, b effectBounds) decision {
	bound := boundFraction * abs(s.Estimate)
	undefined := effect != effect // NaN: no effect size to hold the shift back
	var d decision
	switch {
	case s.Lower > bound:
		d = decision{significant: "higher", ignored: dir == Decrease, allowed: b.allowedIncrease, criticalAt: b.criticalIncrease}
		d.small = !undefined && effect < b.allowedIncrease
		d.critical = undefined || effect >= b.criticalIncrease
		d.class = High
	case s.Upper < -bound:
		d = decision{significant: "lower", ignored: dir == Increase, allowed: b.allowedDecrease, criticalAt: b.criticalDecrease}
		d.small = !undefined && effect > b.allowedDecrease
		d.critical = undefined || effect <= b.criticalDecrease
		d.class = Low
	default:
		return decision{class: Pass}
	}
	if d.ignored || d.small {
		d.class, d.critical = Pass, false
	}
	return d
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// reason is the one line that explains the decision, e.g. "canary higher
// than baseline: shift +12.3 (98% CI 8.1..15), mean ratio 1.52 >= allowed 1".
func (d decision) reason(s shift, effect float64, b effectBounds, confidence float64) string {
	test := fmt.Sprintf("shift %s (%s CI %s..%s)", signed(s.Estimate), percent(confidence), short(s.Lower), short(s.Upper))
	eff := b.measure.label() + " " + short(effect)
	if effect != effect {
		eff = b.measure.label() + " undefined (baseline mean 0)"
	}
	cmp := ">="
	if d.significant == "lower" {
		cmp = "<="
	}
	switch {
	case d.significant == "":
		return "no significant shift: " + test + ", " + eff
	case d.ignored:
		return fmt.Sprintf("canary %s than baseline, which direction %s does not judge: %s, %s", d.significant, directionName(d.significant), test, eff)
	case d.small:
		return fmt.Sprintf("canary %s than baseline but within the allowed effect: %s, %s not %s allowed %s", d.significant, test, eff, cmp, short(d.allowed))
	}
	line := fmt.Sprintf("canary %s than baseline: %s, %s", d.significant, test, eff)
	if effect == effect {
		line += fmt.Sprintf(" %s allowed %s", cmp, short(d.allowed))
	}
	return line
}

// directionName is the Direction that leaves a shift that way unjudged.
func directionName(significant string) Direction {
	if significant == "higher" {
		return Decrease
	}
	return Increase
}
