// Package auditlog records who changed or overrode a guard, when and why:
// one JSON line per lock, unlock and break-glass, appended to a log file
// that is only ever appended to (atomicfile.Appender: one write(2) on an
// O_APPEND descriptor, then fsync; never through a symlink; the file
// created 0640 in a directory created 0750).
//
// The package knows nothing of Ansible or of the command line. Its policy,
// which the callers apply:
//   - An override (break-glass) or an unlock that cannot be recorded does
//     not happen: the caller opens the log (Open) before acting, and fails
//     when it cannot.
//   - A lock that cannot be recorded still locks, with a warning: failing
//     it would let deployments through.
//
// Values the caller must not reveal (Ansible's no_log values) are masked
// field by field (Log.Mask) before the line is encoded, so a secret that
// needs JSON escaping is masked too.
package auditlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/threader/guard/internal/atomicfile"
)

// DefaultPath is where the audit log lives unless told otherwise.
const DefaultPath = "/var/log/threader-guard/audit.jsonl"

// Modes of a log file and directory the log creates.
var Modes = atomicfile.AppendModes{File: 0o640, Dir: 0o750}

// Actions recorded.
const (
	ActionBreakGlass = "break_glass"
	// Lock and unlock actions are the guard's change actions: lock,
	// extend, shorten, rewrite, unlock, remove_expired.
)

// State is a guard as an entry records it, before or after the action.
type State struct {
	Locked    bool       `json:"locked"`
	ExpiresAt *time.Time `json:"expires_at"`
	Revision  int64      `json:"revision"`
	Reason    string     `json:"reason,omitempty"` // the lock's reason
	Frozen    bool       `json:"frozen"`
	FrozenBy  []string   `json:"frozen_by,omitempty"` // the active freeze windows
}

// Overridden is what a break-glass let a deployment past.
type Overridden struct {
	// Lock is the reason of the lock overridden ("" when the guard was
	// not locked, or the lock gave no reason: then LockHeld says so).
	Lock     string `json:"lock,omitempty"`
	LockHeld bool   `json:"lock_held"`
	// Windows are the freeze windows overridden.
	Windows []string `json:"windows,omitempty"`
}

// Entry is one line of the log.
type Entry struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	// Guard is the lock file's path, or the etcd key (prefix + scope).
	Guard      string      `json:"guard"`
	Owner      string      `json:"owner"`
	Reason     string      `json:"reason"`
	Host       string      `json:"host"`
	Before     State       `json:"before"`
	After      State       `json:"after"`
	Overridden *Overridden `json:"overridden,omitempty"`
}

// Log is an audit log file.
type Log struct {
	Path string
	// Mask, when set, replaces secrets in every string an entry holds.
	Mask func(string) string
}

// Writer is an open log.
type Writer struct {
	app  *atomicfile.Appender
	mask func(string) string
}

// Open opens the log for appending, creating it as needed. Callers open
// it before acting, so that an action they must not take unrecorded is
// refused before it happens. The error is an *atomicfile.Error naming
// the path and what failed.
func (l Log) Open() (*Writer, error) {
	app, err := atomicfile.OpenAppend(l.Path, Modes)
	if err != nil {
		return nil, err
	}
	mask := l.Mask
	if mask == nil {
		mask = func(s string) string { return s }
	}
	return &Writer{app: app, mask: mask}, nil
}

// Append writes one entry as one line, masked, and fsyncs it.
func (w *Writer) Append(e Entry) error {
	line, err := json.Marshal(w.masked(e))
	if err != nil {
		return err
	}
	return w.app.WriteLine(append(line, '\n'))
}

// CountBreakGlass counts the break-glass lines of guard in the log at
// path: the value of threader_guard_break_glass_total. A missing log
// holds none; lines that do not parse are skipped (the log is append-only
// but not ours alone to write). The file is read without following a
// symlink.
func CountBreakGlass(path, guard string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", path)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), atomicfile.MaxLine)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"action":"break_glass"`)) {
			continue
		}
		var e struct {
			Action string `json:"action"`
			Guard  string `json:"guard"`
		}
		if json.Unmarshal(line, &e) == nil && e.Action == ActionBreakGlass && e.Guard == guard {
			n++
		}
	}
	return n, sc.Err()
}

// Close closes the log.
func (w *Writer) Close() error { return w.app.Close() }

// Record opens the log, appends one entry and closes it.
func (l Log) Record(e Entry) error {
	w, err := l.Open()
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Append(e)
}

func (w *Writer) masked(e Entry) Entry {
	m := w.mask
	e.Guard, e.Owner, e.Reason, e.Host = m(e.Guard), m(e.Owner), m(e.Reason), m(e.Host)
	e.Before, e.After = maskState(e.Before, m), maskState(e.After, m)
	if e.Overridden != nil {
		o := *e.Overridden
		o.Lock, o.Windows = m(o.Lock), maskAll(o.Windows, m)
		e.Overridden = &o
	}
	return e
}

func maskState(s State, m func(string) string) State {
	s.Reason, s.FrozenBy = m(s.Reason), maskAll(s.FrozenBy, m)
	return s
}

func maskAll(xs []string, m func(string) string) []string {
	if xs == nil {
		return nil
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = m(x)
	}
	return out
}
