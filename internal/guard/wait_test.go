package guard

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
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
