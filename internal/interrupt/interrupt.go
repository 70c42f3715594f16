// Package interrupt is the one place where a command-line program learns
// that it was asked to stop. Context turns SIGINT (Ctrl-C), SIGTERM (kill,
// a CI job's cancel button) and SIGHUP (a closed terminal) into the
// cancellation of a context, like signal.NotifyContext, but the cause says
// which signal it was:
//
//   - a program that runs a child forwards that signal (runner does);
//   - a program that polls stops polling at once;
//   - every program then exits 128+N (ExitCode), as a shell reports a
//     process killed by signal N, so scripts see the same code whether the
//     signal killed the program or the program stopped cleanly on it.
//
// Catching the signal also means a program is never killed half-way through
// a write: it finishes the write, then stops.
package interrupt

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signals are the signals Context catches.
var Signals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// Cause is the cancellation cause of a context canceled by a signal. Tests
// and callers that stop work for other reasons may cancel with one too, to
// choose the signal forwarded to a child.
type Cause struct {
	Signal syscall.Signal
}

func (c Cause) Error() string {
	name := unix.SignalName(c.Signal)
	if name == "" {
		name = "signal " + c.Signal.String()
	}
	return "interrupted by " + name
}

// Context returns a copy of parent that is canceled, with a Cause naming
// the signal, when the process gets one of Signals. Call stop when done: it
// restores the default action of the signals and cancels the context.
func Context(parent context.Context) (ctx context.Context, stop func()) {
	return notify(parent, nil)
}

// Reloading is Context for a long-running service: SIGINT and SIGTERM
// cancel ctx, but SIGHUP calls reload (re-read the configuration, as
// daemons do) and the service goes on. reload runs on the signal goroutine,
// once per SIGHUP, never concurrently with itself.
func Reloading(parent context.Context, reload func()) (ctx context.Context, stop func()) {
	return notify(parent, reload)
}

func notify(parent context.Context, reload func()) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, Signals...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig, _ := s.(syscall.Signal)
				if sig == syscall.SIGHUP && reload != nil {
					reload()
					continue
				}
				cancel(Cause{Signal: sig})
				return
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel(context.Canceled)
		})
	}
}

// Signal returns the signal that canceled ctx, if a signal did.
func Signal(ctx context.Context) (syscall.Signal, bool) {
	var c Cause
	if errors.As(context.Cause(ctx), &c) && c.Signal > 0 {
		return c.Signal, true
	}
	return 0, false
}

// ExitCode is 128+N when ctx was canceled by signal N, else code.
func ExitCode(ctx context.Context, code int) int {
	if sig, ok := Signal(ctx); ok {
		return 128 + int(sig)
	}
	return code
}
