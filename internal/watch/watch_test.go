package watch

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/guard"
)

var epoch = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// setup returns a real file guard on a fake clock, locked for an hour.
func setup(t *testing.T) (*guard.Guard, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(epoch)
	g := &guard.Guard{Path: filepath.Join(t.TempDir(), "guard"), Clock: fake, Host: "test"}
	if _, err := g.Lock(guard.LockOptions{Duration: time.Hour, Owner: "deployer", Reason: "rollback"}); err != nil {
		t.Fatal(err)
	}
	return g, fake
}

// scripted answers the verdicts in order (the last repeats); "pass",
// "fail" or "error".
func scripted(answers ...string) func() Gate {
	n := 0
	return func() Gate {
		return func(context.Context) (Verdict, error) {
			a := answers[min(n, len(answers)-1)]
			n++
			switch a {
			case "pass":
				return Verdict{Passed: true, Summary: "all 2 checks passed"}, nil
			case "error":
				return Verdict{Summary: "5xx_ratio: connection refused"}, errors.New("connection refused")
			}
			return Verdict{Summary: "5xx_ratio 0.2 > 0.01"}, nil
		}
	}
}

func kinds(evs []Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, string(e.Kind))
	}
	return strings.Join(s, " ")
}

func TestReleasesAfterConsecutivePassesAndKeepsWatching(t *testing.T) {
	g, fake := setup(t)
	var evs []Event
	w := &Watcher{Guard: g, Gate: scripted("fail", "pass", "error", "pass", "pass", "pass"), Interval: 30 * time.Second,
		Consecutive: 3, Owner: "watcher@test", Clock: fake, Observe: func(e Event) { evs = append(evs, e) }}
	for range 7 {
		w.Tick(context.Background())
		fake.Advance(30 * time.Second)
	}
	if got := kinds(evs); got != "gate_failed gate_passed gate_error gate_passed gate_passed gate_passed released unlocked" {
		t.Fatalf("events: %s", got)
	}
	st, _ := g.Status()
	if st.Locked || st.Owner != "watcher@test" || !strings.Contains(st.Reason, "released by the watcher") {
		t.Fatalf("guard after release: %+v", st)
	}
	rel := evs[6]
	if rel.Change.Before.Owner != "deployer" || !rel.Change.Changed || rel.Revision != 1 {
		t.Fatalf("release event %+v", rel)
	}
}

func TestNewerLockDuringTheStreakIsNeverCleared(t *testing.T) {
	g, fake := setup(t)
	var evs []Event
	w := &Watcher{Guard: g, Gate: scripted("pass"), Consecutive: 2, Owner: "watcher@test", Clock: fake,
		Observe: func(e Event) { evs = append(evs, e) }}
	w.Tick(context.Background()) // pass 1 at revision 1
	if _, err := g.Lock(guard.LockOptions{Duration: 2 * time.Hour, Owner: "second-deploy"}); err != nil {
		t.Fatal(err)
	}
	w.Tick(context.Background()) // revision 2: the streak starts over
	st, _ := g.Status()
	if !st.Locked || st.Owner != "second-deploy" {
		t.Fatalf("the newer lock was released: %+v (events %s)", st, kinds(evs))
	}
	if evs[1].Streak != 1 || evs[1].Revision != 2 {
		t.Fatalf("streak did not start over at the new revision: %+v", evs[1])
	}
	w.Tick(context.Background())
	if st, _ := g.Status(); st.Locked {
		t.Fatalf("not released after 2 passes at the new revision: %s", kinds(evs))
	}
}

// Two watchers on one guard: one release; the other is refused and sees
// the guard unlocked.
func TestTwoWatchersReleaseOnce(t *testing.T) {
	g, fake := setup(t)
	var a, b []Event
	wa := &Watcher{Guard: g, Gate: scripted("pass"), Consecutive: 1, Owner: "watcher@a", Clock: fake, Observe: func(e Event) { a = append(a, e) }}
	wb := &Watcher{Guard: g, Gate: scripted("pass"), Consecutive: 2, Owner: "watcher@b", Clock: fake, Observe: func(e Event) { b = append(b, e) }}
	wb.Tick(context.Background()) // b: pass 1 at revision 1
	if !wa.Tick(context.Background()) {
		t.Fatalf("a did not release: %s", kinds(a))
	}
	// b's second pass: it read the guard unlocked, so it evaluates nothing.
	wb.Tick(context.Background())
	if kinds(b) != "gate_passed unlocked" {
		t.Fatalf("b: %s", kinds(b))
	}
	// b releases at a stale revision when its read raced a's release.
	wc := &Watcher{Guard: racing{g, func() {
		wa.Guard.Unlock(guard.UnlockOptions{Owner: "someone"}) // the guard changes between read and release
	}}, Gate: scripted("pass"), Consecutive: 1, Owner: "watcher@c", Clock: fake}
	g.Lock(guard.LockOptions{Duration: time.Hour, Owner: "third"})
	var c []Event
	wc.Observe = func(e Event) { c = append(c, e) }
	if wc.Tick(context.Background()) || kinds(c) != "gate_passed release_refused" {
		t.Fatalf("c: %s", kinds(c))
	}
}

// racing runs before just before the unlock, as another process would.
type racing struct {
	*guard.Guard
	before func()
}

func (r racing) Unlock(o guard.UnlockOptions) (guard.Change, error) {
	r.before()
	return r.Guard.Unlock(o)
}

// unreadable fails every read, as a lock file denied to us would.
type unreadable struct{ *guard.Guard }

func (unreadable) Status() (guard.Status, error) {
	return guard.Status{}, errors.New("open /run/guard: permission denied")
}

func TestFailingGateOrUnreadableGuardNeverReleases(t *testing.T) {
	g, fake := setup(t)
	for _, w := range []*Watcher{
		{Guard: g, Gate: scripted("fail"), Consecutive: 1},
		{Guard: g, Gate: scripted("error"), Consecutive: 1},
		{Guard: unreadable{g}, Gate: scripted("pass"), Consecutive: 1},
	} {
		w.Clock = fake
		var evs []Event
		w.Observe = func(e Event) { evs = append(evs, e) }
		for range 5 {
			if w.Tick(context.Background()) {
				t.Fatalf("released: %s", kinds(evs))
			}
		}
		if st, _ := g.Status(); !st.Locked {
			t.Fatal("guard unlocked")
		}
		if evs[0].Kind != GateFailed && evs[0].Kind != GateError && evs[0].Kind != GuardUnreadable {
			t.Fatalf("events %s", kinds(evs))
		}
	}
}

func TestRunWithOnceReturnsAfterTheReleaseOnTheInterval(t *testing.T) {
	g, fake := setup(t)
	w := &Watcher{Guard: g, Gate: scripted("pass"), Interval: 10 * time.Second, Consecutive: 3, Once: true, Clock: fake}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	slept := fake.Slept()
	if len(slept) != 2 || slept[0] != 10*time.Second || slept[1] != 10*time.Second {
		t.Fatalf("slept %v, want two 10s intervals", slept)
	}
	if st, _ := g.Status(); st.Locked {
		t.Fatal("not released")
	}
}

func TestRunStopsWhenCanceled(t *testing.T) {
	g, fake := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	fake.OnSleep = func(time.Duration) {
		if n++; n == 3 {
			cancel()
		}
	}
	w := &Watcher{Guard: g, Gate: scripted("fail"), Clock: fake}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d sleeps", n)
	}
}

func TestValidate(t *testing.T) {
	g, _ := setup(t)
	for _, w := range []*Watcher{{}, {Guard: g, Gate: scripted("pass"), Interval: -1}, {Guard: g, Gate: scripted("pass"), Consecutive: -2}} {
		if err := w.Run(context.Background()); err == nil {
			t.Errorf("%+v: no error", w)
		}
	}
}

// A promotion holds the guard (a deployment in progress): however stable
// the SLOs, the watcher does not judge it, nor release it; once the
// promotion turns its hold into the stability window, the watcher does.
func TestHoldOfADeploymentInProgressIsNeverReleased(t *testing.T) {
	fake := clock.NewFake(epoch)
	g := &guard.Guard{Path: filepath.Join(t.TempDir(), "guard"), Clock: fake, Host: "test"}
	promo := guard.LockOptions{Duration: time.Hour, Owner: "promo-1", Reason: "promotion in progress", Exclusive: true, Hold: true}
	if _, err := g.Lock(promo); err != nil {
		t.Fatal(err)
	}
	var evs []Event
	w := &Watcher{Guard: g, Gate: scripted("pass"), Consecutive: 2, Owner: "watcher@test", Clock: fake,
		Observe: func(e Event) { evs = append(evs, e) }}
	for range 4 {
		w.Tick(context.Background())
		fake.Advance(30 * time.Second)
	}
	if st, _ := g.Status(); !st.Locked || !st.Hold || kinds(evs) != "held held held held" {
		t.Fatalf("during the hold: guard %+v, events %s", st, kinds(evs))
	}
	window := promo
	window.Hold, window.Reason, window.Duration = false, "promoted", 15*time.Minute
	if _, err := g.Lock(window); err != nil {
		t.Fatal(err)
	}
	w.Tick(context.Background())
	w.Tick(context.Background())
	if st, _ := g.Status(); st.Locked {
		t.Fatalf("the stability window was not released: %s", kinds(evs))
	}
}
