package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
)

func TestWriteFileReplacesAtomicallyAndLeavesNoTemp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.prom")
	for _, content := range []string{"one\n", "two\n"} {
		if err := WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(path); string(data) != content {
			t.Fatalf("content %q, want %q", data, content)
		}
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	if names := dirNames(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("files left: %v", names)
	}
}

func TestWriteFileErrorsNameThePathAndKeepTheOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing-dir", "f")
	err := WriteFile(path, []byte("x"), 0o644)
	var ae *Error
	if !errors.As(err, &ae) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(dir, "missing-dir")) {
		t.Fatalf("err = %v", err)
	}
	// A directory in the way of the rename: the write fails, nothing is left.
	target := filepath.Join(dir, "taken")
	os.Mkdir(target, 0o755)
	os.WriteFile(filepath.Join(target, "keep"), nil, 0o644)
	if err := WriteFile(target, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "cannot replace "+target) {
		t.Fatalf("rename over a directory: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "taken" {
		t.Errorf("files left: %v", names)
	}
}

func TestRemoveStaleTempsRemovesOnlyItsOwnOldTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.prom")
	now := time.Now()
	old := now.Add(-2 * StaleAfter)
	mk := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chtimes(p, mtime, mtime)
	}
	mk(".g.prom.123.tmp", old)                                      // a killed writer's: removed
	mk(".g.prom.456.tmp", now)                                      // a writer still at work: kept
	mk(".g.prom.abc.tmp", old)                                      // not the random part CreateTemp makes: kept
	mk(".g.prom.12.tmp.bak", old)                                   // other suffix: kept
	mk(".other.prom.1.tmp", old)                                    // another path's: kept
	mk("g.prom.9.tmp", old)                                         // not hidden: kept
	os.Symlink("/etc/passwd", filepath.Join(dir, ".g.prom.77.tmp")) // a symlink: kept
	sub := filepath.Join(dir, ".g.prom.88.tmp")
	os.Mkdir(sub, 0o700)
	os.Chtimes(sub, old, old) // a directory: kept
	removed := RemoveStaleTemps(path, now)
	if len(removed) != 1 || filepath.Base(removed[0]) != ".g.prom.123.tmp" {
		t.Fatalf("removed %v, want only .g.prom.123.tmp", removed)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".g.prom.77.tmp")); err != nil {
		t.Error("the symlink was removed")
	}
}

func TestRemoveStaleTempsKeepsOtherUsersFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a file owned by another user")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, ".g.1.tmp")
	os.WriteFile(p, nil, 0o600)
	os.Chown(p, 65534, 65534)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	if removed := RemoveStaleTemps(filepath.Join(dir, "g"), time.Now()); len(removed) != 0 {
		t.Fatalf("removed another user's file: %v", removed)
	}
}

func TestLockTimesOutOnAFakeClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.lock")
	release, err := Lock(context.Background(), path, LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err = Lock(context.Background(), path, LockOptions{Timeout: 30 * time.Second, Clock: fc})
	var te *LockTimeoutError
	if !errors.As(err, &te) || te.Path != path || !strings.Contains(err.Error(), "timed out after 30s waiting for "+path) {
		t.Fatalf("second Lock: %v, want a LockTimeoutError", err)
	}
	if waited := fc.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); waited != 30*time.Second {
		t.Fatalf("waited %v on the fake clock, want exactly the 30s timeout", waited)
	}
}

func TestLockWaitsForTheHolderAndHonoursTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.lock")
	release, _ := Lock(context.Background(), path, LockOptions{})
	fc := clock.NewFake(time.Now())
	polls := 0
	fc.OnSleep = func(time.Duration) {
		if polls++; polls == 3 {
			release()
		}
	}
	release2, err := Lock(context.Background(), path, LockOptions{Timeout: time.Minute, Clock: fc})
	if err != nil || polls != 3 {
		t.Fatalf("Lock after the holder released: %v after %d polls", err, polls)
	}
	defer release2()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupted"))
	if _, err := Lock(ctx, path, LockOptions{}); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Lock with a cancelled context: %v", err)
	}
}

func TestLockRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Symlink(target, filepath.Join(dir, "g.lock"))
	if _, err := Lock(context.Background(), filepath.Join(dir, "g.lock"), LockOptions{}); !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("Lock through a symlink: %v, want ELOOP", err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
