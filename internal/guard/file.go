package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkPath rejects relative paths: a lock that depends on the working
// directory is not one lock.
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
	return nil
}

// serialise takes an exclusive flock on PATH.lock so that read-modify-write
// cycles of concurrent writers on this host do not interleave. The sidecar
// is never removed: removing a lock file races with its next holder.
func (g *Guard) serialise(dryRun bool) (release func(), err error) {
	if dryRun {
		return func() {}, nil
	}
	sidecar := g.Path + ".lock"
	f, err := os.OpenFile(sidecar, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, accessError("create or open the writers' lock", sidecar, filepath.Dir(sidecar), err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot lock %s: %v", sidecar, err)
	}
	return func() { f.Close() }, nil
}

// writeAtomic replaces the lock file with rec so that readers see either the
// old file or the new one, and the new one survives a crash.
func writeAtomic(path string, rec Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return accessError("create a temporary file in the lock's directory", dir, dir, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write %s: %v", tmp.Name(), plainErr(err))
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot chmod %s: %v", tmp.Name(), plainErr(err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot fsync %s: %v", tmp.Name(), plainErr(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot close %s: %v", tmp.Name(), plainErr(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return accessError("replace the lock file", path, dir, err)
	}
	renamed = true
	return syncDir(dir)
}

func removeDurably(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return accessError("remove the lock file", path, filepath.Dir(path), err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open directory %s to fsync it: %v", dir, plainErr(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("cannot fsync directory %s: %v", dir, plainErr(err))
	}
	return nil
}

// accessError says which path and what access was missing.
func accessError(what, path, dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("permission denied: cannot %s at %s (write access to %s is needed; run as its owner or with become)",
			what, path, dir)
	}
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("cannot %s at %s: it is a symlink; refusing to follow it", what, path)
	}
	if errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("cannot %s at %s: read-only file system", what, path)
	}
	return fmt.Errorf("cannot %s at %s: %v", what, path, plainErr(err))
}
