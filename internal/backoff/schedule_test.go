package backoff

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func delays(s Schedule, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = s.Delay(i + 1)
	}
	return out
}

func equalDurations(t *testing.T, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("delay %d: got %v, want %v (all: %v)", i+1, got[i], want[i], got)
		}
	}
}

func TestDefaultScheduleIsTheOldScript(t *testing.T) {
	// retry_backoff.sh: delay = base * 2^(attempt-1); factor 0 means 2.
	s := Schedule{Base: 5 * time.Second}
	equalDurations(t, delays(s, 5), []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second})
	s.Jitter = JitterNone
	s.Factor = 2
	equalDurations(t, delays(s, 3), []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second})
}

func TestFactor(t *testing.T) {
	constant := Schedule{Base: 3 * time.Second, Factor: 1}
	equalDurations(t, delays(constant, 4), []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second})
	slow := Schedule{Base: 4 * time.Second, Factor: 1.5}
	equalDurations(t, delays(slow, 3), []time.Duration{4 * time.Second, 6 * time.Second, 9 * time.Second})
}

func TestAttemptNumberBelowOneIsFirst(t *testing.T) {
	s := Schedule{Base: time.Second}
	if s.Delay(0) != time.Second || s.Delay(-5) != time.Second {
		t.Fatalf("Delay(0)=%v Delay(-5)=%v, want 1s", s.Delay(0), s.Delay(-5))
	}
}

func TestCapWithoutJitter(t *testing.T) {
	s := Schedule{Base: 5 * time.Second, MaxDelay: 30 * time.Second}
	equalDurations(t, delays(s, 6), []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second})
}

// Every jitter mode must stay in its bounds for the lowest, middle and highest
// random values, and for many real random values.
func TestJitterBounds(t *testing.T) {
	almostOne := math.Nextafter(1, 0)
	sources := map[string]func() float64{
		"zero":      func() float64 { return 0 },
		"half":      func() float64 { return 0.5 },
		"almostOne": func() float64 { return almostOne },
		"random":    rand.New(rand.NewPCG(1, 2)).Float64,
	}
	for _, j := range []Jitter{JitterNone, JitterFull, JitterEqual} {
		for name, src := range sources {
			for _, capDelay := range []time.Duration{0, 7 * time.Second} {
				s := Schedule{Base: time.Second, Factor: 2, MaxDelay: capDelay, Jitter: j, Rand: src}
				for n := 1; n <= 300; n++ {
					c := s.Ceiling(n)
					d := s.Delay(n)
					lo, hi := jitterBounds(j, c)
					if d < lo || d > hi {
						t.Fatalf("%s/%s cap=%v n=%d: delay %v outside [%v, %v]", j, name, capDelay, n, d, lo, hi)
					}
					if (j == JitterFull || j == JitterEqual) && c > 0 && d == c {
						t.Fatalf("%s/%s n=%d: delay %v reached the open upper bound %v", j, name, n, d, c)
					}
					if capDelay > 0 && d > capDelay {
						t.Fatalf("%s/%s n=%d: delay %v above cap %v", j, name, n, d, capDelay)
					}
				}
			}
		}
	}
}

func jitterBounds(j Jitter, c time.Duration) (lo, hi time.Duration) {
	switch j {
	case JitterFull:
		return 0, c
	case JitterEqual:
		return c / 2, c
	}
	return c, c
}

func TestJitterExactValues(t *testing.T) {
	half := func() float64 { return 0.5 }
	full := Schedule{Base: 10 * time.Second, Jitter: JitterFull, Rand: half}
	if got := full.Delay(2); got != 10*time.Second {
		t.Fatalf("full jitter, expo 20s, r=0.5: got %v, want 10s", got)
	}
	equal := Schedule{Base: 10 * time.Second, Jitter: JitterEqual, Rand: half}
	if got := equal.Delay(2); got != 15*time.Second {
		t.Fatalf("equal jitter, expo 20s, r=0.5: got %v, want 15s", got)
	}
	zero := func() float64 { return 0 }
	if got := (Schedule{Base: 10 * time.Second, Jitter: JitterFull, Rand: zero}).Delay(3); got != 0 {
		t.Fatalf("full jitter, r=0: got %v, want 0", got)
	}
}

func TestRandomSourceOutOfRangeIsClamped(t *testing.T) {
	for _, r := range []float64{-1, 1, 2, math.NaN(), math.Inf(1)} {
		for _, j := range []Jitter{JitterFull, JitterEqual} {
			s := Schedule{Base: time.Second, Jitter: j, Rand: func() float64 { return r }}
			c := s.Ceiling(3)
			d := s.Delay(3)
			lo, _ := jitterBounds(j, c)
			if d < lo || d >= c {
				t.Fatalf("%s with rand=%v: delay %v outside [%v, %v)", j, r, d, lo, c)
			}
		}
	}
}

func TestNoOverflowForLargeAttemptNumbers(t *testing.T) {
	for _, j := range []Jitter{JitterNone, JitterFull, JitterEqual} {
		s := Schedule{Base: time.Second, Factor: 2, Jitter: j, Rand: func() float64 { return 0.999 }}
		prev := time.Duration(0)
		for n := 1; n <= 1000; n++ {
			c := s.Ceiling(n)
			if c < prev {
				t.Fatalf("%s: ceiling went down at n=%d: %v < %v", j, n, c, prev)
			}
			prev = c
			if d := s.Delay(n); d < 0 {
				t.Fatalf("%s n=%d: negative delay %v", j, n, d)
			}
		}
		if got := s.Ceiling(200); got != MaxDuration {
			t.Fatalf("%s: Ceiling(200) without cap = %v, want MaxDuration", j, got)
		}
		if d := s.Delay(200); d <= 0 || (j == JitterNone && d != MaxDuration) {
			t.Fatalf("%s: Delay(200) = %v", j, d)
		}
	}
	capped := Schedule{Base: time.Hour, Factor: 10, MaxDelay: 2 * time.Minute, Jitter: JitterEqual}
	if d := capped.Delay(200); d < time.Minute || d > 2*time.Minute {
		t.Fatalf("capped equal jitter at n=200: %v, want in [1m, 2m]", d)
	}
	huge := Schedule{Base: MaxDuration, Factor: 1e300}
	if d := huge.Delay(200); d != MaxDuration {
		t.Fatalf("huge base and factor: %v", d)
	}
}

func TestZeroBaseIsAlwaysZero(t *testing.T) {
	// 0 * Inf would be NaN; the schedule must still say 0.
	s := Schedule{Base: 0, Factor: 10, Jitter: JitterEqual}
	for _, n := range []int{1, 2, 400, 100000} {
		if d := s.Delay(n); d != 0 {
			t.Fatalf("n=%d: delay %v, want 0", n, d)
		}
	}
}

func TestValidate(t *testing.T) {
	good := []Schedule{{}, {Base: time.Second, Factor: 1}, {Factor: 2.5, MaxDelay: time.Minute, Jitter: JitterFull}}
	for _, s := range good {
		if err := s.Validate(); err != nil {
			t.Fatalf("%+v: unexpected error %v", s, err)
		}
	}
	bad := []struct {
		s    Schedule
		want string // the option the error must name
	}{
		{Schedule{Base: -time.Second}, "base"},
		{Schedule{Factor: 0.5}, "factor"},
		{Schedule{Factor: math.NaN()}, "factor"},
		{Schedule{Factor: math.Inf(1)}, "factor"},
		{Schedule{Factor: -2}, "factor"},
		{Schedule{MaxDelay: -1}, "max delay"},
		{Schedule{Jitter: "decorrelated"}, "jitter"},
	}
	for _, c := range bad {
		err := c.s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%+v: error %v, want one naming %q", c.s, err, c.want)
		}
	}
}

func TestParseJitter(t *testing.T) {
	for in, want := range map[string]Jitter{"": JitterNone, "none": JitterNone, " Full ": JitterFull, "EQUAL": JitterEqual} {
		got, err := ParseJitter(in)
		if err != nil || got != want {
			t.Fatalf("ParseJitter(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseJitter("random"); err == nil || !strings.Contains(err.Error(), "none, full, equal") {
		t.Fatalf("ParseJitter(random): %v", err)
	}
}
