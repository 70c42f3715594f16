package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/threader/guard/internal/atomicfile"
)

// checkPath rejects relative paths (a lock that depends on the working
// directory is not one lock); a directory every user may write without the
// sticky bit (anyone could replace a lock there by a released record); and
// a directory, or a symlink to one, in a directory every user may write
// (like /tmp) that belongs to a user other than the caller or root: anyone
// could have made it before the deployers did, and its owner can move the
// lock away. (In a sticky directory such as /tmp others cannot replace or
// remove the guard's files; what they can plant there only locks or fails.)
// A directory of another user elsewhere (a deploy account's home) is that
// user's choice to share, and is trusted.
func (g *Guard) checkPath() error {
	if !filepath.IsAbs(g.Path) {
		return fmt.Errorf("lock path must be absolute, got %q", g.Path)
	}
	dir := filepath.Dir(g.Path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s of the lock path %s: %v", dir, g.Path, plainErr(err))
	}
	if !info.IsDir() {
		return fmt.Errorf("%s, the directory of the lock path %s, is not a directory", dir, g.Path)
	}
	if perm := info.Mode(); perm&0o002 != 0 && perm&fs.ModeSticky == 0 {
		return fmt.Errorf("%s, the directory of the lock path %s, is writable by every user and not sticky: anyone could replace the lock; use a directory only the deployers can write, such as /run", dir, g.Path)
	}
	return checkSquatted(dir, g.Path)
}

// checkSquatted refuses dir when it sits in a directory every user may
// write and it, or the symlink at its path, belongs to another user than
// the caller or root.
func checkSquatted(dir, path string) error {
	parent, err := os.Stat(filepath.Dir(dir))
	if err != nil || parent.Mode()&0o002 == 0 || dir == filepath.Dir(dir) {
		return nil // the caller reads or writes the lock and reports what fails
	}
	for _, stat := range []func(string) (fs.FileInfo, error){os.Lstat, os.Stat} {
		info, err := stat(dir)
		if err != nil {
			return fmt.Errorf("directory %s of the lock path %s: %v", dir, path, plainErr(err))
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
			return fmt.Errorf("%s, the directory of the lock path %s, is in %s, which every user may write, and belongs to uid %d: anyone could have made it, and its owner could move the lock away; use a directory of root or of the user the guard runs as (uid %d), such as /run",
				dir, path, filepath.Dir(dir), uid, os.Geteuid())
		}
	}
	return nil
}

// serialise takes an exclusive flock on PATH.lock so that read-modify-write
// cycles of concurrent writers on this host do not interleave, waiting at
// most the lock timeout. The sidecar is never removed: removing a lock file
// races with its next holder.
func (g *Guard) serialise(dryRun bool) (release func(), err error) {
	if dryRun {
		return func() {}, nil
	}
	sidecar := g.Path + ".lock"
	release, err = atomicfile.Lock(context.Background(), sidecar, atomicfile.LockOptions{Timeout: g.lockTimeout()})
	if err != nil {
		return nil, writeError("take the writers' lock", sidecar, err)
	}
	return release, nil
}

// write replaces the lock file with rec (atomically, see atomicfile).
func (g *Guard) write(rec Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(g.Path, append(data, '\n'), 0o644); err != nil {
		return writeError("write the lock file", g.Path, err)
	}
	return nil
}

// writeError says which path and what access was missing.
func writeError(what, path string, err error) error {
	dir := filepath.Dir(path)
	var timeout *atomicfile.LockTimeoutError
	switch {
	case errors.As(err, &timeout):
		return err
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied: cannot %s %s (write access to %s is needed; run as its owner or with become)",
			what, path, dir)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("cannot %s %s: it is a symlink; refusing to follow it", what, path)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("cannot %s %s: %s is on a read-only file system; the previous lock file is unchanged", what, path, dir)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("cannot %s %s: no space left in %s; the previous lock file is unchanged", what, path, dir)
	}
	return fmt.Errorf("cannot %s %s: %v", what, path, err)
}
