// Package seconds reads the durations the modules and CLIs take in
// seconds: a module's timeout_seconds: 30 or 0.5, a CLI's --timeout 0.5 or
// --timeout 1m30s. The rules are the same everywhere:
//
//   - 0 is allowed where the option allows it (what it means is the
//     option's: no limit, no wait, no polling); Positive refuses it.
//   - A positive value under Min (1 ms) is refused, not rounded: a timeout
//     of 1e-10 seconds must not become no timeout at all.
//   - NaN, infinities, negatives and more than Max seconds are refused; no
//     value overflows a time.Duration.
//
// Errors are *fielderr.Error values naming the field they were given, for
// the front end to name its option or flag (fielderr.Rename).
package seconds

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/fielderr"
)

// Min is the smallest positive duration a seconds value may give.
const Min = time.Millisecond

// Max bounds every seconds value: about 31 years, far beyond any timeout
// or delay, and far below where a time.Duration overflows.
const Max = 1e9

// Duration converts f seconds; 0 is allowed.
func Duration(field string, f float64) (time.Duration, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fielderr.Errorf(field, "must be a finite number, got: %v", f)
	case f < 0:
		return 0, fielderr.Errorf(field, "must be 0 or greater, got: %v", f)
	case f > 0 && f < Min.Seconds():
		return 0, fielderr.Errorf(field, "must be 0 or at least %v (1 ms), got: %v", Min.Seconds(), f)
	case f > Max:
		return 0, fielderr.Errorf(field, "must be at most %v (about 31 years), got: %v", float64(Max), f)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// Positive converts f seconds, which must be greater than 0.
func Positive(field string, f float64) (time.Duration, error) {
	if f <= 0 {
		return 0, fielderr.Errorf(field, "must be greater than 0, got: %v", f)
	}
	return Duration(field, f)
}

// Parse reads text as the CLIs take it: seconds ("30", "0.5") or a Go
// duration ("1m30s"), spaces around allowed; 0 is allowed.
func Parse(field, text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		d, derr := time.ParseDuration(text)
		if derr != nil {
			return 0, fielderr.Errorf(field, "must be seconds (30, 0.5) or a duration (1m30s), 0 or greater, got: %q", text)
		}
		f = d.Seconds()
	}
	return Duration(field, f)
}

// Flag is a flag.Value of Parse. Its errors are the problem alone: the flag
// package names the flag ("invalid value "-1" for flag -timeout: must be 0
// or greater, got: -1"). It shows its value as seconds ("30", "0.5").
type Flag time.Duration

func (s *Flag) String() string { return strconv.FormatFloat(time.Duration(*s).Seconds(), 'f', -1, 64) }

func (s *Flag) Set(text string) error {
	d, err := Parse("", text)
	if fe, ok := fielderr.As(err); ok {
		return errors.New(fe.Problem)
	}
	*s = Flag(d)
	return nil
}
