package slocheck

import (
	"testing"

	"github.com/prometheus/common/model"
)

// Fuzz targets for the duration and window strings and the --checks text.
// `go test` replays the seeds and testdata/fuzz.

// FuzzParseWindow: a window is either refused or a positive Prometheus
// duration that reads back the same, so the query gets what the user wrote.
func FuzzParseWindow(f *testing.F) {
	for _, seed := range []string{"15m", "1h30m", "90s", "0s", "-5m", "15", "15x", "1y", "5000000000000000000y", " 15m ", "1ms", "", "1h1h"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseWindow(s)
		if err != nil {
			return
		}
		if d <= 0 {
			t.Fatalf("%q accepted as %v", s, d)
		}
		back, err := model.ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("%q → %v → %v, %v", s, d, back, err)
		}
	})
}

// FuzzDecodeChecks: --checks text never panics, and what it accepts has
// only the known keys.
func FuzzDecodeChecks(f *testing.F) {
	for _, seed := range []string{
		`{name: p99, query: up, max: 0.5}`,
		`[{name: a, source: loki, query: x, min: 1, on_empty: pass}]`,
		`{"name":"a","query":"q","max":1}`,
		`{name: x, maximum: 1}`, `- 1`, `&a [*a]`, `{name: [1], max: x}`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		specs, err := decodeChecks([]byte(text))
		if err != nil {
			return
		}
		for _, s := range specs {
			_, _ = s.check()
		}
	})
}
