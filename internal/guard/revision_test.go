package guard

import (
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

func rev(n int64) *int64 { return &n }

func unlock(t *testing.T, g *Guard, opts UnlockOptions) Change {
	t.Helper()
	ch, err := g.Unlock(opts)
	if err != nil {
		t.Fatalf("Unlock(%+v): %v", opts, err)
	}
	return ch
}

func TestRevisionCountsEveryWrite(t *testing.T) {
	g, fc := newGuard(t)
	if st := status(t, g); st.Revision != 0 {
		t.Fatalf("no file: revision %d, want 0", st.Revision)
	}
	steps := []struct {
		name string
		do   func() Change
		want int64
	}{
		{"lock", func() Change { return lock(t, g, 10) }, 1},
		{"relock within the slack (no write)", func() Change { return lock(t, g, 10) }, 1},
		{"extend", func() Change { fc.Advance(5 * time.Minute); return lock(t, g, 10) }, 2},
		{"unlock", func() Change { return unlock(t, g, UnlockOptions{Owner: "ops", Reason: "SLOs stable"}) }, 3},
		{"unlock again (no write)", func() Change { return unlock(t, g, UnlockOptions{}) }, 3},
		{"lock after release", func() Change { return lock(t, g, 5) }, 4},
	}
	for _, s := range steps {
		ch := s.do()
		if ch.After.Revision != s.want || status(t, g).Revision != s.want {
			t.Fatalf("%s: result revision %d, file revision %d; want %d", s.name, ch.After.Revision, status(t, g).Revision, s.want)
		}
	}
	if st := status(t, g); !st.Locked || !st.LockedAt.Equal(fc.Now()) {
		t.Fatalf("a lock after a release starts a new window: %+v", st)
	}
}

func TestReleasedGuardReadsUnlockedAndSaysWhoReleasedIt(t *testing.T) {
	g, fc := newGuard(t)
	lock(t, g, 30)
	fc.Advance(time.Minute)
	unlock(t, g, UnlockOptions{Owner: "ops", Reason: "SLOs stable"})
	st := status(t, g)
	if st.Locked || st.Exists || st.Owner != "ops" || st.Reason != "SLOs stable" || st.Host != "h1" || !st.UnlockedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("released status = %+v", st)
	}
	if f := st.Fields(); f["expires_at"] != nil || f["locked_at"] != nil || f["locked"] != false || f["revision"] != int64(2) {
		t.Fatalf("released fields = %v", f)
	}
	// A reader that predates tombstones sees an expired lock.
	var old struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	data, _ := os.ReadFile(g.Path)
	if err := json.Unmarshal(data, &old); err != nil || old.ExpiresAt.After(fc.Now()) {
		t.Fatalf("tombstone expires_at %v (%v), want at or before now for old readers", old.ExpiresAt, err)
	}
}

func TestLegacyAndCorruptFilesAreRevisionZero(t *testing.T) {
	for name, content := range map[string]string{"legacy": fmt.Sprint(t0.Add(time.Hour).Unix()), "corrupt": "{not json"} {
		g, _ := newGuard(t)
		os.WriteFile(g.Path, []byte(content), 0o644)
		os.Chtimes(g.Path, t0, t0)
		if st := status(t, g); st.Revision != 0 || !st.Locked {
			t.Errorf("%s: %+v, want locked at revision 0", name, st)
		}
		if ch := unlock(t, g, UnlockOptions{IfRevision: rev(0)}); !ch.Changed || ch.After.Revision != 1 {
			t.Errorf("%s: compare-and-release at 0 = %+v, want released at revision 1", name, ch)
		}
	}
}

func TestExclusiveLock(t *testing.T) {
	g, fc := newGuard(t)
	excl := func(owner string, minutes int) (Change, error) {
		return g.Lock(LockOptions{Duration: time.Duration(minutes) * time.Minute, Owner: owner, Reason: "promotion by " + owner, Exclusive: true})
	}
	if ch, err := excl("run-1", 30); err != nil || !ch.Changed || ch.After.Owner != "run-1" {
		t.Fatalf("exclusive lock of an unlocked guard = %+v, %v", ch, err)
	}
	fc.Advance(5 * time.Minute)
	_, err := excl("run-2", 30)
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrRefused) {
		t.Fatalf("second owner: %v, want a HeldError", err)
	}
	for _, want := range []string{`owner "run-1" on h1`, "reason: promotion by run-1", "locked until 2026-11-28T12:30:00Z (25m left)", `exclusive lock for owner "run-2" refused`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if st := status(t, g); st.Owner != "run-1" || st.Revision != 1 {
		t.Fatalf("a refused exclusive lock changed the guard: %+v", st)
	}
	// Check mode gives the same refusal.
	if _, err := g.Lock(LockOptions{Duration: time.Minute, Owner: "run-2", Exclusive: true, DryRun: true}); !errors.As(err, &held) {
		t.Fatalf("dry run: %v, want the same refusal", err)
	}
	// The holder extends; a shorter exclusive lock never shortens.
	if ch, err := excl("run-1", 60); err != nil || !ch.Changed || !ch.After.ExpiresAt.Equal(t0.Add(65*time.Minute)) {
		t.Fatalf("holder extends = %+v, %v", ch, err)
	}
	if ch, err := excl("run-1", 1); err != nil || ch.Changed {
		t.Fatalf("holder's shorter exclusive lock = %+v, %v; want no change", ch, err)
	}
	// Once expired, anyone acquires it, starting a new window.
	fc.Advance(66 * time.Minute)
	if ch, err := excl("run-2", 10); err != nil || ch.After.Owner != "run-2" || !ch.After.LockedAt.Equal(fc.Now()) {
		t.Fatalf("exclusive lock of an expired guard = %+v, %v", ch, err)
	}
}

func TestExclusiveLockRefusesLegacyAndCorruptLocks(t *testing.T) {
	for name, content := range map[string]string{"legacy": fmt.Sprint(t0.Add(time.Hour).Unix()), "corrupt": "garbage"} {
		g, _ := newGuard(t)
		os.WriteFile(g.Path, []byte(content), 0o644)
		os.Chtimes(g.Path, t0, t0)
		_, err := g.Lock(LockOptions{Duration: time.Minute, Owner: "", Exclusive: true})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "unknown holder") {
			t.Errorf("%s: %v, want a refusal naming an unknown holder", name, err)
		}
	}
}

func TestCompareAndRelease(t *testing.T) {
	g, fc := newGuard(t)
	r := lock(t, g, 30).After.Revision
	fc.Advance(time.Minute)
	// A new lock (a second rollback) overtakes the release that read r.
	lock(t, g, 60, func(o *LockOptions) { o.Owner, o.Reason = "rollback-2", "rollback of build 1235" })
	_, err := g.Unlock(UnlockOptions{IfRevision: rev(r)})
	var changed *RevisionError
	if !errors.As(err, &changed) || !errors.Is(err, ErrRefused) {
		t.Fatalf("stale release: %v, want a RevisionError", err)
	}
	for _, want := range []string{"changed since revision 1, it is now at revision 2", `locked by owner "rollback-2" on h1 at 2026-11-28T12:00:00Z until 2026-11-28T13:01:00Z`, "reason: rollback of build 1235", "not unlocking"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if st := status(t, g); !st.Locked || st.Reason != "rollback of build 1235" || st.Revision != 2 {
		t.Fatalf("the newer lock was lost: %+v", st)
	}
	if _, err := g.Unlock(UnlockOptions{IfRevision: rev(2), DryRun: true}); err != nil {
		t.Fatalf("dry-run release at the current revision: %v", err)
	}
	if _, err := g.Unlock(UnlockOptions{IfRevision: rev(1), DryRun: true}); !errors.As(err, &changed) {
		t.Fatalf("dry-run stale release: %v, want the same refusal", err)
	}
	if ch := unlock(t, g, UnlockOptions{IfRevision: rev(2)}); !ch.Changed || ch.After.Locked {
		t.Fatalf("release at the current revision = %+v", ch)
	}
}

// Unlock used to delete the file, resetting the revision: a caller holding
// revision 1 of an old lock could then release an unrelated newer lock
// that was again at revision 1 (ABA). The tombstone keeps counting.
func TestCompareAndReleaseIsNotFooledByARecreatedLock(t *testing.T) {
	g, _ := newGuard(t)
	old := lock(t, g, 30).After.Revision
	unlock(t, g, UnlockOptions{})
	lock(t, g, 30, func(o *LockOptions) { o.Reason = "new lock" })
	if _, err := g.Unlock(UnlockOptions{IfRevision: rev(old)}); !errors.Is(err, ErrRefused) {
		t.Fatalf("release with the old lock's revision: %v, want refused", err)
	}
	if st := status(t, g); !st.Locked || st.Reason != "new lock" {
		t.Fatalf("the new lock was released: %+v", st)
	}
}

func TestCompareAndReleaseOfAReleasedGuardSaysWhoReleasedIt(t *testing.T) {
	g, _ := newGuard(t)
	lock(t, g, 30)
	unlock(t, g, UnlockOptions{Owner: "ops", Reason: "manual release"})
	_, err := g.Unlock(UnlockOptions{IfRevision: rev(1)})
	if err == nil || !strings.Contains(err.Error(), `unlocked by owner "ops" on h1 at 2026-11-28T12:00:00Z, reason: manual release`) {
		t.Fatalf("err = %v", err)
	}
}

func TestDecideIsPure(t *testing.T) {
	cur := statusOf("/x", Record{Version: 1, Revision: 7, LockedAt: t0, ExpiresAt: t0.Add(time.Hour), Owner: "a"}, t0)
	cases := []struct {
		name    string
		req     request
		want    *Record
		wantErr error
	}{
		{"plain lock by the holder, already longer", request{LockOptions: LockOptions{Duration: time.Minute, Owner: "a"}}, nil, nil},
		{"plain lock by another, already longer", request{LockOptions: LockOptions{Duration: time.Minute, Owner: "b"}},
			&Record{Version: 1, Revision: 8, LockedAt: t0, ExpiresAt: t0.Add(time.Hour), Owner: "b"}, nil},
		{"exclusive by another", request{LockOptions: LockOptions{Duration: time.Minute, Owner: "b", Exclusive: true}}, nil, ErrRefused},
		{"exclusive by holder, longer", request{LockOptions: LockOptions{Duration: 2 * time.Hour, Owner: "a", Exclusive: true}},
			&Record{Version: 1, Revision: 8, LockedAt: t0, ExpiresAt: t0.Add(2 * time.Hour), Owner: "a"}, nil},
		{"release at 7", request{unlock: true, checkRevision: true, ifRevision: 7},
			&Record{Version: 1, Revision: 8, ExpiresAt: t0, UnlockedAt: t0}, nil},
		{"release at 6", request{unlock: true, checkRevision: true, ifRevision: 6}, nil, ErrRefused},
	}
	for _, c := range cases {
		got, err := decide(cur, c.req, t0)
		if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.wantErr)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: record %+v, want %+v", c.name, got, c.want)
		}
	}
}

// Fifty acquirers with distinct owners race for an unlocked guard: exactly
// one wins, every other is refused naming a holder, and the file names the
// winner.
func TestConcurrentExclusiveAcquirersOneWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threader.qos.guard")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 50 {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			g := &Guard{Path: path, Clock: clock.NewFake(t0), Host: "h"}
			_, err := g.Lock(LockOptions{Duration: 10 * time.Minute, Owner: owner, Exclusive: true})
			if err != nil && !errors.Is(err, ErrRefused) {
				t.Errorf("%s: %v", owner, err)
			}
			if err == nil {
				mu.Lock()
				winners = append(winners, owner)
				mu.Unlock()
			}
		}(fmt.Sprintf("run-%d", i))
	}
	wg.Wait()
	st := status(t, &Guard{Path: path, Clock: clock.NewFake(t0)})
	if len(winners) != 1 || st.Owner != winners[0] || st.Revision != 1 {
		t.Fatalf("winners %v, file %+v; want exactly one winner, named in the file at revision 1", winners, st)
	}
}

// Releases that read revision r race with a new lock: whatever the order,
// at most one release succeeds, and if the lock came after the read it
// survives.
func TestConcurrentCompareAndReleaseRace(t *testing.T) {
	for round := range 20 {
		g, _ := newGuard(t)
		r := lock(t, g, 30).After.Revision
		var wg sync.WaitGroup
		var mu sync.Mutex
		released := 0
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ch, err := g.Unlock(UnlockOptions{IfRevision: rev(r)})
				if err != nil && !errors.Is(err, ErrRefused) {
					t.Error(err)
				}
				if err == nil && ch.Changed {
					mu.Lock()
					released++
					mu.Unlock()
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.Lock(LockOptions{Duration: time.Hour, Owner: "rollback-2", Reason: "second rollback", Force: true}); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		st := status(t, g)
		if released > 1 || !st.Locked || st.Reason != "second rollback" {
			t.Fatalf("round %d: %d releases succeeded, final %+v; want at most one and the new lock kept", round, released, st)
		}
	}
}
