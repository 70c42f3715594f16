package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newGuard(t *testing.T) (*Guard, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(t0)
	return &Guard{Path: filepath.Join(t.TempDir(), "threader.qos.guard"), Clock: fc, Host: "h1"}, fc
}

func lock(t *testing.T, g *Guard, minutes int, opts ...func(*LockOptions)) Change {
	t.Helper()
	o := LockOptions{Duration: time.Duration(minutes) * time.Minute, Reason: "rollback of build 1234", Owner: "ci"}
	for _, f := range opts {
		f(&o)
	}
	ch, err := g.Lock(o)
	if err != nil {
		t.Fatalf("Lock(%d): %v", minutes, err)
	}
	return ch
}

func status(t *testing.T, g *Guard) Status {
	t.Helper()
	st, err := g.Status()
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

func TestUnlockedWhenNoFile(t *testing.T) {
	g, _ := newGuard(t)
	st := status(t, g)
	if st.Locked || st.Exists || !st.ExpiresAt.IsZero() || st.Remaining != 0 {
		t.Fatalf("status without file = %+v, want unlocked and empty", st)
	}
}

func TestLockThenRelockIsIdempotent(t *testing.T) {
	g, fc := newGuard(t)
	ch := lock(t, g, 15)
	if !ch.Changed || !ch.After.Locked || ch.Before.Locked {
		t.Fatalf("first lock = %+v, want changed from unlocked to locked", ch)
	}
	if want := t0.Add(15 * time.Minute); !ch.After.ExpiresAt.Equal(want) {
		t.Fatalf("expiry %v, want %v", ch.After.ExpiresAt, want)
	}
	fc.Advance(30 * time.Second)
	if ch := lock(t, g, 15); ch.Changed {
		t.Fatalf("re-lock 30s later changed the lock: %+v", ch)
	}
	st := status(t, g)
	if st.Remaining != 14*time.Minute+30*time.Second || st.Reason != "rollback of build 1234" || st.Owner != "ci" || st.Host != "h1" {
		t.Fatalf("status after re-lock = %+v", st)
	}
}

func TestLockExtendsButNeverShortens(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 15)
	fc.Advance(5 * time.Minute)
	ch := lock(t, g, 15)
	if !ch.Changed || !ch.After.ExpiresAt.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("extension = %+v, want expiry at +20m", ch)
	}
	if !ch.After.LockedAt.Equal(t0) {
		t.Fatalf("extension moved locked_at to %v; the window started at %v", ch.After.LockedAt, t0)
	}
	if ch := lock(t, g, 1); ch.Changed || !status(t, g).ExpiresAt.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("a shorter lock shortened the guard: %+v", ch)
	}
}

func TestForceSetsExactExpiry(t *testing.T) {
	g, _ := newGuard(t)
	lock(t, g, 60)
	force := func(o *LockOptions) { o.Force = true }
	ch := lock(t, g, 5, force)
	if !ch.Changed || !status(t, g).ExpiresAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("force lock 5m after 60m = %+v, want expiry +5m", ch)
	}
	if ch := lock(t, g, 5, force); ch.Changed {
		t.Fatalf("repeated force lock changed: %+v", ch)
	}
}

func TestExpiredLockCountsAsUnlockedAndUnlockReleasesIt(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 1)
	fc.Advance(61 * time.Second)
	st := status(t, g)
	if st.Locked || !st.Exists || st.Remaining != 0 {
		t.Fatalf("expired status = %+v, want unlocked but present", st)
	}
	ch, err := g.Unlock(UnlockOptions{})
	if err != nil || !ch.Changed {
		t.Fatalf("unlock of an expired file = %+v, %v; want changed", ch, err)
	}
	// Unlock keeps the file as a released record (a tombstone), so the
	// revision goes on counting; it reads as unlocked, with nothing recorded.
	st = status(t, g)
	if st.Locked || st.Exists || !st.Released() || !st.ExpiresAt.IsZero() || st.Revision != 2 || st.Format != FormatJSON {
		t.Fatalf("status after unlock = %+v, want released at revision 2", st)
	}
	if ch, _ := g.Unlock(UnlockOptions{}); ch.Changed {
		t.Fatal("second unlock reported a change")
	}
}

func TestLockAfterExpiryStartsNewWindow(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 1)
	fc.Advance(2 * time.Minute)
	if ch := lock(t, g, 10); !ch.Changed || !ch.After.LockedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("lock after expiry = %+v, want a new window from now", ch)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	g, _ := newGuard(t)
	ch, err := g.Lock(LockOptions{Duration: time.Minute, DryRun: true})
	if err != nil || !ch.Changed || !ch.After.Locked {
		t.Fatalf("dry-run lock = %+v, %v; want a predicted change", ch, err)
	}
	if _, err := os.Stat(g.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dry-run lock wrote the file")
	}
	if _, err := os.Stat(g.Path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dry-run lock created the writers' lock")
	}
	lock(t, g, 10)
	ch, err = g.Unlock(UnlockOptions{DryRun: true})
	if err != nil || !ch.Changed || !status(t, g).Locked {
		t.Fatalf("dry-run unlock = %+v, %v; want predicted change and the file kept", ch, err)
	}
}

func TestLegacyEpochFileIsHonoured(t *testing.T) {
	g, _ := newGuard(t)
	expiry := t0.Add(7 * time.Minute)
	os.WriteFile(g.Path, []byte(fmt.Sprintf("%d\n", expiry.Unix())), 0o644)
	st := status(t, g)
	if !st.Locked || st.Format != FormatLegacy || !st.ExpiresAt.Equal(expiry) || !st.LockedAt.IsZero() {
		t.Fatalf("legacy status = %+v", st)
	}
	// Locking for less keeps the later legacy expiry but rewrites the file as JSON.
	ch := lock(t, g, 2)
	if !ch.Changed || !status(t, g).ExpiresAt.Equal(expiry) || status(t, g).Format != FormatJSON {
		t.Fatalf("lock over legacy = %+v, status %+v", ch, status(t, g))
	}
}

func TestCorruptFileFailsClosedForFifteenMinutes(t *testing.T) {
	g, fc := newGuard(t)
	os.WriteFile(g.Path, []byte("{not json"), 0o644)
	mtime := t0.Add(-5 * time.Minute)
	os.Chtimes(g.Path, mtime, mtime)
	st := status(t, g)
	if !st.Locked || st.Format != FormatCorrupt || !st.ExpiresAt.Equal(mtime.Add(CorruptLockGrace)) {
		t.Fatalf("corrupt status = %+v, want locked until mtime+15m", st)
	}
	for _, want := range []string{g.Path, "state=unlocked", "qos_guard unlock"} {
		if !strings.Contains(st.Warning, want) {
			t.Errorf("warning %q does not mention %q", st.Warning, want)
		}
	}
	fc.Advance(10*time.Minute + time.Second)
	if status(t, g).Locked {
		t.Fatal("corrupt file still locks after mtime+15m")
	}
}

func TestJSONWithoutExpiryIsCorrupt(t *testing.T) {
	g, _ := newGuard(t)
	os.WriteFile(g.Path, []byte(`{"version":1}`), 0o644)
	os.Chtimes(g.Path, t0, t0)
	if st := status(t, g); !st.Locked || st.Format != FormatCorrupt {
		t.Fatalf("status = %+v, want fail-closed corrupt", st)
	}
}

func TestGarbageFileFailsClosed(t *testing.T) {
	g, _ := newGuard(t)
	for _, content := range []string{"", "x", "12abc", "[]"} {
		os.WriteFile(g.Path, []byte(content), 0o600)
		os.Chtimes(g.Path, t0, t0)
		if st := status(t, g); !st.Locked || st.Format != FormatCorrupt {
			t.Errorf("content %q: status %+v, want fail-closed", content, st)
		}
	}
}

func TestSymlinkIsRefused(t *testing.T) {
	g, _ := newGuard(t)
	target := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(target, []byte("precious"), 0o644)
	os.Symlink(target, g.Path)
	if _, err := g.Status(); !errors.Is(err, ErrSymlink) {
		t.Fatalf("Status on a symlink: %v, want ErrSymlink", err)
	}
	if _, err := g.Lock(LockOptions{Duration: time.Minute}); !errors.Is(err, ErrSymlink) {
		t.Fatalf("Lock on a symlink: %v, want ErrSymlink", err)
	}
	if _, err := g.Unlock(UnlockOptions{}); !errors.Is(err, ErrSymlink) {
		t.Fatalf("Unlock on a symlink: %v, want ErrSymlink", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "precious" {
		t.Fatalf("symlink target was modified: %q", data)
	}
	if fi, _ := os.Lstat(g.Path); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink was replaced")
	}
}

func TestRelativePathAndMissingDirectory(t *testing.T) {
	if _, err := (&Guard{Path: "rel/guard"}).Status(); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("relative path: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope", "guard")
	if _, err := (&Guard{Path: missing}).Lock(LockOptions{Duration: time.Minute}); err == nil || !strings.Contains(err.Error(), filepath.Dir(missing)) {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestPermissionErrorNamesPathAndAccess(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses directory permissions; covered by the integration test run as an unprivileged user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	_, err := (&Guard{Path: filepath.Join(dir, "g")}).Lock(LockOptions{Duration: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v", err)
	}
}

func TestFileFormat(t *testing.T) {
	g, _ := newGuard(t)
	lock(t, g, 15)
	data, _ := os.ReadFile(g.Path)
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("lock file is not JSON: %v\n%s", err, data)
	}
	want := map[string]any{"version": 1.0, "locked_at": "2026-11-28T12:00:00Z", "expires_at": "2026-11-28T12:15:00Z",
		"reason": "rollback of build 1234", "owner": "ci", "host": "h1"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("file[%s] = %v, want %v", k, rec[k], v)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(g.Path))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// Fifty lockers race on one file with different durations; whatever the
// interleaving, one valid file must remain with the latest expiry.
func TestConcurrentLockersKeepLatestExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threader.qos.guard")
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func(minutes int) {
			defer wg.Done()
			g := &Guard{Path: path, Clock: clock.NewFake(t0), Host: "h"}
			_, err := g.Lock(LockOptions{Duration: time.Duration(minutes) * time.Minute, Reason: fmt.Sprint(minutes)})
			errs <- err
		}(i * 2)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g := &Guard{Path: path, Clock: clock.NewFake(t0)}
	st := status(t, g)
	// Every locker asked for another reason, so every one wrote (50
	// revisions), and none shortened the 100-minute lock.
	if st.Format != FormatJSON || !st.ExpiresAt.Equal(t0.Add(100*time.Minute)) || st.Revision != 50 {
		t.Fatalf("after the race: %+v, want valid JSON at revision 50 expiring at +100m, the longest lock", st)
	}
}

func TestWaitUnlockedReturnsAtExpiry(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 3)
	st, err := g.WaitUnlocked(context.Background(), 10*time.Minute, 40*time.Second)
	if err != nil || st.Locked {
		t.Fatalf("wait = %+v, %v; want unlocked", st, err)
	}
	if waited := fc.Now().Sub(t0); waited != 3*time.Minute {
		t.Fatalf("waited %v, want exactly until the 3m expiry", waited)
	}
}

func TestWaitUnlockedReturnsWhenReleasedEarly(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 30)
	polls := 0
	fc.OnSleep = func(time.Duration) {
		polls++
		if polls == 2 {
			g.Unlock(UnlockOptions{})
		}
	}
	st, err := g.WaitUnlocked(context.Background(), 10*time.Minute, time.Second)
	if err != nil || st.Locked || fc.Now().Sub(t0) != 2*time.Second {
		t.Fatalf("wait = %+v, %v after %v; want unlocked after 2 polls of 1s", st, err, fc.Now().Sub(t0))
	}
}

func TestWaitUnlockedGivesUp(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 30)
	st, err := g.WaitUnlocked(context.Background(), 5*time.Second, 2*time.Second)
	if err != nil || !st.Locked || fc.Now().Sub(t0) != 5*time.Second {
		t.Fatalf("wait = %+v, %v after %v; want still locked after 5s", st, err, fc.Now().Sub(t0))
	}
}

func TestMessage(t *testing.T) {
	st := Status{Locked: true, ExpiresAt: time.Date(2026, 11, 28, 12, 40, 0, 0, time.UTC), Remaining: 14 * time.Minute, Reason: "rollback of build 1234"}
	if got, want := st.Message(), "QoS guard-window is locked until 2026-11-28T12:40:00Z (14m left): rollback of build 1234"; got != want {
		t.Fatalf("Message() = %q, want %q", got, want)
	}
	for d, want := range map[time.Duration]string{40 * time.Second: "40s", 90 * time.Minute: "1h30m", 2 * time.Hour: "2h", 13*time.Minute + 40*time.Second: "14m"} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
