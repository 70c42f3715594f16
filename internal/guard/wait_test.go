package guard

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/atomicfile"
)

// waitOpenedTwice returns once two descriptors of this process have path
// open: the test's, and the writer's that waits for the flock on it.
func waitOpenedTwice(t *testing.T, path string) {
	t.Helper()
	for {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
				n++
			}
		}
		if n >= 2 {
			return
		}
		runtime.Gosched()
	}
}

// A writer that waits for PATH.lock (another writer, stuck or hostile,
// holds it; lock_timeout allows up to an hour) decides on the time after
// the wait. Before the fix it took the time before waiting: a 1-minute
// lock taken after a 10-minute wait was written already expired, and the
// result still said locked for 1 minute.
func TestLockAfterWaitingForTheWritersLockCountsFromTheEnd(t *testing.T) {
	g, fc := newGuard(t)
	g.LockTimeout = time.Hour
	release, err := atomicfile.Lock(context.Background(), g.Path+".lock", atomicfile.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Change, 1)
	errs := make(chan error, 1)
	go func() {
		ch, err := g.Lock(LockOptions{Duration: time.Minute, Reason: "rollback", Owner: "ci"})
		errs <- err
		done <- ch
	}()
	waitOpenedTwice(t, g.Path+".lock") // the writer waits for PATH.lock
	fc.Advance(10 * time.Minute)
	release()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	ch := <-done
	want := t0.Add(11 * time.Minute)
	if !ch.After.ExpiresAt.Equal(want) || !ch.After.Locked {
		t.Fatalf("lock after a 10-minute wait: After = %+v, want locked until %s", ch.After, want)
	}
	if st := status(t, g); !st.Locked || !st.ExpiresAt.Equal(want) {
		t.Fatalf("status after the lock = %+v, want locked until %s", st, want)
	}
}

// A directory in /tmp that another local user made (say /tmp/guards, before
// the deployers did), or their symlink to a safe one, holds no lock: its owner
// could move the lock file away, and the guard read unlocked (reproduced
// with the CLI: lock as root in an attacker's /tmp/rtg, mv by the attacker,
// status unlocked).
func TestLockDirectoryOfAnotherUserIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give directories to another uid")
	}
	const other = 23456
	base := t.TempDir()
	os.Chmod(base, 0o1777) // like /tmp
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o755)
	os.Chown(theirs, other, other)
	ours := filepath.Join(base, "ours")
	os.Mkdir(ours, 0o755)
	link := filepath.Join(base, "link")
	os.Symlink(ours, link)
	os.Lchown(link, other, other)
	for _, dir := range []string{theirs, link} {
		g := &Guard{Path: filepath.Join(dir, "guard"), Host: "h"}
		if _, err := g.Status(); err == nil || !strings.Contains(err.Error(), "belongs to uid 23456: anyone could have made it") {
			t.Errorf("Status in %s: %v, want a refusal naming uid %d", dir, err, other)
		}
		if _, err := g.Lock(LockOptions{Duration: time.Minute}); err == nil || !strings.Contains(err.Error(), "uid 23456") {
			t.Errorf("Lock in %s: %v, want a refusal naming uid %d", dir, err, other)
		}
	}
	if entries, _ := os.ReadDir(theirs); len(entries) != 0 {
		t.Errorf("wrote %v in another user's directory", entries)
	}
	g := &Guard{Path: filepath.Join(ours, "guard"), Host: "h"}
	if _, err := g.Lock(LockOptions{Duration: time.Minute}); err != nil {
		t.Errorf("Lock in root's own directory: %v", err)
	}
	// Outside a directory every user may write (a deploy account's home),
	// another user's directory is trusted: they chose to share it.
	os.Chmod(base, 0o755)
	g = &Guard{Path: filepath.Join(theirs, "guard"), Host: "h"}
	if _, err := g.Lock(LockOptions{Duration: time.Minute}); err != nil {
		t.Errorf("Lock in another user's directory under a private one: %v", err)
	}
}
