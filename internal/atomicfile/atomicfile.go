// Package atomicfile is the one place that replaces small state files
// atomically and serialises their writers (the guard's lock file and the
// metrics textfile both use it), and that appends to a log file atomically
// (the guard's audit log: Appender, in append.go).
//
// Rules it keeps:
//   - WriteFile replaces a file so that a reader sees the old content or the
//     new, never a part: a temporary file created O_EXCL with a random name
//     in the same directory (rename is atomic only within one file system;
//     a predictable name in a shared directory invites a symlink attack),
//     written, chmod-ed, fsync-ed, renamed over the target, and then the
//     directory is fsync-ed so the rename survives a power loss. The
//     temporary file is removed on error, never after the rename.
//   - Temporary files are named "." + base + "." + digits + ".tmp", a name
//     that is hidden and does not keep the target's extension (node_exporter
//     reads only *.prom). Writers killed between create and rename leave one
//     behind; the next WriteFile of the same path removes those it can prove
//     are its own kind: same directory, exactly that name pattern, a regular
//     file owned by the same user, older than StaleAfter.
//   - Lock takes an exclusive flock(2) on a sidecar file (conventionally
//     PATH.lock) that is never removed: removing a lock file races with its
//     next holder. It is opened O_NOFOLLOW, so a planted symlink is refused.
//     Waiting for another holder is bounded by a timeout and a context.
//
// google/renameio was considered: it does not fsync the directory, and its
// temporary names carry no suffix that would let a later writer tell a stale
// temp file of its own from anything else, so this package keeps the few
// lines it needs.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// StaleAfter is how old a temporary file of a path must be before the next
// writer of that path may remove it. A write takes milliseconds; a minute
// leaves no doubt its writer is gone.
const StaleAfter = time.Minute

// Error is a failed step of a write, with the path it concerned. Err is the
// underlying error (errors.Is works through it: fs.ErrPermission,
// syscall.ENOSPC, syscall.EROFS, syscall.ELOOP).
type Error struct {
	Op   string // what was being done, e.g. "create a temporary file"
	Path string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("cannot %s %s: %v", e.Op, e.Path, plain(e.Err)) }
func (e *Error) Unwrap() error { return e.Err }

// WriteFile replaces path with data and mode. The caller should hold the
// path's writers' lock (Lock), which is what makes a leftover temporary file
// provably stale.
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	RemoveStaleTemps(path, time.Now())
	tmp, err := os.CreateTemp(dir, tempPrefix(base)+"*"+tempSuffix)
	if err != nil {
		return &Error{Op: "create a temporary file in", Path: dir, Err: err}
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return &Error{Op: "write", Path: tmp.Name(), Err: err}
	}
	if err := tmp.Chmod(mode); err != nil {
		return &Error{Op: "chmod", Path: tmp.Name(), Err: err}
	}
	if err := tmp.Sync(); err != nil {
		return &Error{Op: "fsync", Path: tmp.Name(), Err: err}
	}
	if err := tmp.Close(); err != nil {
		return &Error{Op: "close", Path: tmp.Name(), Err: err}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &Error{Op: "replace", Path: path, Err: err}
	}
	renamed = true
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and removals in it are durable.
// File systems that cannot fsync a directory (EINVAL) are accepted.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return &Error{Op: "open (to fsync) the directory", Path: dir, Err: err}
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return &Error{Op: "fsync the directory", Path: dir, Err: err}
	}
	return nil
}

const tempSuffix = ".tmp"

func tempPrefix(base string) string { return "." + base + "." }

// tempPattern matches exactly the names os.CreateTemp gives for base: the
// random part is decimal digits.
func tempPattern(base string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(tempPrefix(base)) + "[0-9]+" + regexp.QuoteMeta(tempSuffix) + "$")
}

// RemoveStaleTemps removes the temporary files WriteFile(path) left behind
// when its writer was killed: only names of exactly WriteFile's pattern for
// this path, regular files (never a symlink), owned by this user, modified
// more than StaleAfter before now. Failures are ignored: a stale temp file
// is clutter, not a danger, and the write that follows reports real
// problems with the directory.
func RemoveStaleTemps(path string, now time.Time) (removed []string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	pattern := tempPattern(base)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix(base)) || !pattern.MatchString(e.Name()) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if isStaleOwnTemp(name, now) && os.Remove(name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

func isStaleOwnTemp(name string, now time.Time) bool {
	info, err := os.Lstat(name)
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Geteuid() {
		return false
	}
	return now.Sub(info.ModTime()) > StaleAfter
}

// plain drops the "op PATH:" prefix of a PathError when the message already
// names the path.
func plain(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
