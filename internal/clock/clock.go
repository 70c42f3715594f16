// Package clock lets timing-sensitive logic (guard expiry, retry schedules,
// SLO polling) run against a fake clock in tests, so tests never sleep.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source the domain packages use instead of the time package.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first, and
	// returns ctx.Err() when it was cut short.
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits on a timer or the context.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fake is a manual clock: Sleep advances it instantly, so code that waits
// minutes runs in microseconds and its schedule can be asserted exactly.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	slept   []time.Duration
	OnSleep func(d time.Duration) // optional hook, called after each Sleep advances the clock
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Sleep records d, advances the clock by it and returns at once.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d < 0 {
		d = 0
	}
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.slept = append(f.slept, d)
	hook := f.OnSleep
	f.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	return nil
}

// Slept returns every duration passed to Sleep, in order.
func (f *Fake) Slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}
