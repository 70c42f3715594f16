package canary

import (
	"math"
	"slices"
	"testing"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// airquality's Ozone in May (month 5) and August (month 8), NA removed, from
// R's datasets package (wilcox.test drops the NAs the same way).
var (
	ozoneMay = []float64{41, 36, 12, 18, 28, 23, 19, 8, 7, 16, 11, 14, 18, 14, 34, 6, 30, 11, 1, 11, 4, 32, 23, 45, 115, 37}
	ozoneAug = []float64{39, 9, 16, 78, 35, 66, 122, 89, 110, 44, 28, 65, 22, 59, 23, 31, 44, 21, 9, 45, 168, 73, 76, 118, 84, 85}
)

func TestMannWhitneyMatchesRsDocumentedAirqualityExample(t *testing.T) {
	// The example of R's ?wilcox.test (stats package documentation):
	//   wilcox.test(Ozone ~ Month, data = airquality, subset = Month %in% c(5, 8))
	// prints "W = 127.5, p-value = 0.0001208" (Wilcoxon rank sum test with
	// continuity correction: the data have ties, so R takes the normal
	// approximation this package implements). With conf.int = TRUE, R 4.2.2
	// prints the 95 percent confidence interval -52.99999 -14.99998 and the
	// difference in location -31.99996.
	s, err := mannWhitney(ozoneMay, ozoneAug, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if w := newRankTest(ozoneMay, ozoneAug).uStatistic(0); w != 127.5 {
		t.Errorf("W = %v, want 127.5", w)
	}
	if !near(s.PValue, 0.0001208, 5e-8) {
		t.Errorf("p = %.7f, want 0.0001208", s.PValue)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"estimate", s.Estimate, -31.99996}, {"lower", s.Lower, -52.99999}, {"upper", s.Upper, -14.99998}} {
		if !near(c.got, c.want, 5e-6) {
			t.Errorf("%s = %.7f, R prints %.5f", c.name, c.got, c.want)
		}
	}
}

// rReference are R 4.2.2's results for
//
//	r <- wilcox.test(x, y, conf.int = TRUE, exact = FALSE, conf.level = conf)
//	sprintf("%.17g", c(r$estimate, r$conf.int, r$p.value, r$statistic))
//
// (R's default correct = TRUE), as testdata/wilcox_reference.R prints them. Brent's method here takes R's steps with R's
// tolerance, so the roots agree to far better than the tolerance (1e-4);
// 1e-9 leaves room for the last bits of a different libm.
var rReference = []struct {
	name           string
	x, y           []float64
	conf           float64
	est, lo, hi, p float64
	w              float64
}{
	{"airquality 98%", ozoneMay, ozoneAug, 0.98, -31.99995872193243, -55.000051902312727, -11.999961412557276, 0.00012080783076877442, 127.5},
	// Hollander & Wolfe (1973) p. 69, the two-sample example of ?wilcox.test.
	{"permeability", []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}, []float64{1.15, 0.88, 0.90, 0.74, 1.21}, 0.98,
		0.30250833904157232, -0.31999721322183022, 0.98994618206203366, 0.24462360512698336, 35},
	// Kayenta's own MannWhitneySuite case: the interval is the whole range.
	{"kayenta", []float64{10, 20, 30, 40}, []float64{1, 2, 3, 4}, 0.95, 22.5, 6, 39, 0.030382821976577493, 16},
	{"one vs two", []float64{5}, []float64{1, 2}, 0.98, 3.5, 3, 4, 0.54029137460742005, 2},
	{"three vs one", []float64{1, 2, 3}, []float64{2}, 0.98, 0, -1, 1, 1, 1.5},
	{"constant canary", []float64{3, 3, 3, 3}, []float64{1, 2, 3, 4, 5}, 0.98, 0, -2, 2, 1, 10},
	{"heavy ties", []float64{1, 1, 2, 2, 3, 3, 3}, []float64{2, 2, 3, 3, 4, 4, 4, 5}, 0.98,
		-1.0000095966739528, -2.9999157258423375, 3.643600734973962e-05, 0.04859508699288885, 11},
	// R's own comment: "in extreme cases we need to return endpoints,
	// e.g. wilcox.test(1, 2:60, conf.int=TRUE)".
	{"one vs 59", []float64{1}, seq(2, 60), 0.95, -30, -59, -1, 0.094022875902539105, 0},
	{"latency", []float64{100.5, 102.25, 99.75, 101, 150.125, 98.5, 103, 100}, []float64{100, 101.5, 99, 100.25, 100.75, 99.5, 101, 100.5}, 0.98,
		0.57797475961538458, -1.0000110079599795, 3.5000437702529119, 0.46125974974821188, 39.5},
	{"shifted", []float64{12.1, 13.4, 11.8, 14.2, 12.9, 13.7, 12.5, 14.8, 13.1, 12.2, 13.9, 14.4}, []float64{10.2, 9.8, 11.1, 10.7, 9.5, 10.9, 11.4, 10.1, 10.4, 9.9, 11.0, 10.6}, 0.98,
		2.7999634046219164, 1.8999738310505421, 3.7000345154661685, 3.6584553538971001e-05, 144},
}

func seq(from, to float64) []float64 {
	var s []float64
	for v := from; v <= to; v++ {
		s = append(s, v)
	}
	return s
}

func TestMannWhitneyMatchesR(t *testing.T) {
	for _, c := range rReference {
		t.Run(c.name, func(t *testing.T) {
			s, err := mannWhitney(c.x, c.y, c.conf)
			if err != nil {
				t.Fatal(err)
			}
			if w := newRankTest(c.x, c.y).uStatistic(0); w != c.w {
				t.Errorf("W = %v, R %v", w, c.w)
			}
			for _, v := range []struct {
				name      string
				got, want float64
			}{{"estimate", s.Estimate, c.est}, {"lower", s.Lower, c.lo}, {"upper", s.Upper, c.hi}, {"p", s.PValue, c.p}} {
				if !near(v.got, v.want, 1e-9) {
					t.Errorf("%s = %.17g, R %.17g", v.name, v.got, v.want)
				}
			}
		})
	}
}

func TestMannWhitneyHandComputed(t *testing.T) {
	// canary 3, 4 against baseline 1, 2: the differences are 1, 2, 2, 3, so
	// the Hodges-Lehmann estimate is 2. The statistic is antisymmetric about
	// 2 on [1, 3], so Brent's first (secant) step lands on 2 exactly. Two
	// points a side can never exclude a shift at 98%: the interval is the
	// whole range [min x - max y, max x - min y] = [1, 3].
	s, err := mannWhitney([]float64{4, 3}, []float64{2, 1}, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	if s.Estimate != 2 || s.Lower != 1 || s.Upper != 3 {
		t.Errorf("shift = %+v, want estimate 2 in [1, 3]", s)
	}
	// At d = 0 the ranks are 1, 2 | 3, 4: R1 = 7, dz = 7 - 3 - 2 = 2,
	// sigma = sqrt(2·2/12 · 5) = sqrt(5/3); corrected z = 1.5/sqrt(5/3).
	r := newRankTest([]float64{3, 4}, []float64{1, 2})
	if z := r.z(0, true); !near(z, 1.5/math.Sqrt(5.0/3), 1e-15) {
		t.Errorf("z(0) = %v, want %v", z, 1.5/math.Sqrt(5.0/3))
	}
}

func TestRankStatsAverageTies(t *testing.T) {
	// canary 1, 1 and baseline 1, 2: three values tied at 1 share ranks
	// 1..3 (average 2), 2 has rank 4. Canary's rank sum is 2 + 2 = 4; the
	// tie term is 3³ - 3 = 24 (the single 2 adds 0).
	r := newRankTest([]float64{1, 1}, []float64{2, 1})
	sum, ties := r.rankStats(0)
	if sum != 4 || ties != 24 {
		t.Errorf("rankStats = %v, %v; want 4, 24", sum, ties)
	}
	// Shifted by d = -1, canary becomes 2, 2: tied with the baseline's 2 at
	// ranks 2..4 (average 3), so the sum is 6 and the tie term 24 again.
	sum, ties = r.rankStats(-1)
	if sum != 6 || ties != 24 {
		t.Errorf("rankStats(-1) = %v, %v; want 6, 24", sum, ties)
	}
}

func TestRankStatsAgreeWithNaiveRanking(t *testing.T) {
	x := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	y := []float64{2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4}
	r := newRankTest(x, y)
	for _, d := range []float64{-10, -3, -1, 0, 0.5, 1, 2, 7} {
		sum, ties := r.rankStats(d)
		wantSum, wantTies := naiveRanks(x, y, d)
		if sum != wantSum || ties != wantTies {
			t.Errorf("d=%v: rankStats = %v, %v; naive %v, %v", d, sum, ties, wantSum, wantTies)
		}
	}
}

// naiveRanks ranks by counting: a value's average rank is (number below) +
// (number equal + 1)/2.
func naiveRanks(x, y []float64, d float64) (sumX, ties float64) {
	all := make([]float64, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, v-d)
	}
	all = append(all, y...)
	rank := func(v float64) (float64, float64) {
		below, equal := 0.0, 0.0
		for _, w := range all {
			if w < v {
				below++
			} else if w == v {
				equal++
			}
		}
		return below + (equal+1)/2, equal
	}
	seen := map[float64]bool{}
	for i, v := range all {
		r, t := rank(v)
		if i < len(x) {
			sumX += r
		}
		if !seen[v] {
			seen[v] = true
			ties += t*t*t - t
		}
	}
	return sumX, ties
}

func TestEstimateIsTheHodgesLehmannMedian(t *testing.T) {
	// Without ties the uncorrected statistic is 0 exactly between the two
	// middle pairwise differences (mn even) or at the middle one (mn odd),
	// so the estimate lies there, within the root tolerance.
	x := []float64{10.3, 12.9, 11.1, 15.2, 9.7, 13.3, 12.0}
	y := []float64{9.1, 10.8, 8.4, 11.6, 10.05, 9.95}
	s, err := mannWhitney(x, y, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	var diffs []float64
	for _, a := range x {
		for _, b := range y {
			diffs = append(diffs, a-b)
		}
	}
	slices.Sort(diffs)
	n := len(diffs)
	lo, hi := diffs[(n-1)/2], diffs[n/2]
	if s.Estimate < lo-rootTolerance || s.Estimate > hi+rootTolerance {
		t.Errorf("estimate %v outside the middle differences [%v, %v]", s.Estimate, lo, hi)
	}
	if !(s.Lower <= s.Estimate && s.Estimate <= s.Upper) {
		t.Errorf("interval %v..%v does not hold the estimate %v", s.Lower, s.Upper, s.Estimate)
	}
}

func TestMannWhitneyTwoConstantsIsExact(t *testing.T) {
	// R stops here ("cannot compute confidence interval when all
	// observations are tied") and Kayenta adds random noise; the exact
	// answer is the difference of the constants.
	s, err := mannWhitney([]float64{5, 5, 5}, []float64{3, 3}, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	if s.Estimate != 2 || s.Lower != 2 || s.Upper != 2 || s.PValue != 0 {
		t.Errorf("shift = %+v, want exactly 2", s)
	}
	s, err = mannWhitney([]float64{4}, []float64{4}, 0.98)
	if err != nil || s.Estimate != 0 || s.PValue != 1 {
		t.Errorf("one equal point each: %+v, %v", s, err)
	}
}

func TestNormalQuantileMatchesR(t *testing.T) {
	// qnorm(0.01), qnorm(0.025), qnorm(0.5) in R.
	for p, want := range map[float64]float64{0.01: -2.3263478740408408, 0.025: -1.9599639845400538, 0.5: 0} {
		if got := normalQuantile(p); !near(got, want, 1e-15) {
			t.Errorf("normalQuantile(%v) = %.17g, want %.17g", p, got, want)
		}
	}
}

func TestFindRootBrent(t *testing.T) {
	// x³ - 2x - 5 = 0, Brent's own example; root 2.0945514815423265.
	f := func(x float64) float64 { return x*x*x - 2*x - 5 }
	got := findRoot(f, 2, 3, f(2), f(3), 1e-12)
	if !near(got, 2.0945514815423265, 1e-11) {
		t.Errorf("root = %.17g", got)
	}
	if got := findRoot(f, 0, 2.0945514815423265, f(0), 0, 1e-4); got != 2.0945514815423265 {
		t.Errorf("a zero at an end is returned as it is, got %v", got)
	}
}

func TestMannWhitneyRefusesOverflow(t *testing.T) {
	if _, err := mannWhitney([]float64{math.MaxFloat64, 1}, []float64{-math.MaxFloat64, 2}, 0.98); err != errOverflow {
		t.Errorf("err = %v, want errOverflow", err)
	}
	// Each difference fits, but the range between them does not: Brent's
	// first bisection step would be infinite, then NaN.
	if _, err := mannWhitney([]float64{-1e308, 1e308}, []float64{0, 0.5}, 0.98); err != errOverflow {
		t.Errorf("err = %v, want errOverflow", err)
	}
	if sum, _ := newRankTest([]float64{1}, []float64{2}).rankStats(math.NaN()); !math.IsNaN(sum) {
		t.Errorf("rankStats(NaN) = %v, want NaN (and no endless loop)", sum)
	}
}
