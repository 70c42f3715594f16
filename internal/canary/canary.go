// Package canary judges a canary group of hosts against a baseline group,
// metric by metric, the way Kayenta's NetflixACAJudge does, and scores the
// result. It knows nothing of Prometheus, HTTP or Ansible: the caller brings
// each metric's samples on the step grid (NaN where a step had no point) and
// gets a Verdict back.
//
// Per metric, in this order:
//
//  1. Samples.Err set: Error. A +Inf or -Inf point on either side: Error
//     too (infinite values cannot be ranked or averaged; Prometheus's
//     histogram_quantile returns +Inf when the quantile lies in the +Inf
//     bucket, which is no value to pass on).
//  2. NaN points are removed (NaNStrategy remove, the default) or replaced
//     by 0 (replace). Because the caller fills the step grid, a step missing
//     from the data really becomes 0 under replace (Kayenta cannot do this:
//     Prometheus leaves missing steps out, they never become NaN).
//  3. Outliers beyond the fences min(p1, Q1-3·IQR) and max(p99, Q3+3·IQR)
//     (percentiles as Kayenta's IQRDetector computes them) are removed from
//     each side when Outliers is remove.
//  4. MaxCanaryValue: a canary point above it, outliers included, fails the
//     metric (High) whatever the test says, even without baseline data.
//     This closes Kayenta's all-zero-baseline hole (kayenta #377, #799).
//  5. No points left on either side: Nodata, or NodataFail when the metric
//     has MustHaveData or is Critical (fail closed). Unlike Kayenta, replace
//     does not turn an empty series into Pass.
//  6. The same points on both sides, or one value everywhere: Pass, shift
//  0. Two constant samples that differ get the exact shift (the
//     difference, with a zero-width interval). There is no random noise, so
//     the same data always gives the same verdict.
//  7. Mann-Whitney, a port of R's wilcox.test(x = canary, y = baseline,
//     conf.int = TRUE, exact = FALSE, correct = TRUE): the estimate of the
//     shift and its confidence interval (Confidence, default 0.98), by
//     Brent's root finding with R's steps and tolerance, so the numbers
//     agree with R's.
//  8. Effect size (mean ratio, NaN when the baseline mean is 0; or CLES)
//     and the classification bounds: High when the interval's lower end lies
//     above 0.25·|estimate| and the effect reaches AllowedIncrease (or is
//     NaN); Low symmetrically with AllowedDecrease; a shift the Direction
//     does not judge, or within the allowed effect, is Pass.
//
// Critical metrics fail the whole canary (score 0) when they are Error or
// NodataFail, breach MaxCanaryValue, or are High or Low with an effect
// reaching CriticalIncrease or CriticalDecrease (or NaN); these bounds
// apply to critical metrics only. MetricResult.Critical marks them.
//
// Error metrics fail closed: a gate that cannot measure does not pass. An
// Error counts against its group like NodataFail, counts as unmeasured for
// the half-unmeasured rule, and a critical metric in Error forces score 0.
//
// The score is Kayenta's weighted sum of group scores; see Judge.
package canary

import "math"

// Direction says which shift of the canary counts against it.
type Direction string

// The directions.
const (
	Increase Direction = "increase"
	Decrease Direction = "decrease"
	Either   Direction = "either" // the default
)

// NaNStrategy says what happens to a NaN (missing) point.
type NaNStrategy string

// The NaN strategies.
const (
	RemoveNaN  NaNStrategy = "remove" // the default
	ReplaceNaN NaNStrategy = "replace"
)

// Measure is an effect-size measure.
type Measure string

// The measures.
const (
	MeanRatio Measure = "mean_ratio" // mean(canary)/mean(baseline); the default; allowed/critical default 1.0
	CLES      Measure = "cles"       // common-language effect size; allowed/critical default 0.5
)

// Outliers says whether points beyond the fences are kept.
type Outliers string

// The outlier policies.
const (
	KeepOutliers   Outliers = "keep" // the default
	RemoveOutliers Outliers = "remove"
)

// EffectSize gates a significant shift on its size. A nil allowed bound is
// the measure's "no change" (1.0 for MeanRatio, 0.5 for CLES); a nil
// critical bound is the allowed bound of its direction. A critical bound
// must not be inside its allowed bound.
type EffectSize struct {
	Measure          Measure
	AllowedIncrease  *float64
	AllowedDecrease  *float64
	CriticalIncrease *float64
	CriticalDecrease *float64
}

// Metric configures one metric's comparison. Zero values take the defaults
// stated on each type.
type Metric struct {
	Name           string // required, unique
	Group          string // "" is its own group
	Direction      Direction
	NaNStrategy    NaNStrategy
	Critical       bool
	MustHaveData   bool
	EffectSize     EffectSize
	Outliers       Outliers
	MaxCanaryValue *float64 // nil: no absolute bound
}

// Options are the judge-wide settings. Confidence 0 means 0.98; PassScore
// and MarginalScore both 0 (neither set) mean 95 and 75 (DefaultOptions).
type Options struct {
	Confidence    float64 // of the interval, in (0, 1); default 0.98
	PassScore     float64 // in [0, 100]; default 95
	MarginalScore float64 // in [0, PassScore]; default 75
	// GroupWeights maps a group name to its weight in [0, 100], at most 100
	// in all; every name must be some metric's group, and when every group
	// has a weight they must add up to 100. Groups without a weight share
	// what is left equally.
	GroupWeights map[string]float64
}

// Samples are one metric's points on the step grid, NaN where a step had
// none. Err, when set, is why they could not be fetched: the metric is then
// classified Error and its samples are ignored.
type Samples struct {
	Canary   []float64
	Baseline []float64
	Err      error
}

// Classification is a metric's or the whole judgement's outcome.
type Classification string

// Metric classifications.
const (
	Pass       Classification = "pass"
	High       Classification = "high"
	Low        Classification = "low"
	Nodata     Classification = "nodata"
	NodataFail Classification = "nodata_fail"
	Error      Classification = "error"
)

// Judgement classifications (Pass is shared).
const (
	Marginal Classification = "marginal"
	Fail     Classification = "fail"
)

// Summary describes one side's samples after NaN and outlier handling.
type Summary struct {
	Count int
	Mean  float64 // NaN when Count is 0
}

// MetricResult is one metric's outcome. Estimate, CILower, CIUpper and
// EffectSize are NaN when no shift was measured (Error, Nodata, NodataFail,
// MaxCanaryValue breached); EffectSize is also NaN for a mean ratio over a
// baseline mean of 0. Canary and Baseline describe the points judged.
type MetricResult struct {
	Name           string
	Group          string
	Classification Classification
	Critical       bool // the metric is critical and its result forced the score to 0 (see the package comment)
	Canary         Summary
	Baseline       Summary
	Estimate       float64 // shift of canary against baseline (Hodges-Lehmann-like)
	CILower        float64
	CIUpper        float64
	EffectSize     float64
	Reason         string // one line: why this classification
}

// Verdict is the whole judgement.
type Verdict struct {
	Score          float64 // 0-100, two decimals
	Classification Classification
	Metrics        []MetricResult // in the order of the metrics given
	Decisive       []string       // names of the metrics that decided a non-pass verdict
	Reason         string         // one line: the score against the thresholds, or why it was forced to 0
}

var nan = math.NaN()
