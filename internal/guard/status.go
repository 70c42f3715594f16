package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/threader/guard/internal/strictjson"
)

// FormatVersion is the version of the JSON lock file format.
const FormatVersion = 1

// Lock file formats, as reported in Status.Format.
const (
	FormatNone    = ""        // no file
	FormatJSON    = "json"    // this package's format
	FormatLegacy  = "epoch"   // an integer: Unix seconds of expiry, as qos_guard.sh wrote
	FormatCorrupt = "corrupt" // read, but holds no valid lock
)

// Record is the JSON content of a lock file. A released guard is a record
// with UnlockedAt set (a tombstone): it keeps the revision, and its
// ExpiresAt equals UnlockedAt so that older readers see an expired lock.
type Record struct {
	Version    int       `json:"version"`
	Revision   int64     `json:"revision"`
	LockedAt   time.Time `json:"locked_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at"`
	UnlockedAt time.Time `json:"unlocked_at,omitzero"`
	Reason     string    `json:"reason"`
	Owner      string    `json:"owner"`
	Host       string    `json:"host"`
	// Hold: the lock is a deployment in progress (LockOptions.Hold).
	Hold bool `json:"hold,omitempty"`
}

// Status is the guard as read from its store at one moment.
type Status struct {
	Path string
	// Exists: a lock is recorded, expired or not, valid or not. False when
	// there is no file and when the guard was released (a tombstone).
	Exists    bool
	Locked    bool
	Format    string
	LockedAt  time.Time // zero when unknown
	ExpiresAt time.Time // zero when no lock is recorded
	// UnlockedAt is when the guard was released, for a tombstone.
	UnlockedAt time.Time
	Remaining  time.Duration
	// Reason, Owner and Host are the lock's, or the release's for a tombstone.
	Reason string
	Owner  string
	Host   string
	// Hold: the lock is a deployment in progress, held by Owner.
	Hold bool
	// Revision counts the writes to the guard: every write adds one. No
	// file, a legacy file and a corrupt file are revision 0.
	Revision int64
	// Warning explains a fail-closed reading (a file that holds no valid lock).
	Warning string
}

// Released reports whether the guard was explicitly unlocked (a tombstone).
func (s Status) Released() bool { return !s.UnlockedAt.IsZero() }

// Message is the one-line explanation shown when a deployment is refused.
func (s Status) Message() string {
	if !s.Locked {
		return "QoS guard-window is unlocked"
	}
	msg := fmt.Sprintf("QoS guard-window is locked until %s (%s left)", s.ExpiresAt.UTC().Format(time.RFC3339), HumanDuration(s.Remaining))
	if s.Reason != "" {
		msg += ": " + s.Reason
	}
	if s.Warning != "" {
		msg += " [" + s.Warning + "]"
	}
	return msg
}

// HumanDuration renders a remaining time the way people say it: 14m, 1h5m, 40s.
func HumanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", int(d.Hours()), m)
		}
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int((d + 30*time.Second).Minutes()))
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}

func statusOf(path string, rec Record, now time.Time) Status {
	st := Status{
		Path: path, Format: FormatJSON, Revision: rec.Revision,
		Reason: rec.Reason, Owner: rec.Owner, Host: rec.Host,
	}
	if !rec.UnlockedAt.IsZero() {
		st.UnlockedAt = rec.UnlockedAt.UTC()
		return st
	}
	st.Exists, st.Hold = true, rec.Hold
	st.LockedAt, st.ExpiresAt = rec.LockedAt.UTC(), rec.ExpiresAt.UTC()
	st.setExpiry(now)
	return st
}

func (s *Status) setExpiry(now time.Time) {
	s.Remaining = s.ExpiresAt.Sub(now).Truncate(time.Second) // Sub saturates, it never overflows
	s.Locked = s.Remaining > 0
	if !s.Locked {
		s.Remaining = 0
	}
}

// maxLockFile bounds what the reader reads: a lock file is tiny, and a huge
// planted file must not be read whole. Every record the writer can produce
// is far smaller (MaxTextBytes per text field, at most 6 bytes of JSON per
// byte); TestLargestRecordReadsBackWhole checks it.
const maxLockFile = 64 << 10

// farFuture is the expiry of a legacy file whose number is out of range:
// locked with no end, until someone unlocks it.
var farFuture = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// maxLegacyEpoch is the last second a legacy file may name (farFuture).
var maxLegacyEpoch = farFuture.Unix()

var legacyNumber = regexp.MustCompile(`^[+-]?[0-9]+$`)

// read loads the lock file. A file that cannot be read is an error, never
// a state: its content, and so whether it is locked, is unknown (fail
// closed). A file that vanishes mid-read reads as unlocked.
func (g *Guard) read() (Status, error) {
	now := g.now()
	info, err := os.Lstat(g.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Status{Path: g.Path}, nil
	}
	if err != nil {
		return Status{}, readError(g.Path, "stat", err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return Status{}, fmt.Errorf("lock path %s %w", g.Path, ErrSymlink)
	}
	if !info.Mode().IsRegular() {
		return Status{}, fmt.Errorf("lock path %s is not a regular file (%s)", g.Path, info.Mode().Type())
	}
	data, err := readNoFollow(g.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Status{Path: g.Path}, nil
	}
	if err != nil {
		return Status{}, err
	}
	return parseLockFile(g.Path, data, info.ModTime(), now), nil
}

// parseLockFile reads the content of a lock file; it never fails: what is
// not a valid lock fails closed.
func parseLockFile(path string, data []byte, mtime, now time.Time) Status {
	if len(data) > maxLockFile {
		return failClosed(path, now, mtime, fmt.Sprintf("lock file %s is larger than %d bytes, so not a guard lock", path, maxLockFile))
	}
	text := strings.TrimSpace(string(data))
	if legacyNumber.MatchString(text) {
		return parseLegacy(path, text, now)
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return failClosed(path, now, mtime, fmt.Sprintf("lock file %s is not a valid guard lock (%v)", path, err))
	}
	return statusOf(path, rec, now)
}

// parseLegacy reads qos_guard.sh's Unix seconds of expiry. A number that
// does not fit, or lies outside year 1970 to 9999, is not a time anyone
// meant: it locks with no end (never unlocked), with a warning.
func parseLegacy(path, text string, now time.Time) Status {
	st := Status{Path: path, Exists: true, Format: FormatLegacy}
	epoch, err := strconv.ParseInt(text, 10, 64)
	if err != nil || epoch < 0 || epoch > maxLegacyEpoch {
		st.ExpiresAt = farFuture
		st.setExpiry(now)
		st.Warning = fmt.Sprintf("lock file %s holds the expiry %.40s, out of range; treated as locked with no end; clear it with state=unlocked (qos_guard unlock)", path, text)
		return st
	}
	st.ExpiresAt = time.Unix(epoch, 0).UTC()
	st.setExpiry(now)
	return st
}

// decodeRecord parses a JSON record strictly: one object, no key twice or
// in two cases (strictjson: encoding/json would let the last one win), no
// field name spelled in another case (encoding/json would accept it), the
// known version, a revision in range and an expiry.
func decodeRecord(data []byte) (Record, error) {
	var rec Record
	var fields map[string]json.RawMessage
	if err := strictjson.Unmarshal(data, &fields); err != nil {
		return rec, err
	}
	if err := checkSpelling(fields); err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, err
	}
	switch {
	case rec.Version != FormatVersion:
		return rec, fmt.Errorf("version %d, want %d", rec.Version, FormatVersion)
	case rec.Revision < 0 || rec.Revision > MaxRevision:
		return rec, fmt.Errorf("revision %d out of range", rec.Revision)
	case rec.ExpiresAt.IsZero():
		return rec, errors.New("no expires_at")
	case !rec.UnlockedAt.IsZero() && !rec.ExpiresAt.Equal(rec.UnlockedAt):
		// The writer sets both to the release time; a released record that
		// still expires later says two things, so it says nothing.
		return rec, errors.New("a released record's expires_at must equal its unlocked_at")
	}
	return rec, nil
}

// recordKeys are the JSON names of Record's fields.
var recordKeys = []string{"version", "revision", "locked_at", "expires_at", "unlocked_at", "reason", "owner", "host"}

// checkSpelling refuses a key that names a Record field in another case.
// Unknown keys are allowed: they change nothing this reader uses.
func checkSpelling(fields map[string]json.RawMessage) error {
	for key := range fields {
		for _, known := range recordKeys {
			if strings.EqualFold(key, known) && key != known {
				return fmt.Errorf("key %q must be spelled %q", key, known)
			}
		}
	}
	return nil
}

// failClosed treats a file that was read but holds no valid lock as locked
// until mtime + CorruptLockGrace, and says how to clear it.
func failClosed(path string, now, mtime time.Time, why string) Status {
	st := Status{Path: path, Exists: true, Format: FormatCorrupt, ExpiresAt: mtime.Add(CorruptLockGrace).UTC().Truncate(time.Second)}
	st.setExpiry(now)
	st.Warning = fmt.Sprintf("%s; treated as locked until %s; clear it with state=unlocked (qos_guard unlock)",
		why, st.ExpiresAt.Format(time.RFC3339))
	return st
}

// plainErr drops the "open PATH:" prefix when the message already names the path.
func plainErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("lock path %s %w", path, ErrSymlink)
	}
	if err != nil {
		return nil, readError(path, "open", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLockFile+1))
	if err != nil {
		return nil, readError(path, "read", err)
	}
	return data, nil
}

// ReadError is a lock file that exists but could not be read: the guard's
// state is unknown, so every caller fails closed.
type ReadError struct {
	Path string
	Op   string // stat, open, read
	Err  error
}

func (e *ReadError) Error() string {
	msg := fmt.Sprintf("cannot %s the lock file %s: %v", e.Op, e.Path, plainErr(e.Err))
	if errors.Is(e.Err, fs.ErrPermission) {
		if e.Op == "stat" {
			msg += fmt.Sprintf(" (search access to %s is needed", filepath.Dir(e.Path))
		} else {
			msg += fmt.Sprintf(" (read access to %s is needed", e.Path)
		}
		msg += "; run as its owner or with become)"
	}
	return msg + "; the guard's state is unknown, so it counts as locked"
}

func (e *ReadError) Unwrap() error { return e.Err }

func readError(path, op string, err error) error { return &ReadError{Path: path, Op: op, Err: err} }

// Fields is the status as the module result and the CLI's --json show it:
// RFC 3339 UTC times or null, whole seconds.
func (s Status) Fields() map[string]any {
	return map[string]any{
		"path":              s.Path,
		"locked":            s.Locked,
		"expires_at":        timeOrNil(s.ExpiresAt),
		"locked_at":         timeOrNil(s.LockedAt),
		"remaining_seconds": int64(s.Remaining / time.Second),
		"reason":            emptyToNil(s.Reason),
		"owner":             emptyToNil(s.Owner),
		"host":              emptyToNil(s.Host),
		"format":            emptyToNil(s.Format),
		"revision":          s.Revision,
		"hold":              s.Locked && s.Hold,
	}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func emptyToNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
