package guard

import (
	"errors"
	"fmt"
	"time"
)

// Field names carried by the *fielderr.Error values the guard returns for a
// request field it refuses. Front ends map each to their own
// option or flag name once (Duration -> minutes, LockTimeout ->
// lock_timeout_seconds or --lock-timeout).
const (
	FieldDuration    = "duration"
	FieldReason      = "reason"
	FieldOwner       = "owner"
	FieldHost        = "host"
	FieldLockTimeout = "lock_timeout"
	FieldIfRevision  = "if_revision"
	FieldHold        = "hold"
)

// ErrRefused marks a request the guard's state did not allow: an exclusive
// lock while another owner holds the guard, or a compare-and-release whose
// revision no longer matches. errors.Is(err, ErrRefused) holds for both.
var ErrRefused = errors.New("refused")

// HeldError refuses an exclusive lock: someone else holds the guard.
type HeldError struct {
	Holder Status // the guard as it was read
	Owner  string // who asked
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("QoS guard-window is already held by %s: %s; exclusive lock for %s refused",
		describeHolder(e.Holder), describeLock(e.Holder), ownerText(e.Owner))
}

func (e *HeldError) Is(target error) bool { return target == ErrRefused }

// HoldError refuses a compare-and-release of someone else's hold: a
// deployment is in progress, and stable SLOs do not finish it.
type HoldError struct {
	Holder Status // the guard as it was read
	Owner  string // who asked
}

func (e *HoldError) Error() string {
	return fmt.Sprintf("QoS guard-window is held by %s for a deployment in progress: %s; not unlocking for %s "+
		"(only the holder ends a hold; an unlock without a revision overrides it, and is audited)",
		describeHolder(e.Holder), describeLock(e.Holder), ownerText(e.Owner))
}

func (e *HoldError) Is(target error) bool { return target == ErrRefused }

// RevisionError refuses a compare-and-release: the guard changed since the
// revision the caller read.
type RevisionError struct {
	Want    int64
	Current Status
}

func (e *RevisionError) Error() string {
	cur := e.Current
	return fmt.Sprintf("QoS guard-window changed since revision %d, it is now at revision %d: %s; not unlocking",
		e.Want, cur.Revision, describeChange(cur))
}

func (e *RevisionError) Is(target error) bool { return target == ErrRefused }

// describeChange says who changed the guard last, when and why.
func describeChange(st Status) string {
	switch {
	case st.Released():
		return fmt.Sprintf("unlocked by %s at %s%s", describeHolder(st), formatTime(st.UnlockedAt), reasonText(st.Reason))
	case !st.Exists:
		return "the lock file is gone"
	case st.Format != FormatJSON:
		return describeLock(st)
	}
	state := "locked"
	if !st.Locked {
		state = "locked (now expired)"
	}
	return fmt.Sprintf("%s by %s at %s until %s%s", state, describeHolder(st), formatTime(st.LockedAt), formatTime(st.ExpiresAt), reasonText(st.Reason))
}

// describeHolder names who wrote the state: owner on host.
func describeHolder(st Status) string {
	if st.Format != FormatJSON {
		return "an unknown holder (" + st.Format + " lock file)"
	}
	h := ownerText(st.Owner)
	if st.Host != "" {
		h += " on " + st.Host
	}
	return h
}

// describeLock is the lock's expiry and reason, as Message shows them.
func describeLock(st Status) string {
	msg := fmt.Sprintf("locked until %s (%s left)", formatTime(st.ExpiresAt), HumanDuration(st.Remaining))
	msg += reasonText(st.Reason)
	if st.Warning != "" {
		msg += " [" + st.Warning + "]"
	}
	return msg
}

func ownerText(owner string) string {
	if owner == "" {
		return "an unnamed owner"
	}
	return fmt.Sprintf("owner %q", owner)
}

func reasonText(reason string) string {
	if reason == "" {
		return ", no reason given"
	}
	return fmt.Sprintf(", reason: %s", reason)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}
