package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FormatVersion is the version of the JSON lock file format.
const FormatVersion = 1

// Lock file formats, as reported in Status.Format.
const (
	FormatNone       = ""           // no file
	FormatJSON       = "json"       // this package's format
	FormatLegacy     = "epoch"      // an integer: Unix seconds of expiry, as qos_guard.sh wrote
	FormatCorrupt    = "corrupt"    // present but not parseable
	FormatUnreadable = "unreadable" // present but cannot be read
)

// Record is the JSON content of a lock file.
type Record struct {
	Version   int       `json:"version"`
	LockedAt  time.Time `json:"locked_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Reason    string    `json:"reason"`
	Owner     string    `json:"owner"`
	Host      string    `json:"host"`
}

// Status is the guard as read from its file at one moment.
type Status struct {
	Path      string
	Exists    bool // a lock file is present, expired or not
	Locked    bool
	Format    string
	LockedAt  time.Time // zero when unknown
	ExpiresAt time.Time // zero when there is no lock file
	Remaining time.Duration
	Reason    string
	Owner     string
	Host      string
	// Warning explains a fail-closed reading (corrupt or unreadable file).
	Warning string
}

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
		Path: path, Exists: true, Format: FormatJSON,
		LockedAt: rec.LockedAt.UTC(), ExpiresAt: rec.ExpiresAt.UTC(),
		Reason: rec.Reason, Owner: rec.Owner, Host: rec.Host,
	}
	st.setExpiry(now)
	return st
}

func (s *Status) setExpiry(now time.Time) {
	s.Remaining = s.ExpiresAt.Sub(now).Truncate(time.Second)
	s.Locked = s.Remaining > 0
	if !s.Locked {
		s.Remaining = 0
	}
}

// read loads the lock file; errors are only those that leave the state
// unknown in a way no bound can be put on (the file vanished mid-read is
// fine: it reads as unlocked).
func (g *Guard) read() (Status, error) {
	now := g.now()
	info, err := os.Lstat(g.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Status{Path: g.Path}, nil
	}
	if err != nil {
		return g.failClosed(now, time.Time{}, fmt.Sprintf("cannot stat %s: %v", g.Path, plainErr(err))), nil
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
		return g.failClosed(now, info.ModTime(), fmt.Sprintf("cannot read %s: %v", g.Path, plainErr(err))), nil
	}
	return g.parse(data, info.ModTime(), now), nil
}

func (g *Guard) parse(data []byte, mtime, now time.Time) Status {
	text := strings.TrimSpace(string(data))
	if epoch, err := strconv.ParseInt(text, 10, 64); err == nil {
		st := Status{Path: g.Path, Exists: true, Format: FormatLegacy, ExpiresAt: time.Unix(epoch, 0).UTC()}
		st.setExpiry(now)
		return st
	}
	var rec Record
	err := json.Unmarshal(data, &rec)
	if err == nil && rec.ExpiresAt.IsZero() {
		err = errors.New("no expires_at")
	}
	if err != nil {
		return g.failClosed(now, mtime, fmt.Sprintf("lock file %s is not a valid guard lock (%v)", g.Path, err))
	}
	return statusOf(g.Path, rec, now)
}

// failClosed treats a lock file that cannot be understood as locked until
// mtime + CorruptLockGrace, and says how to clear it.
func (g *Guard) failClosed(now, mtime time.Time, why string) Status {
	if mtime.IsZero() {
		mtime = now
	}
	st := Status{Path: g.Path, Exists: true, Format: FormatCorrupt, ExpiresAt: mtime.Add(CorruptLockGrace).UTC().Truncate(time.Second)}
	if strings.HasPrefix(why, "cannot") {
		st.Format = FormatUnreadable
	}
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
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("lock path %s %w", path, ErrSymlink)
		}
		return nil, err
	}
	defer f.Close()
	const maxLockFile = 64 << 10 // a lock file is tiny; do not read a huge planted file
	return io.ReadAll(io.LimitReader(f, maxLockFile))
}

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
