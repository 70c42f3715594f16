package seconds

import (
	"flag"
	"io"
	"math"
	"testing"
	"time"

	"github.com/threader/guard/internal/fielderr"
)

func TestDurationAcceptsZeroAndMillisecondsUpToMax(t *testing.T) {
	for f, want := range map[float64]time.Duration{0: 0, 0.001: time.Millisecond, 0.5: 500 * time.Millisecond, 30: 30 * time.Second, Max: Max * time.Second} {
		if d, err := Duration("timeout", f); err != nil || d != want {
			t.Errorf("Duration(%v) = %v, %v; want %v", f, d, err, want)
		}
	}
}

func TestDurationRefusesWhatWouldRoundOrOverflowNamingTheField(t *testing.T) {
	for f, want := range map[float64]string{
		math.NaN():   "timeout must be a finite number, got: NaN",
		math.Inf(1):  "timeout must be a finite number, got: +Inf",
		math.Inf(-1): "timeout must be a finite number, got: -Inf",
		-1:           "timeout must be 0 or greater, got: -1",
		1e-10:        "timeout must be 0 or at least 0.001 (1 ms), got: 1e-10",
		0.0009:       "timeout must be 0 or at least 0.001 (1 ms), got: 0.0009",
		1e300:        "timeout must be at most 1e+09 (about 31 years), got: 1e+300",
	} {
		d, err := Duration("timeout", f)
		if fe, ok := fielderr.As(err); !ok || fe.Field != "timeout" || err.Error() != want || d != 0 {
			t.Errorf("Duration(%v) = %v, %v; want the error %q", f, d, err, want)
		}
	}
}

func TestPositiveRefusesZero(t *testing.T) {
	for _, f := range []float64{0, -1} {
		if _, err := Positive("request_timeout", f); err == nil || err.Error() != "request_timeout must be greater than 0, got: "+map[float64]string{0: "0", -1: "-1"}[f] {
			t.Errorf("Positive(%v) = %v", f, err)
		}
	}
	if d, err := Positive("request_timeout", 2); err != nil || d != 2*time.Second {
		t.Errorf("Positive(2) = %v, %v", d, err)
	}
	if _, err := Positive("request_timeout", 1e-10); err == nil {
		t.Error("Positive(1e-10) accepted")
	}
}

func TestParseTakesSecondsOrAGoDuration(t *testing.T) {
	for text, want := range map[string]time.Duration{"30": 30 * time.Second, " 0.5 ": 500 * time.Millisecond, "1m30s": 90 * time.Second, "0": 0, "1ms": time.Millisecond} {
		if d, err := Parse("timeout", text); err != nil || d != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", text, d, err, want)
		}
	}
	for text, want := range map[string]string{
		"soon":  `timeout must be seconds (30, 0.5) or a duration (1m30s), 0 or greater, got: "soon"`,
		"-2s":   "timeout must be 0 or greater, got: -2",
		"999us": "timeout must be 0 or at least 0.001 (1 ms), got: 0.000999",
		"1e400": `timeout must be seconds (30, 0.5) or a duration (1m30s), 0 or greater, got: "1e400"`,
		"NaN":   "timeout must be a finite number, got: NaN",
	} {
		if _, err := Parse("timeout", text); err == nil || err.Error() != want {
			t.Errorf("Parse(%q) = %v, want %q", text, err, want)
		}
	}
}

func TestFlagLeavesNamingTheFlagToThePackage(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := Flag(5 * time.Second)
	fs.Var(&v, "timeout", "")
	if err := fs.Parse([]string{"-timeout", "-1"}); err == nil || err.Error() != `invalid value "-1" for flag -timeout: must be 0 or greater, got: -1` {
		t.Errorf("Parse(-timeout -1) = %v", err)
	}
	if err := fs.Parse([]string{"-timeout", "1m30s"}); err != nil || time.Duration(v) != 90*time.Second || v.String() != "90" {
		t.Errorf("Parse(-timeout 1m30s) = %v, %v (%s)", err, time.Duration(v), v.String())
	}
}

// FuzzParse: no text panics, and what is accepted is 0 or between Min and
// Max seconds, never a negative or overflowed duration, and never one above
// 0 but under 1 ms (which would round to, or behave like, "no limit").
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "0.5", "5", "1m30s", "1e-10", "999us", "1ms", "0.001", "-1", "NaN", "inf", "1e400", "9223372036.854775807", " 3 ", "0x10", "1h1ns", "1e9", "9223372036s", "300h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse("x", s)
		if err != nil {
			if d != 0 {
				t.Fatalf("Parse(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 || d > 0 && d < Min || d > Max*time.Second {
			t.Fatalf("Parse(%q) = %v", s, d)
		}
	})
}
