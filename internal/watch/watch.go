// Package watch releases a locked guard-window once the SLOs are stable:
// the loop behind `qos_guard watch`, so that nobody has to run
// qos_guard_release by hand and deployments are not blocked until the lock
// expires. It knows nothing of flags, HTTP or metrics libraries: the guard,
// the gate and what to report are given to it.
//
// The rules, each tick (every Interval on the Clock):
//   - The guard is read. A guard that cannot be read counts as locked and is
//     never released (fail closed); the streak of passes starts over.
//   - Unlocked (or expired): nothing is evaluated and nothing written; the
//     streak starts over.
//   - Held (a deployment in progress, guard.LockOptions.Hold): nothing is
//     evaluated and nothing written; the streak starts over. Stable SLOs
//     during a promotion do not finish it, and the guard would refuse the
//     release anyway.
//   - Locked: the gate is evaluated. A failing or unreachable gate resets
//     the streak; a pass extends it. The first pass of a streak records the
//     guard's revision. A guard whose revision changed during the streak (a
//     new lock, an extension) starts the streak over at the new revision: a
//     lock taken after the passes began was not judged by them.
//   - After Consecutive passes in a row the guard is released with a
//     compare-and-release at the recorded revision, so a newer lock is never
//     cleared. Several watchers on one shared guard (etcd) do not fight: the
//     first release wins, the others are refused (ReleaseRefused) and see the
//     guard unlocked on their next read.
//   - With Once, Run returns after the first release; otherwise it keeps
//     watching for the next lock. Run returns when ctx is canceled, within
//     the evaluation in flight (the gate receives ctx) or at once in a sleep.
package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/guard"
)

// Defaults of Watcher.
const (
	DefaultInterval    = 30 * time.Second
	DefaultConsecutive = 3
)

// Guard is what the watcher needs of a guard-window: *guard.Guard has it.
type Guard interface {
	Status() (guard.Status, error)
	Unlock(guard.UnlockOptions) (guard.Change, error)
}

// Verdict is the outcome of one evaluation of the gate.
type Verdict struct {
	// Passed is true only when every check passed.
	Passed bool
	// Summary says what failed (or that all passed), for the log.
	Summary string
}

// Gate evaluates the SLO checks once. An error (unreachable backend, bad
// answer) is a failed evaluation.
type Gate func(ctx context.Context) (Verdict, error)

// Kind names what happened in a tick.
type Kind string

// The kinds of events.
const (
	GuardUnreadable Kind = "guard_unreadable" // the guard could not be read: locked, fail closed
	Unlocked        Kind = "unlocked"         // nothing to do
	Held            Kind = "held"             // a deployment in progress holds the guard: not judged
	GatePassed      Kind = "gate_passed"      // a pass; Streak says how many in a row
	GateFailed      Kind = "gate_failed"      // a failed evaluation
	GateError       Kind = "gate_error"       // the gate could not evaluate (unreachable, bad answer)
	Released        Kind = "released"         // this watcher released the guard
	ReleaseRefused  Kind = "release_refused"  // the guard changed since the streak began (another release, a new lock)
	ReleaseFailed   Kind = "release_failed"   // the release could not be written
)

// Event reports one tick to Watcher.Observe.
type Event struct {
	Kind Kind
	At   time.Time
	// Guard is the guard as read (zero when unreadable); for Released, as
	// the release left it, with Change holding the before and after.
	Guard  guard.Status
	Change guard.Change
	// Streak is the passes in a row after this tick; Need is Consecutive.
	Streak, Need int
	// Revision is the guard revision the streak began at (0 when none).
	Revision int64
	// Summary is the gate's summary; Err the error behind an unreadable
	// guard, a gate error or a failed release.
	Summary string
	Err     error
}

// Watcher is the release loop. Fill the fields and call Run.
type Watcher struct {
	Guard Guard
	// Gate returns the gate to evaluate; it is called at every evaluation,
	// so a reload (SIGHUP) takes effect at the next one.
	Gate func() Gate
	// Interval between ticks; 0 means DefaultInterval.
	Interval time.Duration
	// Consecutive passes in a row release the guard; 0 means DefaultConsecutive.
	Consecutive int
	// Owner and Reason are recorded in the release (audit).
	Owner string
	// Once makes Run return after the first release.
	Once bool
	// Clock drives the ticks; nil means clock.Real{}.
	Clock clock.Clock
	// Observe, if set, is called once per tick (twice when a release
	// follows a pass: the pass, then the release).
	Observe func(Event)

	streak int
	rev    int64
}

// Validate reports the first option out of range.
func (w *Watcher) Validate() error {
	switch {
	case w.Guard == nil || w.Gate == nil:
		return errors.New("watch: Guard and Gate are required")
	case w.Interval < 0:
		return fmt.Errorf("interval must be greater than 0, got %s", w.Interval)
	case w.Consecutive < 0:
		return fmt.Errorf("consecutive must be 1 or greater, got %d", w.Consecutive)
	}
	return nil
}

func (w *Watcher) interval() time.Duration {
	if w.Interval == 0 {
		return DefaultInterval
	}
	return w.Interval
}

func (w *Watcher) need() int {
	if w.Consecutive == 0 {
		return DefaultConsecutive
	}
	return w.Consecutive
}

func (w *Watcher) clock() clock.Clock {
	if w.Clock == nil {
		return clock.Real{}
	}
	return w.Clock
}

// Run ticks until ctx is canceled (nil error) or, with Once, until the
// first release (nil error). The error is non-nil only for invalid options.
func (w *Watcher) Run(ctx context.Context) error {
	if err := w.Validate(); err != nil {
		return err
	}
	clk := w.clock()
	for ctx.Err() == nil {
		began := clk.Now()
		if released := w.Tick(ctx); released && w.Once {
			return nil
		}
		if err := clk.Sleep(ctx, w.interval()-clk.Now().Sub(began)); err != nil {
			return nil
		}
	}
	return nil
}

// Tick runs one tick and reports whether it released the guard.
func (w *Watcher) Tick(ctx context.Context) bool {
	now := w.clock().Now()
	ev := Event{At: now, Need: w.need()}
	st, err := w.Guard.Status()
	switch {
	case err != nil:
		w.streak, w.rev = 0, 0
		ev.Kind, ev.Err = GuardUnreadable, err
	case !st.Locked:
		w.streak, w.rev = 0, 0
		ev.Kind, ev.Guard = Unlocked, st
	case st.Hold:
		w.streak, w.rev = 0, 0
		ev.Kind, ev.Guard = Held, st
	default:
		ev.Guard = st
		return w.evaluate(ctx, st, ev)
	}
	w.observe(ev)
	return false
}

// evaluate runs the gate on a locked guard and releases it when stable.
func (w *Watcher) evaluate(ctx context.Context, st guard.Status, ev Event) bool {
	if w.streak > 0 && st.Revision != w.rev {
		w.streak = 0 // locked again (or extended) since the streak began
	}
	v, err := w.Gate()(ctx)
	switch {
	case ctx.Err() != nil:
		return false // stopping: an evaluation cut short judges nothing
	case err != nil:
		w.streak, w.rev = 0, 0
		ev.Kind, ev.Err = GateError, err
	case !v.Passed:
		w.streak, w.rev = 0, 0
		ev.Kind = GateFailed
	default:
		if w.streak == 0 {
			w.rev = st.Revision
		}
		w.streak++
		ev.Kind = GatePassed
	}
	ev.Summary, ev.Streak, ev.Revision = v.Summary, w.streak, w.rev
	w.observe(ev)
	if ev.Kind != GatePassed || w.streak < w.need() {
		return false
	}
	return w.release(ev)
}

// release compare-and-releases at the revision the streak began at.
func (w *Watcher) release(ev Event) bool {
	rev := w.rev
	w.streak, w.rev = 0, 0
	ch, err := w.Guard.Unlock(guard.UnlockOptions{
		Owner:      w.Owner,
		Reason:     fmt.Sprintf("released by the watcher: the SLO gate passed %d times in a row", ev.Need),
		IfRevision: &rev,
	})
	ev.Streak, ev.Revision, ev.Err = 0, rev, err
	switch {
	case errors.Is(err, guard.ErrRefused):
		ev.Kind = ReleaseRefused
		var re *guard.RevisionError
		if errors.As(err, &re) {
			ev.Guard = re.Current
		}
	case err != nil:
		ev.Kind = ReleaseFailed
	default:
		ev.Kind, ev.Guard, ev.Change = Released, ch.After, ch
	}
	w.observe(ev)
	return ev.Kind == Released
}

func (w *Watcher) observe(ev Event) {
	if w.Observe != nil {
		w.Observe(ev)
	}
}
