// Package guard implements the QoS guard-window: a lock file with an expiry.
// After a rollback or a promotion the guard is locked; deployments refuse to
// run while it is; it is released when the SLOs are stable, or it expires.
//
// The package knows nothing of Ansible or of the command line: the qos_guard
// module and CLI are thin front ends over Guard.
//
// Safety properties:
//   - Fail closed: a lock file that exists but cannot be read or parsed counts
//     as locked until its modification time plus CorruptLockGrace.
//   - Writes are atomic (temporary file in the same directory, fsync, rename,
//     fsync of the directory), so readers never see a half-written file.
//   - Writers on one host are serialised with flock(2) on a sidecar file
//     (PATH.lock, never removed, so no unlink-on-release race), and every
//     writer keeps the later expiry, so concurrent lockers converge on one
//     valid file with the latest expiry.
//   - The lock path is never followed if it is a symlink.
package guard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/threader/guard/internal/clock"
)

// DefaultPath is where the old qos_guard.sh kept the lock.
const DefaultPath = "/run/threader.qos.guard"

// CorruptLockGrace bounds how long an unreadable or unparseable lock file
// keeps the guard locked, counted from the file's modification time.
const CorruptLockGrace = 15 * time.Minute

// Slack is how close two expiries must be to count as the same, so that a
// task re-run a few seconds later reports no change.
const Slack = 60 * time.Second

// Guard is one guard-window lock file.
type Guard struct {
	// Path of the lock file; it must be absolute.
	Path string
	// Clock defaults to the wall clock; tests pass a clock.Fake.
	Clock clock.Clock
	// Host is recorded in the lock file; it defaults to os.Hostname().
	Host string
}

// LockOptions describe a lock request.
type LockOptions struct {
	// Duration the guard must stay locked from now; it must be positive.
	Duration time.Duration
	Reason   string
	Owner    string
	// Force sets the expiry to exactly now+Duration, even if that is
	// earlier than the current one. Without it a lock is never shortened.
	Force bool
	// DryRun computes the change without writing anything (check mode).
	DryRun bool
}

// Change is the outcome of Lock or Unlock.
type Change struct {
	Before, After Status
	Changed       bool
}

// ErrSymlink is returned when the lock path is a symlink.
var ErrSymlink = errors.New("is a symlink; refusing to follow it")

func (g *Guard) clock() clock.Clock {
	if g.Clock == nil {
		return clock.Real{}
	}
	return g.Clock
}

func (g *Guard) now() time.Time { return g.clock().Now().UTC() }

func (g *Guard) host() string {
	if g.Host != "" {
		return g.Host
	}
	h, _ := os.Hostname()
	return h
}

// Status reads the guard without changing anything.
func (g *Guard) Status() (Status, error) {
	if err := g.checkPath(); err != nil {
		return Status{}, err
	}
	return g.read()
}

// Lock makes sure the guard stays locked for at least opts.Duration from
// now (exactly that long with Force).
func (g *Guard) Lock(opts LockOptions) (Change, error) {
	if opts.Duration <= 0 {
		return Change{}, fmt.Errorf("lock duration must be positive, got %s", opts.Duration)
	}
	before, release, err := g.readForWrite(opts.DryRun)
	if err != nil {
		return Change{}, err
	}
	defer release()
	now := g.now()
	rec, changed := g.plan(before, opts, now)
	if !changed {
		return Change{Before: before, After: before}, nil
	}
	after := statusOf(g.Path, rec, now)
	if !opts.DryRun {
		if err := writeAtomic(g.Path, rec); err != nil {
			return Change{}, err
		}
	}
	return Change{Before: before, After: after, Changed: true}, nil
}

// plan decides the record to write, or that nothing needs to change.
func (g *Guard) plan(before Status, opts LockOptions, now time.Time) (Record, bool) {
	desired := now.Add(opts.Duration).Truncate(time.Second)
	rec := Record{
		Version:   FormatVersion,
		LockedAt:  now.Truncate(time.Second),
		ExpiresAt: desired,
		Reason:    opts.Reason,
		Owner:     opts.Owner,
		Host:      g.host(),
	}
	if !before.Locked {
		return rec, true
	}
	if before.Format == FormatJSON {
		rec.LockedAt = before.LockedAt // the window started with the first lock
	}
	current := before.ExpiresAt
	if opts.Force {
		same := absDuration(current.Sub(desired)) <= Slack
		return rec, !same || before.Format != FormatJSON
	}
	if before.Format != FormatJSON {
		// Rewrite legacy and corrupt files as valid JSON, never shortening.
		if current.After(desired) {
			rec.ExpiresAt = current
		}
		return rec, true
	}
	return rec, current.Before(desired.Add(-Slack))
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Unlock removes the lock file, expired or not.
func (g *Guard) Unlock(dryRun bool) (Change, error) {
	before, release, err := g.readForWrite(dryRun)
	if err != nil {
		return Change{}, err
	}
	defer release()
	after := Status{Path: g.Path}
	if !before.Exists {
		return Change{Before: before, After: before}, nil
	}
	if !dryRun {
		if err := removeDurably(g.Path); err != nil {
			return Change{}, err
		}
	}
	return Change{Before: before, After: after, Changed: true}, nil
}

// readForWrite checks the path, takes the writers' lock (none for a dry
// run) and reads the state under it, so Lock and Unlock decide on what no
// other writer can change before they write. The caller runs release.
func (g *Guard) readForWrite(dryRun bool) (Status, func(), error) {
	if err := g.checkPath(); err != nil {
		return Status{}, nil, err
	}
	release, err := g.serialise(dryRun)
	if err != nil {
		return Status{}, nil, err
	}
	before, err := g.read()
	if err != nil {
		release()
		return Status{}, nil, err
	}
	return before, release, nil
}

// WaitUnlocked polls until the guard is unlocked or maxWait has passed, and
// returns the last status. It returns as soon as the guard unlocks, and
// never sleeps past a known expiry.
func (g *Guard) WaitUnlocked(ctx context.Context, maxWait, pollEvery time.Duration) (Status, error) {
	deadline := g.now().Add(maxWait)
	for {
		st, err := g.Status()
		if err != nil || !st.Locked {
			return st, err
		}
		left := deadline.Sub(g.now())
		if left <= 0 {
			return st, nil
		}
		nap := min(pollEvery, left)
		if untilExpiry := st.ExpiresAt.Sub(g.now()); untilExpiry > 0 && untilExpiry < nap {
			nap = untilExpiry
		}
		if err := g.clock().Sleep(ctx, nap); err != nil {
			return st, err
		}
	}
}
