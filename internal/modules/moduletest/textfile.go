package moduletest

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// ReadFile returns a file's text, failing the test if it cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Sample returns the value of one series, written as in the text format
// (`threader_guard_locked{name="web"}`), in a metrics textfile as written
// there, "" when the series is absent.
func Sample(text, series string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

// Value is Sample as a number; NaN when the series is absent (Sample tells
// an absent series from a NaN sample).
func Value(text, series string) float64 {
	f, err := strconv.ParseFloat(Sample(text, series), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// WantSeries checks series values of a textfile: each series must be
// present with the value wanted (NaN wants a NaN sample).
func WantSeries(t testing.TB, text string, want map[string]float64) {
	t.Helper()
	failed := false
	for series, w := range want {
		s := Sample(text, series)
		got := Value(text, series)
		switch {
		case s == "":
			t.Errorf("no %s, want %v", series, w)
		case got != w && !(math.IsNaN(w) && math.IsNaN(got)):
			t.Errorf("%s = %v, want %v", series, got, w)
		default:
			continue
		}
		failed = true
	}
	if failed {
		t.Logf("textfile:\n%s", text)
	}
}
