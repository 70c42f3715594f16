package testenv

import (
	"testing"
	"time"
)

// Within fails the test if f has not returned after limit: a guard against
// hangs, not a measurement.
func Within(t testing.TB, limit time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("still running after %s", limit)
	}
}
