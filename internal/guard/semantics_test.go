package guard

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/guard/etcdstore"
	"github.com/threader/guard/internal/testenv"
)

// storeKind makes guards of one backend: every guard made by one call of
// fresh shares one state (one file, one etcd key); the i-th guard may go
// through another route to it (for etcd, another member's endpoint).
type storeKind struct {
	name  string
	fresh func(t *testing.T) func(i int, c clock.Clock) *Guard
}

// TestSemantics runs the same guard semantics against the lock file and
// a real three-member etcd cluster: the policy is shared, so the results
// must be too. Revisions are compared by order, not value: the file counts
// writes, etcd counts every write in the cluster.
func TestSemantics(t *testing.T) {
	cluster := testenv.StartEtcd(t, testenv.EtcdOptions{})
	eps := cluster.Endpoints()
	scopes := 0
	kinds := []storeKind{
		{"file", func(t *testing.T) func(int, clock.Clock) *Guard {
			path := filepath.Join(t.TempDir(), "threader.qos.guard")
			return func(_ int, c clock.Clock) *Guard { return &Guard{Path: path, Clock: c, Host: "h1"} }
		}},
		{"etcd", func(t *testing.T) func(int, clock.Clock) *Guard {
			scopes++
			scope := fmt.Sprintf("semantics-%d", scopes)
			return func(i int, c clock.Clock) *Guard {
				st, err := OpenEtcd(etcdstore.Config{Endpoints: eps[i%len(eps) : i%len(eps)+1], Scope: scope, Timeout: 30 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return &Guard{Store: st, Clock: c, Host: "h1"}
			}
		}},
	}
	for _, kind := range kinds {
		for _, tc := range semanticCases {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				fc := clock.NewFake(t0)
				newGuard := kind.fresh(t)
				tc.run(t, fc, func(i int) *Guard { return newGuard(i, fc) })
			})
		}
	}
}

var semanticCases = []struct {
	name string
	run  func(t *testing.T, fc *clock.Fake, guard func(i int) *Guard)
}{
	{"nothing recorded is unlocked at revision 0", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		if st := status(t, guard(0)); st.Locked || st.Exists || st.Revision != 0 {
			t.Fatalf("fresh guard = %+v", st)
		}
	}},
	{"a lock is seen through another route; re-locking within a minute changes nothing", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		ch := lock(t, guard(0), 15)
		if !ch.Changed || !ch.After.Locked || ch.After.Revision <= 0 || !ch.After.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
			t.Fatalf("first lock = %+v", ch)
		}
		st := status(t, guard(1))
		if !st.Locked || st.Revision != ch.After.Revision || st.Reason != "rollback of build 1234" || st.Owner != "ci" || st.Host != "h1" {
			t.Fatalf("seen from another route: %+v, want the lock at revision %d", st, ch.After.Revision)
		}
		fc.Advance(30 * time.Second)
		again := lock(t, guard(2), 15)
		if again.Changed || again.After.Revision != ch.After.Revision {
			t.Fatalf("re-lock 30 s later = %+v, want no change", again)
		}
	}},
	{"lock extends, never shortens; force sets the exact expiry", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		g := guard(0)
		first := lock(t, g, 60)
		fc.Advance(5 * time.Minute)
		if ch := lock(t, g, 15); ch.Changed || !status(t, guard(1)).ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("a shorter lock changed the guard: %+v", ch)
		}
		longer := lock(t, g, 120)
		if !longer.Changed || !longer.After.ExpiresAt.Equal(t0.Add(125*time.Minute)) || longer.After.Revision <= first.After.Revision {
			t.Fatalf("longer lock = %+v", longer)
		}
		if !longer.After.LockedAt.Equal(t0) {
			t.Fatalf("locked_at moved to %v; the window started at %v", longer.After.LockedAt, t0)
		}
		forced := lock(t, g, 10, func(o *LockOptions) { o.Force = true })
		if !forced.Changed || !status(t, guard(2)).ExpiresAt.Equal(t0.Add(15*time.Minute)) || forced.After.Revision <= longer.After.Revision {
			t.Fatalf("forced = %+v, want expiry exactly 10 min from now", forced)
		}
	}},
	{"a lock by another owner or for another reason is a new write, keeping the later expiry", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		// A second rollback while a longer lock is held must bump the
		// revision and record itself, or a release waiting on the first
		// lock's revision clears the guard and loses the second's reason.
		first := lock(t, guard(0), 60)
		fc.Advance(5 * time.Minute)
		second := lock(t, guard(1), 15, func(o *LockOptions) { o.Reason = "rollback of build 1235"; o.Owner = "ci-2" })
		if !second.Changed || second.After.Revision <= first.After.Revision {
			t.Fatalf("a lock by another owner and reason = %+v, want a new revision", second)
		}
		st := status(t, guard(2))
		if !st.ExpiresAt.Equal(t0.Add(time.Hour)) || !st.LockedAt.Equal(t0) || st.Reason != "rollback of build 1235" || st.Owner != "ci-2" {
			t.Fatalf("after the second lock: %+v, want the first expiry and window start, the second reason and owner", st)
		}
		reason := lock(t, guard(0), 15, func(o *LockOptions) { o.Reason = "rollback of build 1236"; o.Owner = "ci-2" })
		if !reason.Changed || reason.After.Revision <= second.After.Revision || !reason.After.ExpiresAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("a lock for another reason = %+v, want a new revision with the same expiry", reason)
		}
		if bare := lock(t, guard(2), 15, func(o *LockOptions) { o.Reason = ""; o.Owner = "ci-2" }); bare.Changed {
			t.Fatalf("a re-lock by the holder giving no reason = %+v, want no change", bare)
		}
		forced := lock(t, guard(1), 55, func(o *LockOptions) { o.Reason = "promotion failed at Promote"; o.Owner = "ci-2"; o.Force = true })
		if !forced.Changed || forced.After.Reason != "promotion failed at Promote" || forced.After.Revision <= reason.After.Revision {
			t.Fatalf("a forced lock within a minute of the expiry for another reason = %+v, want the new reason written", forced)
		}
		if again := lock(t, guard(2), 55, func(o *LockOptions) { o.Reason = "promotion failed at Promote"; o.Owner = "ci-2"; o.Force = true }); again.Changed {
			t.Fatalf("the same forced lock again = %+v, want no change", again)
		}
	}},
	{"an expired lock reads unlocked, and unlock releases it", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		lock(t, guard(0), 1)
		fc.Advance(61 * time.Second)
		// The etcd key is still there (its lease runs on etcd's clock),
		// but the expiry in the value decides.
		if st := status(t, guard(1)); st.Locked || st.Remaining != 0 {
			t.Fatalf("expired lock reads %+v", st)
		}
		ch := unlock(t, guard(2), UnlockOptions{})
		if !ch.Changed || ch.After.Locked {
			t.Fatalf("unlock = %+v", ch)
		}
		if st := status(t, guard(0)); st.Locked || st.Exists {
			t.Fatalf("after unlock: %+v", st)
		}
		if ch := unlock(t, guard(1), UnlockOptions{}); ch.Changed {
			t.Fatalf("second unlock changed something: %+v", ch)
		}
	}},
	{"dry runs decide like real runs and write nothing", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		g := guard(0)
		ch := lock(t, g, 15, func(o *LockOptions) { o.DryRun = true })
		if !ch.Changed || !ch.After.Locked {
			t.Fatalf("dry-run lock = %+v, want 'would lock'", ch)
		}
		if st := status(t, g); st.Locked || st.Revision != 0 {
			t.Fatalf("dry run wrote: %+v", st)
		}
		real := lock(t, g, 15)
		if ch := unlock(t, g, UnlockOptions{DryRun: true}); !ch.Changed || ch.After.Locked {
			t.Fatalf("dry-run unlock = %+v", ch)
		}
		if st := status(t, g); !st.Locked || st.Revision != real.After.Revision {
			t.Fatalf("dry-run unlock wrote: %+v", st)
		}
	}},
	{"exclusive: refused while another owner holds it, naming the holder", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		excl := func(owner string) func(*LockOptions) {
			return func(o *LockOptions) { o.Owner, o.Exclusive, o.Reason = owner, true, "promotion "+owner }
		}
		held := lock(t, guard(0), 30, excl("run-1"))
		ch, err := guard(1).Lock(LockOptions{Duration: 30 * time.Minute, Owner: "run-2", Exclusive: true})
		var he *HeldError
		if !errors.As(err, &he) || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `owner "run-1"`) || !strings.Contains(err.Error(), "promotion run-1") {
			t.Fatalf("second owner: %v, want a HeldError naming run-1 and its reason", err)
		}
		if ch.Before.Revision != held.After.Revision {
			t.Fatalf("refusal reports %+v", ch.Before)
		}
		if again := lock(t, guard(2), 60, excl("run-1")); !again.Changed || again.After.Owner != "run-1" {
			t.Fatalf("the holder extending = %+v", again)
		}
		fc.Advance(61 * time.Minute)
		if next := lock(t, guard(1), 30, excl("run-2")); !next.Changed || next.After.Owner != "run-2" {
			t.Fatalf("after expiry another owner acquires: %+v", next)
		}
	}},
	{"compare-and-release: a stale revision is refused, the current one releases", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		r := lock(t, guard(0), 30).After.Revision
		newer := lock(t, guard(1), 60, func(o *LockOptions) { o.Reason = "second rollback" })
		_, err := guard(2).Unlock(UnlockOptions{IfRevision: rev(r)})
		var re *RevisionError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "second rollback") {
			t.Fatalf("stale release: %v, want a RevisionError with the new lock's reason", err)
		}
		if st := status(t, guard(0)); !st.Locked || st.Revision != newer.After.Revision {
			t.Fatalf("after the refused release: %+v", st)
		}
		if ch := unlock(t, guard(0), UnlockOptions{IfRevision: rev(newer.After.Revision)}); !ch.Changed || ch.After.Locked {
			t.Fatalf("current release = %+v", ch)
		}
	}},
	{"compare-and-release is not fooled by a lock taken again (ABA)", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		old := lock(t, guard(0), 30).After.Revision
		unlock(t, guard(1), UnlockOptions{})
		again := lock(t, guard(2), 30)
		if again.After.Revision <= old {
			t.Fatalf("re-taken lock at revision %d, not above %d", again.After.Revision, old)
		}
		if _, err := guard(0).Unlock(UnlockOptions{IfRevision: rev(old)}); !errors.Is(err, ErrRefused) {
			t.Fatalf("release with the first lock's revision: %v, want refused", err)
		}
		if !status(t, guard(1)).Locked {
			t.Fatal("the re-taken lock was released")
		}
	}},
	{"a hold is not ended by someone else's compare-and-release, only by its holder", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		hold := func(o *LockOptions) {
			o.Owner, o.Exclusive, o.Hold, o.Reason = "promo-7", true, true, "promotion promo-7 in progress"
		}
		held := lock(t, guard(0), 60, hold)
		if !held.After.Hold || held.After.Fields()["hold"] != true {
			t.Fatalf("hold = %+v, want a hold", held.After)
		}
		// A release (or the watcher) that read the hold's revision.
		_, err := guard(1).Unlock(UnlockOptions{Owner: "release-run", IfRevision: rev(held.After.Revision)})
		var he *HoldError
		if !errors.As(err, &he) || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `"promo-7"`) {
			t.Fatalf("release of the hold: %v, want a HoldError naming promo-7", err)
		}
		if st := status(t, guard(2)); !st.Locked || !st.Hold || st.Revision != held.After.Revision {
			t.Fatalf("after the refused release: %+v", st)
		}
		// The holder turns its hold into the stability window: a new write,
		// which a release may end.
		window := lock(t, guard(1), 15, func(o *LockOptions) { o.Owner, o.Exclusive, o.Reason = "promo-7", true, "promoted" })
		if !window.Changed || window.After.Hold || window.After.Revision <= held.After.Revision {
			t.Fatalf("window after the hold = %+v", window)
		}
		if ch := unlock(t, guard(2), UnlockOptions{Owner: "release-run", IfRevision: rev(window.After.Revision)}); !ch.Changed || ch.After.Locked {
			t.Fatalf("release of the window = %+v", ch)
		}
	}},
	{"a hold: its holder and a plain (override) unlock end it; it needs exclusive", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		hold := func(o *LockOptions) { o.Owner, o.Exclusive, o.Hold = "promo-8", true, true }
		held := lock(t, guard(0), 60, hold)
		if ch := unlock(t, guard(1), UnlockOptions{Owner: "promo-8", IfRevision: rev(held.After.Revision)}); !ch.Changed || ch.After.Locked {
			t.Fatalf("the holder's compare-and-release = %+v", ch)
		}
		lock(t, guard(0), 60, hold)
		if ch := unlock(t, guard(1), UnlockOptions{Owner: "ops"}); !ch.Changed || ch.After.Locked {
			t.Fatalf("plain unlock of a hold = %+v", ch)
		}
		_, err := guard(2).Lock(LockOptions{Duration: time.Minute, Owner: "x", Hold: true})
		var fe *fielderr.Error
		if !errors.As(err, &fe) || fe.Field != FieldHold {
			t.Fatalf("hold without exclusive: %v, want a field error on hold", err)
		}
		// An expired hold is no hold: a release of the expired guard passes.
		h := lock(t, guard(0), 1, hold)
		fc.Advance(2 * time.Minute)
		if ch := unlock(t, guard(1), UnlockOptions{Owner: "ops", IfRevision: rev(h.After.Revision)}); !ch.Changed {
			t.Fatalf("release of an expired hold = %+v", ch)
		}
	}},
	{"a lock by someone else (a rollback) ends the hold's protection and its refresh", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		lock(t, guard(0), 60, func(o *LockOptions) { o.Owner, o.Exclusive, o.Hold = "promo-9", true, true })
		rb := lock(t, guard(1), 30, func(o *LockOptions) { o.Owner, o.Reason = "rollback", "auto rollback" })
		if !rb.Changed || rb.After.Hold || rb.After.Owner != "rollback" {
			t.Fatalf("rollback over a hold = %+v", rb)
		}
		if _, err := guard(2).Lock(LockOptions{Duration: time.Hour, Owner: "promo-9", Exclusive: true, Hold: true}); !errors.Is(err, ErrRefused) {
			t.Fatalf("the promotion's refresh after the rollback: %v, want refused", err)
		}
	}},
	{"concurrent lockers converge on the latest expiry", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		// Expiries 2 minutes apart: within Slack (a minute) two count as one.
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := guard(i).Lock(LockOptions{Duration: time.Duration(10+2*i) * time.Minute, Owner: fmt.Sprint("ci-", i)}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if st := status(t, guard(0)); !st.ExpiresAt.Equal(t0.Add(32 * time.Minute)) {
			t.Fatalf("expiry %v, want the latest, %v", st.ExpiresAt, t0.Add(32*time.Minute))
		}
	}},
	{"concurrent exclusive acquirers: exactly one wins", func(t *testing.T, fc *clock.Fake, guard func(int) *Guard) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprint("run-", i)
				_, err := guard(i).Lock(LockOptions{Duration: 10 * time.Minute, Owner: owner, Exclusive: true})
				if err != nil && !errors.Is(err, ErrRefused) {
					t.Error(err)
				}
				if err == nil {
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if st := status(t, guard(0)); len(winners) != 1 || st.Owner != winners[0] {
			t.Fatalf("winners %v, guard %+v; want exactly one, named in the guard", winners, st)
		}
	}},
}
