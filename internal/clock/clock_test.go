package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeSleepAdvancesAndRecords(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	hooked := 0
	f.OnSleep = func(time.Duration) { hooked++ }
	f.Sleep(context.Background(), 2*time.Second)
	f.Sleep(context.Background(), -time.Second) // a negative sleep is no sleep
	f.Advance(time.Minute)
	if got, want := f.Now(), start.Add(time.Minute+2*time.Second); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
	if got := f.Slept(); len(got) != 2 || got[0] != 2*time.Second || got[1] != 0 || hooked != 2 {
		t.Fatalf("Slept() = %v, hooks %d", got, hooked)
	}
}

func TestSleepHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewFake(time.Now()).Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("fake Sleep on a cancelled context = %v", err)
	}
	if err := (Real{}).Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("real Sleep on a cancelled context = %v", err)
	}
	if err := (Real{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("real Sleep = %v", err)
	}
}
