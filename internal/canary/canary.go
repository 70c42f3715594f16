// Package canary judges a canary group of hosts against a baseline group,
// metric by metric, the way Kayenta's NetflixACAJudge does, and scores the
// result. It knows nothing of Prometheus, HTTP or Ansible: the caller brings
// each metric's samples on the step grid (NaN where a step had no point) and
// gets a Verdict back.
//
// Per metric, in this order:
//
//  1. NaN points are removed (NaNStrategy remove, the default) or replaced
//     by 0 (replace). Because the caller fills the step grid, a step missing
//     from the data really becomes 0 under replace (Kayenta cannot do this:
//     Prometheus leaves missing steps out, they never become NaN).
//  2. Outliers beyond the fences min(p1, Q1-3·IQR) and max(p99, Q3+3·IQR)
//     are removed when Outliers is remove.
//  3. No data on either side: Nodata, or NodataFail with MustHaveData.
//  4. MaxCanaryValue: a canary point above it fails the metric (High,
//     critical if Critical) whatever the test says. This closes Kayenta's
//     all-zero-baseline hole (kayenta #377, #799).
//  5. Identical samples, or all values equal: Pass. Constant and tied
//     samples are handled exactly; there is no random noise, so the same data
//     always gives the same verdict.
//  6. Mann-Whitney, a port of R's wilcox.test(x = canary, y = baseline,
//     conf.int = TRUE) with the normal approximation: the estimate of the
//     shift and its confidence interval, by Brent's root finding.
//  7. Effect size (mean ratio or CLES) and the classification bounds: High
//     when the interval lies above 0.25·|estimate| and the effect reaches
//     AllowedIncrease; Low symmetrically; otherwise Pass.
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

// EffectSize gates a significant shift on its size. A nil bound takes the
// measure's default.
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

// Options are the judge-wide settings.
type Options struct {
	Confidence    float64            // of the interval, in (0, 1); default 0.98
	PassScore     float64            // in [0, 100]; default 95
	MarginalScore float64            // in [0, PassScore]; default 75
	GroupWeights  map[string]float64 // group name -> weight in [0, 100]; at most 100 in all
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
// EffectSize are NaN when the test did not run.
type MetricResult struct {
	Name           string
	Group          string
	Classification Classification
	Critical       bool // the metric is critical and its classification decided the score
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
}

var nan = math.NaN()
