package interrupt

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

func TestASignalCancelsWithItsCause(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT} {
		ctx, stop := Context(context.Background())
		if ExitCode(ctx, 3) != 3 {
			t.Fatal("exit code before any signal")
		}
		syscall.Kill(syscall.Getpid(), sig)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%v did not cancel the context", sig)
		}
		if got, ok := Signal(ctx); !ok || got != sig {
			t.Errorf("Signal = %v, %v; want %v", got, ok, sig)
		}
		if code := ExitCode(ctx, 0); code != 128+int(sig) {
			t.Errorf("ExitCode = %d, want %d", code, 128+int(sig))
		}
		if msg := context.Cause(ctx).Error(); msg != "interrupted by "+map[syscall.Signal]string{1: "SIGHUP", 2: "SIGINT", 15: "SIGTERM"}[sig] {
			t.Errorf("cause %q", msg)
		}
		stop()
		stop() // idempotent
	}
}

func TestStopIsNotASignal(t *testing.T) {
	ctx, stop := Context(context.Background())
	stop()
	<-ctx.Done()
	if _, ok := Signal(ctx); ok || ExitCode(ctx, 1) != 1 {
		t.Fatalf("a stopped context reports a signal: %v", context.Cause(ctx))
	}
	// A cause wrapped by someone else still counts.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(fmt.Errorf("stopping: %w", Cause{Signal: syscall.SIGINT}))
	if ExitCode(ctx, 1) != 130 {
		t.Fatal("a wrapped cause is not found")
	}
}

// Issue 15: a service reloads on SIGHUP and goes on; SIGTERM still stops it.
func TestReloadingTurnsSIGHUPIntoAReload(t *testing.T) {
	reloads := make(chan struct{}, 4)
	ctx, stop := Reloading(context.Background(), func() { reloads <- struct{}{} })
	defer stop()
	for range 2 {
		syscall.Kill(syscall.Getpid(), syscall.SIGHUP)
		select {
		case <-reloads:
		case <-time.After(10 * time.Second):
			t.Fatal("SIGHUP did not reload")
		}
	}
	if ctx.Err() != nil {
		t.Fatal("SIGHUP canceled the context")
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel")
	}
	if sig, _ := Signal(ctx); sig != syscall.SIGTERM {
		t.Fatalf("signal %v", sig)
	}
}
