package canary

import "math"

// effectBounds are an EffectSize with its defaults filled in.
type effectBounds struct {
	measure                            Measure
	allowedIncrease, allowedDecrease   float64
	criticalIncrease, criticalDecrease float64
}

// resolve fills the defaults: the measure is MeanRatio; an allowed bound is
// 1.0 for MeanRatio (no change) and 0.5 for CLES (even odds), and a
// critical bound is the allowed bound of its direction, so a critical
// metric fails the canary whenever it is High or Low unless told otherwise.
func (e EffectSize) resolve() effectBounds {
	measure, neutral := MeanRatio, 1.0
	if e.Measure == CLES {
		measure, neutral = CLES, 0.5
	}
	or := func(p *float64, def float64) float64 {
		if p == nil {
			return def
		}
		return *p
	}
	b := effectBounds{
		measure:         measure,
		allowedIncrease: or(e.AllowedIncrease, neutral),
		allowedDecrease: or(e.AllowedDecrease, neutral),
	}
	b.criticalIncrease = or(e.CriticalIncrease, b.allowedIncrease)
	b.criticalDecrease = or(e.CriticalDecrease, b.allowedDecrease)
	return b
}

// effectSize measures how far canary is from baseline: the ratio of their
// means, or CLES, the probability that a canary point exceeds a baseline
// point (ties counting one half), which is U/(mn) = (2·R1 - m(m+1))/(2mn).
// The mean ratio is NaN when it is undefined: a baseline mean of 0.
func effectSize(measure Measure, r rankTest, canaryMean, baselineMean float64) float64 {
	if measure == CLES {
		return r.uStatistic(0) / (r.m * r.n)
	}
	return meanRatio(canaryMean, baselineMean)
}

func meanRatio(canaryMean, baselineMean float64) float64 {
	ratio := canaryMean / baselineMean
	if math.IsInf(ratio, 0) {
		return nan
	}
	return ratio
}

// label names the measure in a reason.
func (m Measure) label() string {
	if m == CLES {
		return "CLES"
	}
	return "mean ratio"
}
