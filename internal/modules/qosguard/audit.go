package qosguard

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/threader/guard/internal/auditlog"
	"github.com/threader/guard/internal/freeze"
	"github.com/threader/guard/internal/guard"
)

// The audit policy (internal/auditlog): a lock that cannot be audited
// still locks, with a warning; an unlock or a break-glass that cannot be
// audited does not happen, so the log is opened before either.

// changeEntry records a lock or an unlock that changed the guard.
func changeEntry(ch guard.Change, unlocking bool, owner, reason string) auditlog.Entry {
	return auditlog.Entry{
		Time: time.Now().UTC(), Action: changeAction(ch, unlocking), Guard: guardName(ch.Before, ch.After),
		Owner: owner, Reason: reason, Host: hostname(),
		Before: auditState(ch.Before, freeze.State{}), After: auditState(ch.After, freeze.State{}),
	}
}

// breakGlassEntry records a break-glass: what it overrode, the lock's
// reason and the active windows; the guard itself does not change.
func breakGlassEntry(st guard.Status, fr freeze.State, owner, reason string) auditlog.Entry {
	state := auditState(st, fr)
	over := &auditlog.Overridden{LockHeld: st.Locked, Windows: state.FrozenBy}
	if st.Locked {
		over.Lock = st.Reason
	}
	return auditlog.Entry{
		Time: time.Now().UTC(), Action: auditlog.ActionBreakGlass, Guard: st.Path,
		Owner: owner, Reason: reason, Host: hostname(), Before: state, After: state, Overridden: over,
	}
}

func auditState(st guard.Status, fr freeze.State) auditlog.State {
	s := auditlog.State{Locked: st.Locked, Revision: st.Revision, Frozen: fr.Frozen}
	if st.Locked {
		expires := st.ExpiresAt.UTC()
		s.ExpiresAt, s.Reason = &expires, st.Reason
	}
	for _, occ := range fr.Active {
		s.FrozenBy = append(s.FrozenBy, occ.Window)
	}
	return s
}

func guardName(before, after guard.Status) string {
	if after.Path != "" {
		return after.Path
	}
	return before.Path
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// breakGlassMessage says who overrode what, and why.
func breakGlassMessage(owner, reason string, st guard.Status, fr freeze.State) string {
	return fmt.Sprintf("break-glass by %s (%s) overrides: %s", owner, reason, gateMessage(st, fr))
}

// checkBreakGlassReason: an override without a reason is refused; name is
// the option or flag.
func checkBreakGlassReason(name, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("break-glass needs %s: say why the guard is overridden (it is recorded in the audit log)", name)
	}
	return nil
}

// auditedGuard is a guard whose unlocks are recorded in the audit log:
// the log is opened before the guard is touched, so an unlock that cannot
// be recorded does not happen (*auditError, Unlocked false). The module,
// the CLI and the watcher all unlock through it. A dry run is not
// recorded.
type auditedGuard struct {
	*guard.Guard
	log auditlog.Log
}

// auditError is an unlock the audit log refused; Unlocked says whether
// the guard was released all the same (its line could not be written
// after the log had opened).
type auditError struct {
	Unlocked bool
	Err      error
}

func (e *auditError) Error() string { return e.describe("the audit log") }
func (e *auditError) Unwrap() error { return e.Err }

// describe words the error naming the log as the option or flag does.
func (e *auditError) describe(option string) string {
	if e.Unlocked {
		return fmt.Sprintf("the guard was unlocked, but its audit line could not be written to %s: %v", option, e.Err)
	}
	return fmt.Sprintf("not unlocking: the unlock could not be recorded in %s: %v", option, e.Err)
}

func (a auditedGuard) Unlock(opts guard.UnlockOptions) (guard.Change, error) {
	if opts.DryRun {
		return a.Guard.Unlock(opts)
	}
	w, err := a.log.Open()
	if err != nil {
		return guard.Change{}, &auditError{Err: err}
	}
	defer w.Close()
	ch, err := a.Guard.Unlock(opts)
	if err == nil && ch.Changed {
		if err := w.Append(changeEntry(ch, true, opts.Owner, opts.Reason)); err != nil {
			return ch, &auditError{Unlocked: true, Err: err}
		}
	}
	return ch, err
}
