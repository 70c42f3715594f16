package canary

import (
	"math"
	"slices"
)

// sortedCopy returns the values in ascending order, leaving values alone.
func sortedCopy(values []float64) []float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	return s
}

// mean is the arithmetic mean, NaN for no values. Summing values/n when the
// plain sum overflows keeps the mean of huge but finite values finite.
func mean(values []float64) float64 {
	n := float64(len(values))
	if n == 0 {
		return nan
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	if !math.IsInf(sum, 0) {
		return sum / n
	}
	sum = 0
	for _, v := range values {
		sum += v / n
	}
	return sum
}

// percentile is the p-th percentile (0 < p <= 100) of sorted values as
// Kayenta's IQRDetector computes it: Apache Commons Math's
// StatUtils.percentile, whose default estimate interpolates between the
// order statistics around position p(n+1)/100 and clamps to the smallest
// and largest value outside [1, n].
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return nan
	}
	pos := p * float64(n+1) / 100
	if pos < 1 {
		return sorted[0]
	}
	if pos >= float64(n) {
		return sorted[n-1]
	}
	whole := math.Floor(pos)
	lower, upper := sorted[int(whole)-1], sorted[int(whole)]
	return lower + (pos-whole)*(upper-lower)
}

// outlierFactor is the IQR multiple of Kayenta's detector.
const outlierFactor = 3.0

// fences are the bounds outside which a point is an outlier: Tukey's fences
// at 3 IQR, widened to the 1st and 99th percentiles (Kayenta's IQRDetector
// with reduceSensitivity), so a handful of extreme points in a long series
// is never all cut away.
func fences(sorted []float64) (lower, upper float64) {
	q1, q3 := percentile(sorted, 25), percentile(sorted, 75)
	iqr := q3 - q1
	lower = math.Min(percentile(sorted, 1), q1-outlierFactor*iqr)
	upper = math.Max(percentile(sorted, 99), q3+outlierFactor*iqr)
	return lower, upper
}

// withoutOutliers returns the points inside the fences (a point on a fence
// stays), in their order.
func withoutOutliers(values []float64) []float64 {
	if len(values) == 0 {
		return values
	}
	lower, upper := fences(sortedCopy(values))
	kept := make([]float64, 0, len(values))
	for _, v := range values {
		if v >= lower && v <= upper {
			kept = append(kept, v)
		}
	}
	return kept
}

// handleNaN removes NaN points (RemoveNaN) or replaces them by 0
// (ReplaceNaN). The result is a new slice.
func handleNaN(values []float64, strategy NaNStrategy) []float64 {
	out := make([]float64, 0, len(values))
	for _, v := range values {
		switch {
		case !math.IsNaN(v):
			out = append(out, v)
		case strategy == ReplaceNaN:
			out = append(out, 0)
		}
	}
	return out
}

// firstInf returns the index of the first infinite value, or -1.
func firstInf(values []float64) int {
	for i, v := range values {
		if math.IsInf(v, 0) {
			return i
		}
	}
	return -1
}

// constant reports whether every value equals the first (true for none).
func constant(values []float64) bool {
	for _, v := range values {
		if v != values[0] {
			return false
		}
	}
	return true
}
