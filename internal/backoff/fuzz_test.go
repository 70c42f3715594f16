package backoff

import (
	"math"
	"strings"
	"testing"
	"time"
)

// FuzzParseJitter: only the three modes (any case, spaces around) and ""
// are accepted, and an accepted value is always one of them.
func FuzzParseJitter(f *testing.F) {
	for _, s := range []string{"", "none", "full", "equal", " FULL ", "Equal\t", "random", "full\x00", "ｆｕｌｌ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJitter(s)
		if err != nil {
			if !strings.Contains(err.Error(), "jitter") {
				t.Fatalf("error %q does not name jitter", err)
			}
			return
		}
		if j != JitterNone && j != JitterFull && j != JitterEqual {
			t.Fatalf("ParseJitter(%q) = %q", s, j)
		}
	})
}

// FuzzScheduleDelay: for any valid schedule, attempt number and random
// source, the delay is never negative, never above MaxDelay (jitter
// included) and never above the Ceiling.
func FuzzScheduleDelay(f *testing.F) {
	f.Add(int64(5*time.Second), 2.0, int64(0), "none", 3, 0.5)
	f.Add(int64(time.Second), 1.5, int64(time.Minute), "full", 100, 0.999999)
	f.Add(int64(math.MaxInt64), 1e300, int64(1), "equal", math.MaxInt, 1.0)
	f.Add(int64(1), 1.0, int64(0), "equal", -5, math.NaN())
	f.Fuzz(func(t *testing.T, base int64, factor float64, maxDelay int64, jitter string, n int, r float64) {
		s := Schedule{Base: time.Duration(base), Factor: factor, MaxDelay: time.Duration(maxDelay), Jitter: Jitter(jitter),
			Rand: func() float64 { return r }}
		if s.Validate() != nil {
			return
		}
		d, c := s.Delay(n), s.Ceiling(n)
		if d < 0 || c < 0 || d > c || s.MaxDelay > 0 && d > s.MaxDelay {
			t.Fatalf("%+v: Delay(%d) = %v, Ceiling = %v", s, n, d, c)
		}
	})
}

// FuzzRetryAfterHint: any output gives either no hint or a non-negative
// one, and a hint's digits appear in the output.
func FuzzRetryAfterHint(f *testing.F) {
	for _, s := range []string{"Retry-After: 5", "retry after 10 seconds", "Retry-After: 99999999999999999999", "retry-after:\t0", "RETRY   AFTER 3 secs", "Retry-After: -1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := RetryAfterHint(s)
		if !ok {
			if d != 0 {
				t.Fatalf("no hint but %v", d)
			}
			return
		}
		if d < 0 || d%time.Second != 0 && d != MaxDuration {
			t.Fatalf("RetryAfterHint(%q) = %v", s, d)
		}
	})
}
