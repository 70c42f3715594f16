package guard

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/threader/guard/internal/fielderr"
)

// Bounds of a request. They keep every record the writer can produce far
// below what the reader accepts (maxLockFile), and every duration far from
// time.Duration's overflow.
const (
	// MaxTextBytes bounds Reason, Owner and Host.
	MaxTextBytes = 1024
	// MaxLockMinutes bounds a lock's duration: one leap year.
	MaxLockMinutes = 366 * 24 * 60
	// MaxRevision is the largest revision: 2^53-1 survives every JSON
	// reader, Ansible's and JavaScript's included.
	MaxRevision = 1<<53 - 1
)

// request is one write, as decide sees it.
type request struct {
	unlock bool
	LockOptions
	// ifRevision, when checkRevision, is the revision an unlock requires.
	ifRevision    int64
	checkRevision bool
	host          string
}

// decide is the guard's whole policy, kept free of I/O so that any store
// (the lock file today, a networked store later) applies the same rules:
// from the state read, the request and the time, it returns the record to
// write, or nil when nothing changes, or an error that refuses the request
// (a *fielderr.Error, *HeldError, *HoldError or *RevisionError). Every record it returns
// carries the next revision.
func decide(cur Status, req request, now time.Time) (*Record, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	var rec *Record
	if req.unlock {
		if req.checkRevision && cur.Revision != req.ifRevision {
			return nil, &RevisionError{Want: req.ifRevision, Current: cur}
		}
		if req.checkRevision && cur.Locked && cur.Hold && !heldBy(cur, req.Owner) {
			return nil, &HoldError{Holder: cur, Owner: req.Owner}
		}
		rec = decideUnlock(cur, req, now)
	} else {
		if req.Exclusive && cur.Locked && !heldBy(cur, req.Owner) {
			return nil, &HeldError{Holder: cur, Owner: req.Owner}
		}
		rec = decideLock(cur, req, now)
	}
	if rec == nil {
		return nil, nil
	}
	if cur.Revision >= MaxRevision {
		return nil, fmt.Errorf("the guard is at the largest revision, %d, and cannot change; remove its lock file", cur.Revision)
	}
	rec.Version = FormatVersion
	rec.Revision = cur.Revision + 1
	return rec, nil
}

func checkRequest(req request) error {
	if !req.unlock {
		if req.Hold && !req.Exclusive {
			return fielderr.Errorf(FieldHold, "requires exclusive: a hold is taken only when nobody else holds the guard")
		}
		if req.Duration < time.Second || req.Duration > MaxLockMinutes*time.Minute {
			return fielderr.Errorf(FieldDuration, "must be between 1 second and %d minutes, got: %s", MaxLockMinutes, req.Duration)
		}
	}
	for _, f := range [...]struct{ field, text string }{{FieldReason, req.Reason}, {FieldOwner, req.Owner}, {FieldHost, req.host}} {
		if err := checkText(f.field, f.text); err != nil {
			return err
		}
	}
	if req.checkRevision && (req.ifRevision < 0 || req.ifRevision > MaxRevision) {
		return fielderr.Errorf(FieldIfRevision, "must be between 0 and %d, got: %d", int64(MaxRevision), req.ifRevision)
	}
	return nil
}

func checkText(field, text string) error {
	if len(text) > MaxTextBytes {
		return fielderr.Errorf(field, "must be at most %d bytes, got: %d bytes", MaxTextBytes, len(text))
	}
	if !utf8.ValidString(text) {
		return fielderr.Errorf(field, "must be valid UTF-8")
	}
	return nil
}

// MinutesDuration converts a number of minutes, fractions included (0.1
// is 6 seconds), to a lock duration, refusing what is out of bounds before
// multiplying, so the product cannot overflow (307445735 minutes used to
// become a 25-second lock). A lock is at least 1 second; it is rounded to
// the millisecond.
func MinutesDuration(minutes float64) (time.Duration, error) {
	text := strconv.FormatFloat(minutes, 'f', -1, 64)
	if !(minutes > 0) { // NaN too
		return 0, fielderr.Errorf(FieldDuration, "must be greater than 0, got: %s", text)
	}
	if minutes > MaxLockMinutes {
		return 0, fielderr.Errorf(FieldDuration, "must be at most %d (one year of minutes), got: %s", MaxLockMinutes, text)
	}
	d := time.Duration(math.Round(minutes*float64(time.Minute/time.Millisecond))) * time.Millisecond
	if d < time.Second {
		return 0, fielderr.Errorf(FieldDuration, "must be at least 1 second (0.0167 minutes), got: %s", text)
	}
	return d, nil
}

// heldBy reports whether the guard is held under owner's name. A legacy or
// corrupt file names no owner, so it is nobody's to take over.
func heldBy(cur Status, owner string) bool {
	return cur.Format == FormatJSON && cur.Owner == owner
}

// decideLock keeps the guard locked for at least req.Duration from now
// (exactly that long with Force), never shortening it otherwise. It
// reports no change only when the same owner asks again for the same
// reason (or gives none) and the expiry is already within Slack of the one asked for: a
// lock by someone else, or for another reason, is a new event and always
// writes (a new revision, its owner and reason, the later expiry), so a
// release still waiting on the older revision cannot clear it.
func decideLock(cur Status, req request, now time.Time) *Record {
	desired := now.Add(req.Duration).Truncate(time.Second)
	rec := &Record{
		LockedAt:  now.Truncate(time.Second),
		ExpiresAt: desired,
		Reason:    req.Reason,
		Owner:     req.Owner,
		Host:      req.host,
		Hold:      req.Hold,
	}
	if !cur.Locked {
		return rec
	}
	if cur.Format == FormatJSON {
		rec.LockedAt = cur.LockedAt // the window started with the first lock
	}
	current := cur.ExpiresAt
	// No reason given is no new reason: a bare re-lock by the holder stays
	// idempotent.
	// A hold that becomes the stability window (or back) is a new event.
	sameEvent := cur.Format == FormatJSON && cur.Owner == req.Owner && cur.Hold == req.Hold &&
		(req.Reason == "" || cur.Reason == req.Reason)
	if req.Force {
		same := absDuration(current.Sub(desired)) <= Slack
		return changedIf(rec, !same || !sameEvent)
	}
	if current.After(desired) {
		// Never shorten: legacy and corrupt files are rewritten as valid
		// JSON, other owners and reasons recorded, with the later expiry.
		rec.ExpiresAt = current
	}
	return changedIf(rec, !sameEvent || current.Before(desired.Add(-Slack)))
}

// decideUnlock writes a released record (a tombstone) over any lock,
// expired or not, legacy or corrupt. The tombstone keeps the revision
// counting: deleting the file would reset it to 0, and a caller still
// holding an old revision could then release a newer lock (ABA). Its
// expires_at is the release time, so readers that predate tombstones see
// an expired lock.
func decideUnlock(cur Status, req request, now time.Time) *Record {
	if !cur.Exists {
		return nil // no file, or already released
	}
	at := now.Truncate(time.Second)
	return &Record{ExpiresAt: at, UnlockedAt: at, Reason: req.Reason, Owner: req.Owner, Host: req.host}
}

func changedIf(rec *Record, changed bool) *Record {
	if !changed {
		return nil
	}
	return rec
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
