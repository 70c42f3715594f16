// Package backoff computes retry delays and drives a retry loop against an
// injectable clock. It knows nothing about processes: the caller supplies one
// attempt as a function and says whether its failure may be retried.
//
// The schedule is the one of retry_backoff.sh generalised: the delay before
// attempt n+1 is
//
//	base * factor^(n-1)
//
// so with base 5s and factor 2 the delays are 5s, 10s, 20s, ... Jitter follows
// "Exponential Backoff And Jitter" (Marc Brooker, AWS, 2015):
//
//	none:  delay = expo
//	full:  delay = uniform[0, expo)
//	equal: delay = expo/2 + uniform[0, expo/2)
//
// where expo is the exponential value already capped at MaxDelay. The cap is
// applied again after jitter, so no combination of options yields a delay above
// MaxDelay (jitter added after a cap is a common bug in retry libraries).
package backoff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Jitter names a randomisation of the exponential delay.
type Jitter string

// The supported jitter modes.
const (
	JitterNone  Jitter = "none"  // exactly base*factor^(n-1); the zero value "" means the same
	JitterFull  Jitter = "full"  // uniform in [0, expo)
	JitterEqual Jitter = "equal" // expo/2 plus uniform in [0, expo/2)
)

// ParseJitter accepts "none", "full" or "equal" (any case, surrounding spaces
// ignored); the empty string means none.
func ParseJitter(s string) (Jitter, error) {
	switch j := Jitter(strings.ToLower(strings.TrimSpace(s))); j {
	case "", JitterNone:
		return JitterNone, nil
	case JitterFull, JitterEqual:
		return j, nil
	}
	return "", fmt.Errorf("jitter: %q is not one of none, full, equal", s)
}

// MaxDuration is the largest delay a Schedule ever returns. Without a cap the
// exponential grows past it after a few dozen attempts; the delay then stays
// here instead of overflowing to zero or a negative number.
const MaxDuration = time.Duration(math.MaxInt64)

// DefaultFactor is the growth factor used when Schedule.Factor is zero: the
// doubling of retry_backoff.sh.
const DefaultFactor = 2.0

// Schedule computes the delay between attempts. The zero value retries at once
// (base 0). A Schedule holds no state, so one value may be shared by many loops.
type Schedule struct {
	// Base is the delay before the second attempt. Must be >= 0.
	Base time.Duration
	// Factor multiplies the delay after each further attempt. Must be >= 1;
	// zero means DefaultFactor (2). 1 gives a constant delay.
	Factor float64
	// MaxDelay caps every delay, before and after jitter. Zero means no cap.
	MaxDelay time.Duration
	// Jitter randomises each delay; "" means JitterNone.
	Jitter Jitter
	// Rand returns a uniform float in [0, 1). Nil means math/rand/v2.Float64.
	// Tests inject a fixed function to assert exact bounds.
	Rand func() float64
}

// Validate reports the first option that is out of range, naming it.
func (s Schedule) Validate() error {
	if s.Base < 0 {
		return fmt.Errorf("base delay must be >= 0, got %v", s.Base)
	}
	if s.Factor != 0 && !(s.Factor >= 1) || math.IsInf(s.Factor, 0) {
		return fmt.Errorf("factor must be a finite number >= 1, got %v", s.Factor)
	}
	if s.MaxDelay < 0 {
		return fmt.Errorf("max delay must be >= 0 (0 means no cap), got %v", s.MaxDelay)
	}
	if _, err := ParseJitter(string(s.Jitter)); err != nil {
		return err
	}
	return nil
}

// Ceiling returns the capped exponential delay before attempt n+1, without
// jitter: min(MaxDelay, Base*Factor^(n-1)). It is the upper bound of Delay(n)
// for every jitter mode. n < 1 is treated as 1.
func (s Schedule) Ceiling(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	limit := MaxDuration
	if s.MaxDelay > 0 {
		limit = s.MaxDelay
	}
	if s.Base <= 0 {
		return 0 // also avoids 0 * Inf = NaN for huge n
	}
	factor := s.Factor
	if factor == 0 {
		factor = DefaultFactor
	}
	// Float math: Pow overflows to +Inf instead of wrapping, and the
	// comparison below clamps Inf (and NaN, which fails every comparison).
	v := float64(s.Base) * math.Pow(factor, float64(n-1))
	if !(v < float64(limit)) {
		return limit
	}
	return time.Duration(v)
}

// Delay returns the delay to sleep after n failed attempts, that is before
// attempt n+1, with jitter applied and capped at MaxDelay. n < 1 is treated
// as 1. The bounds, with c = Ceiling(n):
//
//	none:  exactly c
//	full:  0 <= d < c (d == c only when c == 0)
//	equal: c/2 <= d < c
func (s Schedule) Delay(n int) time.Duration {
	c := s.Ceiling(n)
	var d time.Duration
	switch s.Jitter {
	case JitterFull:
		d = scale(c, s.random())
	case JitterEqual:
		half := c / 2
		d = half + scale(c-half, s.random())
	default:
		d = c
	}
	if s.MaxDelay > 0 && d > s.MaxDelay {
		d = s.MaxDelay
	}
	return d
}

// random returns a value in [0, 1), clamping an injected source that strays.
func (s Schedule) random() float64 {
	f := rand.Float64
	if s.Rand != nil {
		f = s.Rand
	}
	r := f()
	if !(r >= 0) { // also catches NaN
		return 0
	}
	if r >= 1 {
		return math.Nextafter(1, 0)
	}
	return r
}

// scale returns d*r for r in [0, 1) without overflowing, and never d itself
// unless d is 0 (so "uniform in [0, d)" stays a half-open interval).
func scale(d time.Duration, r float64) time.Duration {
	v := time.Duration(float64(d) * r)
	if v >= d && d > 0 {
		v = d - 1
	}
	if v < 0 {
		v = 0
	}
	return v
}
