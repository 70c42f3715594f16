package canary

import (
	"errors"
	"math"
)

// rankTest compares x shifted by d with y by their ranks, for any shift d,
// in one merge of the two sorted samples (x - d keeps x's order), instead of
// sorting m+n values for every step of the root finder.
type rankTest struct {
	x, y []float64 // sorted ascending
	m, n float64   // their lengths
}

func newRankTest(x, y []float64) rankTest {
	return rankTest{x: sortedCopy(x), y: sortedCopy(y), m: float64(len(x)), n: float64(len(y))}
}

// rankStats ranks x - d together with y, tied values sharing their average
// rank (R's rank(), ties exact as R's default digits.rank = Inf), and
// returns the sum of x's ranks and the tie term sum(t^3 - t) over groups of
// t tied values.
func (r rankTest) rankStats(d float64) (rankSumX, tieTerm float64) {
	i, j, below := 0, 0, 0.0
	for i < len(r.x) || j < len(r.y) {
		v := r.nextValue(i, j, d)
		if v != v { // a NaN shift ranks nothing; never loop on it
			return nan, nan
		}
		cx, cy := 0.0, 0.0
		for ; i < len(r.x) && r.x[i]-d == v; i++ {
			cx++
		}
		for ; j < len(r.y) && r.y[j] == v; j++ {
			cy++
		}
		t := cx + cy
		rankSumX += cx * (below + (t+1)/2)
		tieTerm += t*t*t - t
		below += t
	}
	return rankSumX, tieTerm
}

// nextValue is the smallest value not yet ranked.
func (r rankTest) nextValue(i, j int, d float64) float64 {
	switch {
	case i == len(r.x):
		return r.y[j]
	case j == len(r.y):
		return r.x[i] - d
	}
	return math.Min(r.x[i]-d, r.y[j])
}

// uStatistic is Mann-Whitney's U of x - d against y: the number of pairs
// with x_i - d > y_j, ties counting one half.
func (r rankTest) uStatistic(d float64) float64 {
	rankSum, _ := r.rankStats(d)
	return rankSum - r.m*(r.m+1)/2
}

// z is the normal score of the rank-sum statistic of x - d against y, R's
// W(d) in wilcox.test's two-sample asymptotic branch: the centred
// statistic, less the continuity correction 0.5·sign when correct, over its
// standard deviation with the tie correction. It is ±Inf or NaN when every
// value is tied (sigma 0).
func (r rankTest) z(d float64, correct bool) float64 {
	rankSum, ties := r.rankStats(d)
	m, n := r.m, r.n
	dz := rankSum - m*(m+1)/2 - m*n/2
	sigma := math.Sqrt(m * n / 12 * ((m + n + 1) - ties/((m+n)*(m+n-1))))
	correction := 0.0
	if correct {
		correction = 0.5 * sign(dz)
	}
	return (dz - correction) / sigma
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// shift is the location shift of canary against baseline and its
// confidence interval.
type shift struct {
	Estimate, Lower, Upper float64
	PValue                 float64 // two-sided, normal approximation with continuity correction
}

// errAllTied is returned when every value is tied at some shift, which the
// callers rule out first (see mannWhitney).
var errAllTied = errors.New("every value is tied; the rank statistic has no spread")

// errOverflow: differences of canary and baseline points beyond float64.
var errOverflow = errors.New("canary and baseline values are too far apart to subtract (beyond ±1.8e308)")

// mannWhitney is R's wilcox.test(x = canary, y = baseline, conf.int = TRUE,
// conf.level = confidence, exact = FALSE, correct = TRUE): the shift
// estimate (the root of the uncorrected statistic, which is where the
// Hodges-Lehmann median of the differences canary_i - baseline_j lies) and
// the interval from the roots of the corrected statistic at the normal
// quantiles, each found by Brent's method over [min canary - max baseline,
// max canary - min baseline]. An end of that range is the bound when the
// statistic does not reach the quantile inside it (R does the same).
//
// Both samples must be non-empty. Two constant samples are answered
// exactly: the shift is the difference of the constants, with no interval
// around it (R gives up there, and Kayenta adds random noise). Otherwise
// the statistic always has spread; errAllTied guards the impossible case.
func mannWhitney(canary, baseline []float64, confidence float64) (shift, error) {
	return newRankTest(canary, baseline).shift(confidence)
}

// shift is mannWhitney on samples already sorted.
func (r rankTest) shift(confidence float64) (shift, error) {
	lo, hi := r.x[0]-r.y[len(r.y)-1], r.x[len(r.x)-1]-r.y[0]
	if !finite(hi - lo) { // lo and hi too, and Brent's steps stay finite
		return shift{}, errOverflow
	}
	if constant(r.x) && constant(r.y) {
		return shift{Estimate: lo, Lower: lo, Upper: lo, PValue: pValueOfConstants(lo)}, nil
	}
	zLo, zHi := r.z(lo, true), r.z(hi, true)
	if math.IsNaN(zLo) || math.IsInf(zLo, 0) || math.IsNaN(zHi) || math.IsInf(zHi, 0) {
		return shift{}, errAllTied
	}
	q := normalQuantile((1 - confidence) / 2) // negative
	corrected := func(d float64) float64 { return r.z(d, true) }
	bound := func(zq float64) float64 {
		if zLo-zq <= 0 {
			return lo
		}
		if zHi-zq >= 0 {
			return hi
		}
		return findRoot(func(d float64) float64 { return corrected(d) - zq }, lo, hi, zLo-zq, zHi-zq, rootTolerance)
	}
	uncorrected := func(d float64) float64 { return r.z(d, false) }
	est := findRoot(uncorrected, lo, hi, uncorrected(lo), uncorrected(hi), rootTolerance)
	// At a low confidence both bounds fall on the same jump of the step
	// function, each within the tolerance of it, and can come out crossed
	// (R returns them so); in order they are the same interval.
	lower, upper := bound(-q), bound(q)
	lower, upper = min(lower, upper), max(lower, upper)
	return shift{Estimate: est, Lower: lower, Upper: upper, PValue: twoSidedP(r.z(0, true))}, nil
}

// pValueOfConstants: two constant samples differ for certain unless equal.
func pValueOfConstants(d float64) float64 {
	if d == 0 {
		return 1
	}
	return 0
}

// twoSidedP is the two-sided p-value of a standard normal score.
func twoSidedP(z float64) float64 {
	return math.Min(1, 2*normalCDF(-math.Abs(z)))
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// normalQuantile is the standard normal quantile (R's qnorm). Go's
// math.Erfinv uses Wichura's AS241 rational approximation, the one qnorm
// uses, so the quantiles agree with R's to double precision.
func normalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }
