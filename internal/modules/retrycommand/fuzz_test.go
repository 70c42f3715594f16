package retrycommand

import (
	"testing"

	"github.com/threader/guard/internal/backoff"
)

// FuzzParseSeconds: the CLI's duration parser never panics, never returns a
// negative duration, and never one that is above 0 but under 1 ms (which
// would round to, or behave like, "no limit"; issue 10 item 15).
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"0", "0.5", "5", "1m30s", "1e-10", "999us", "1ms", "0.001", "-1", "NaN", "inf", "1e400", "9223372036.854775807", " 3 ", "0x10", "1h1ns"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSeconds(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("parseSeconds(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 || d > 0 && d < backoff.MinLimit || d > backoff.MaxDuration {
			t.Fatalf("parseSeconds(%q) = %v", s, d)
		}
	})
}
