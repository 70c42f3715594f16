package canary

import "math"

// rootTolerance is the tolerance R's wilcox.test passes to uniroot
// (tol.root = 1e-4), so estimates and bounds agree with R's to its digits.
const rootTolerance = 1e-4

// rootMaxIter is uniroot's default iteration limit.
const rootMaxIter = 1000

// findRoot returns a zero of f in [a, b], given fa = f(a) and fb = f(b) of
// opposite signs (or one of them 0), by Brent's method: bisection combined
// with linear and inverse quadratic interpolation (Brent 1973; Forsythe,
// Malcolm and Moler 1977, "zeroin"). It takes the same steps as R's
// R_zeroin2, which uniroot calls, so that a root on a flat stretch of a step
// function (the rank statistic is one) lands where R's does.
func findRoot(f func(float64) float64, a, b, fa, fb, tol float64) float64 {
	if fa == 0 {
		return a
	}
	if fb == 0 {
		return b
	}
	c, fc := a, fa
	for range rootMaxIter + 1 {
		prevStep := b - a
		if math.Abs(fc) < math.Abs(fb) {
			// Keep b the best approximation; a and c the worse one.
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tolAct := 2*epsilon*math.Abs(b) + tol/2
		newStep := (c - b) / 2
		if math.Abs(newStep) <= tolAct || fb == 0 {
			return b
		}
		if math.Abs(prevStep) >= tolAct && math.Abs(fa) > math.Abs(fb) {
			if step, ok := interpolate(a, b, c, fa, fb, fc, prevStep, tolAct); ok {
				newStep = step
			}
		}
		if math.Abs(newStep) < tolAct {
			// Step at least the tolerance, as zeroin does.
			if newStep > 0 {
				newStep = tolAct
			} else {
				newStep = -tolAct
			}
		}
		a, fa = b, fb
		b += newStep
		fb = f(b)
		if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
			c, fc = a, fa // c and b must bracket the root
		}
	}
	return b
}

// epsilon is the machine epsilon of float64 (C's DBL_EPSILON).
const epsilon = 2.220446049250313e-16

// interpolate proposes Brent's interpolation step from b: linear (secant)
// when only two distinct points are known, inverse quadratic otherwise. It
// refuses a step that leaves [b, c] or is larger than half the step before
// last; bisection is then taken instead.
func interpolate(a, b, c, fa, fb, fc, prevStep, tolAct float64) (float64, bool) {
	cb := c - b
	var p, q float64
	if a == c {
		t1 := fb / fa
		p = cb * t1
		q = 1 - t1
	} else {
		q = fa / fc
		t1 := fb / fc
		t2 := fb / fa
		p = t2 * (cb*q*(q-t1) - (b-a)*(t1-1))
		q = (q - 1) * (t1 - 1) * (t2 - 1)
	}
	if p > 0 {
		q = -q
	} else {
		p = -p
	}
	if p < 0.75*cb*q-math.Abs(tolAct*q)/2 && p < math.Abs(prevStep*q/2) {
		return p / q, true
	}
	return 0, false
}
