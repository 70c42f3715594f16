package canary

import (
	"math"
	"strconv"
	"strings"
)

// short formats a value for a reason: four significant digits, trailing
// zeros dropped, no exponent between 1e-4 and 1e15 ("12.35", "0.5", "1").
func short(v float64) string {
	a := math.Abs(v)
	if !finite(v) || a == 0 || a < 1e-4 || a >= 1e15 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	decimals := max(0, 3-int(math.Floor(math.Log10(a))))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// signed is short with a leading + for a positive value.
func signed(v float64) string {
	s := short(v)
	if v > 0 && s != "0" {
		return "+" + s
	}
	return s
}

// percent formats a confidence as a percentage: 0.98 is "98%".
func percent(confidence float64) string {
	return strconv.FormatFloat(confidence*100, 'g', 4, 64) + "%"
}
