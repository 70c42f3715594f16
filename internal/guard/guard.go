// Package guard implements the QoS guard-window: a lock with an expiry, kept
// in a lock file on each host (FileStore, the default) or in one etcd key for
// a whole fleet (EtcdStore).
// After a rollback or a promotion the guard is locked; deployments refuse to
// run while it is; it is released when the SLOs are stable, or it expires.
//
// The package knows nothing of Ansible or of the command line: the qos_guard
// module and CLI are thin front ends over Guard. Bad request values come back
// as *fielderr.Error naming the field, for the front end to name its option.
//
// Safety properties:
//   - Fail closed: a lock file that cannot be read (permission denied, I/O
//     error) is an error, never "unlocked". A file that was read but holds
//     no valid lock counts as locked until its modification time plus
//     CorruptLockGrace, with a warning every time it is read. A legacy
//     epoch out of range locks with no end.
//   - Every write increments the guard's revision, stored in the file (no
//     file, legacy and corrupt files are revision 0). Unlock writes a
//     released record (a tombstone) instead of deleting the file, so the
//     revision never goes back and a stale revision never matches a newer
//     lock.
//   - Exclusive locks (LockOptions.Exclusive) and compare-and-release
//     (UnlockOptions.IfRevision) are decided on the state read under the
//     writers' lock, so they are atomic against every other writer.
//   - A hold (LockOptions.Hold) is a deployment in progress, as opposed to
//     the stability window that follows it. A compare-and-release (a
//     waiting qos_guard_release, the watcher) never ends someone else's
//     hold, however stable the SLOs look: the deployment is not finished.
//     Its owner ends the hold by locking again without Hold (the window) or
//     by unlocking; a plain unlock (no IfRevision) is the audited override.
//   - The policy (decide) is pure: the state read, the request and the
//     time in, the record to write out. A Store reads and writes it; the
//     file and etcd stores share the policy and one test suite
//     (semantics_test.go). The rest of this list is the file's; etcd's
//     differences are in EtcdStore's comment.
//   - Writes are atomic (internal/atomicfile: temporary file in the same
//     directory, fsync, rename, fsync of the directory), so readers never
//     see a half-written file, and a killed writer leaves the previous one.
//   - Writers on one host are serialised with flock(2) on a sidecar file
//     (PATH.lock, never removed, so no unlink-on-release race), waiting at
//     most LockTimeout, and every writer keeps the later expiry, so
//     concurrent lockers converge on one valid file with the latest expiry.
//   - The lock path is never followed if it is a symlink.
package guard

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/fielderr"
)

// DefaultPath is where the old qos_guard.sh kept the lock.
const DefaultPath = "/run/threader.qos.guard"

// CorruptLockGrace bounds how long a lock file that was read but holds no
// valid lock keeps the guard locked, counted from the file's modification
// time. A file that cannot be read at all gets no grace: it is an error.
const CorruptLockGrace = 15 * time.Minute

// Slack is how close two expiries must be to count as the same, so that a
// task re-run a few seconds later reports no change.
const Slack = 60 * time.Second

// DefaultLockTimeout is how long a writer waits for PATH.lock by default.
const DefaultLockTimeout = 30 * time.Second

// MaxLockTimeout bounds LockTimeout.
const MaxLockTimeout = time.Hour

// Guard is one guard-window: a lock file, or the Store given.
type Guard struct {
	// Store holds the guard's state; nil means the lock file at Path.
	Store Store
	// Path of the lock file; it must be absolute. Unused with a Store.
	Path string
	// Clock defaults to the wall clock; tests pass a clock.Fake. The wait
	// for the writers' lock always runs on the wall clock: the other
	// writers are real processes.
	Clock clock.Clock
	// Host is recorded in the lock file; it defaults to os.Hostname().
	Host string
	// LockTimeout bounds the wait for another writer's flock on PATH.lock;
	// default DefaultLockTimeout, at most MaxLockTimeout.
	LockTimeout time.Duration
}

// LockOptions describe a lock request.
type LockOptions struct {
	// Duration the guard must stay locked from now: 1 minute to
	// MaxLockMinutes (see MinutesDuration).
	Duration time.Duration
	// Reason and Owner are recorded; at most MaxTextBytes each.
	Reason string
	Owner  string
	// Force sets the expiry to exactly now+Duration, even if that is
	// earlier than the current one. Without it a lock is never shortened.
	Force bool
	// Exclusive acquires the guard only if it is unlocked (or expired) or
	// already held by the same Owner (then it extends as a plain lock);
	// otherwise Lock fails with a *HeldError naming the holder.
	Exclusive bool
	// Hold marks the lock as a deployment in progress (it requires
	// Exclusive): until its owner locks again without Hold, or unlocks, a
	// compare-and-release by anyone else is refused with a *HoldError.
	Hold bool
	// DryRun computes the change without writing anything (check mode);
	// refusals are the same.
	DryRun bool
}

// UnlockOptions describe an unlock request.
type UnlockOptions struct {
	// Reason and Owner are recorded in the released record.
	Reason string
	Owner  string
	// IfRevision, when not nil, makes the unlock a compare-and-release:
	// it happens only if the guard is still at that revision; otherwise
	// nothing changes and Unlock fails with a *RevisionError.
	IfRevision *int64
	DryRun     bool
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
	return g.store().Read(g.now())
}

func (g *Guard) store() Store {
	if g.Store != nil {
		return g.Store
	}
	return FileStore{g}
}

// Lock makes sure the guard stays locked for at least opts.Duration from
// now (exactly that long with Force); with Exclusive, only for its owner.
func (g *Guard) Lock(opts LockOptions) (Change, error) {
	return g.update(request{LockOptions: opts, host: g.host()}, opts.DryRun)
}

// Unlock releases the guard, expired or not (with IfRevision, only if it
// is still at that revision).
func (g *Guard) Unlock(opts UnlockOptions) (Change, error) {
	req := request{unlock: true, LockOptions: LockOptions{Reason: opts.Reason, Owner: opts.Owner}, host: g.host()}
	if opts.IfRevision != nil {
		req.checkRevision, req.ifRevision = true, *opts.IfRevision
	}
	return g.update(req, opts.DryRun)
}

// update applies decide to the state the store reads and has the store
// write what it returns.
func (g *Guard) update(req request, dryRun bool) (Change, error) {
	if err := checkRequest(req); err != nil {
		return Change{}, err // before touching anything
	}
	return g.store().Update(g.now, dryRun, func(cur Status, now time.Time) (*Record, error) { return decide(cur, req, now) })
}

func (g *Guard) checkLockTimeout() error {
	if g.LockTimeout < 0 || g.LockTimeout > MaxLockTimeout {
		return fielderr.Errorf(FieldLockTimeout, "must be between 0 and %d seconds, got: %s", int(MaxLockTimeout/time.Second), g.LockTimeout)
	}
	return nil
}

func (g *Guard) lockTimeout() time.Duration {
	if g.LockTimeout == 0 {
		return DefaultLockTimeout
	}
	return g.LockTimeout
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
