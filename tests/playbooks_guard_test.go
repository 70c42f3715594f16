package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// The guard under concurrency (issue 18), through the collection's playbooks:
// promotions take the guard atomically and hold it to the end, a failed run
// leaves it locked naming the failed step, and a release never clears a lock
// that is newer than the one it waited on.

// Task names of the guard_window role's acquire entry point.
const (
	acquireTask = "threader.guard.guard_window : Acquire the guard-window exclusively"
	refusedTask = "threader.guard.guard_window : Stop on every target when any target refused"
	failedTask  = "threader.guard.guard_window : Fail, naming the step"
	releaseTask = "threader.guard.guard_window : Release the guard-window"
)

// promoOwner is the owner promo_with_guards names itself with on this
// controller for a run id.
func promoOwner(runID string) string {
	host, _ := os.Hostname()
	return host + ":threader.guard.promo_with_guards:" + runID
}

// twoPromotions starts promotions A and B together, each with play(id,
// promote): promote is a command that appends "start ID" and, 2 seconds
// later, "end ID" to log (the promotion takes a while, so that an unguarded
// one started beside it would interleave). Exactly one must go through:
// it returns the runs, that one (winner) and the refused one (loser).
func twoPromotions(t *testing.T, log string, play func(id string, promote []string) *testenv.PlaybookRun) (runs map[string]*testenv.PlaybookRun, winner, loser string) {
	t.Helper()
	runs = map[string]*testenv.PlaybookRun{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range []string{"A", "B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			script := fmt.Sprintf("echo 'start %[1]s' >> %[2]s; sleep 2; echo 'end %[1]s' >> %[2]s", id, log)
			run := play(id, []string{"/bin/sh", "-c", script})
			mu.Lock()
			runs[id] = run
			mu.Unlock()
		}()
	}
	wg.Wait()
	for id, run := range runs {
		if run.ExitCode == 0 {
			winner = id
		} else {
			loser = id
		}
	}
	if winner == "" || loser == "" {
		t.Fatalf("want exactly one promotion through, got exit codes A=%d B=%d\nA:\n%s\nB:\n%s",
			runs["A"].ExitCode, runs["B"].ExitCode, runs["A"].Output, runs["B"].Output)
	}
	return runs, winner, loser
}

func (s guardState) String() string {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%q", *p)
	}
	return fmt.Sprintf("{locked %t, revision %d, %.0fs left, expires at %s, owner %s, reason %s}",
		s.Locked, s.Revision, s.RemainingSeconds, str(s.ExpiresAt), str(s.Owner), str(s.Reason))
}

// expiresAfter reports whether the guard expires d after a moment between
// from (taken before the run that locked it) and now, to the second. Unlike
// a margin on remaining_seconds, it does not depend on how long the run took.
func (s guardState) expiresAfter(d time.Duration, from time.Time) bool {
	return s.ExpiresAt != nil && expiresAfter(*s.ExpiresAt, d, from)
}

// expiresNotBefore reports whether the guard expires at or after at (to the
// second).
func (s guardState) expiresNotBefore(at time.Time) bool {
	return s.ExpiresAt != nil && !s.expiry().Before(at.Truncate(time.Second))
}

// expiry is the guard's expires_at; the zero time if it has none.
func (s guardState) expiry() time.Time {
	if s.ExpiresAt == nil {
		return time.Time{}
	}
	at, _ := time.Parse(time.RFC3339, *s.ExpiresAt)
	return at
}

func guardConcurrencySubtests(t *testing.T, newEnv func(*testing.T) *playbookEnv) {
	t.Run("two promotions started together: exactly one promotes, the other is refused naming the holder", func(t *testing.T) {
		e := newEnv(t)
		log := filepath.Join(t.TempDir(), "promotions.log")
		runs, winner, loser := twoPromotions(t, log, func(id string, promote []string) *testenv.PlaybookRun {
			return e.play(t, "promo_with_guards", nil, map[string]any{"job": "stable", "threader_guard_run_id": id,
				"promote_command": promote})
		})
		promoted, _ := os.ReadFile(log)
		if want := fmt.Sprintf("start %[1]s\nend %[1]s\n", winner); string(promoted) != want {
			t.Errorf("promotions log:\n%s\nwant only %s's promotion, whole:\n%s", promoted, winner, want)
		}
		refused := runs[loser].Task(t, refusedTask)
		msg, _ := refused.Result["msg"].(string)
		if refused.Status != "failed" || !strings.Contains(msg, fmt.Sprintf("%q", promoOwner(winner))) ||
			!strings.HasPrefix(msg, "The guard-window refused "+promoOwner(loser)) {
			t.Errorf("%s's refusal should name the holder %s: %s %q", loser, promoOwner(winner), refused.Status, msg)
		}
		for _, tr := range runs[loser].Tasks {
			if strings.HasSuffix(tr.Action, "slo_check") || strings.HasSuffix(tr.Action, "retry_command") {
				t.Errorf("%s ran in the refused run", tr.Task)
			}
		}
		st := e.state(t, e.guard)
		if !st.Locked || *st.Owner != promoOwner(winner) || *st.Reason != "promotion (threader.guard.promo_with_guards)" {
			t.Errorf("guard after the promotions: %s, want the stability window of %s", st, winner)
		}
	})

	t.Run("a promotion that fails midway leaves the guard locked naming the failed step", func(t *testing.T) {
		e := newEnv(t)
		held := filepath.Join(t.TempDir(), "held.json")
		// The promotion records the guard as it is while it runs, then fails.
		script := fmt.Sprintf("%s --path %s --json status > %s; echo 'canary half promoted' >&2; exit 3", e.cli, e.guard, held)
		from := time.Now()
		run := e.play(t, "promo_with_guards", nil, map[string]any{"job": "stable", "threader_guard_run_id": "pipeline-77",
			"promote_command": []string{"/bin/sh", "-c", script}, "retry_attempts": 1, "qos_guard_window": 7})
		if run.ExitCode == 0 {
			t.Fatalf("a failed promotion passed:\n%s", run.Output)
		}
		owner := promoOwner("pipeline-77")
		var during guardState
		if data, err := os.ReadFile(held); err != nil || json.Unmarshal(data, &during) != nil {
			t.Fatalf("the promotion did not record the guard (%v): %s", err, data)
		}
		if !during.Locked || *during.Owner != owner || *during.Reason != "promotion "+owner+" in progress" ||
			!during.expiresAfter(60*time.Minute, from) {
			t.Errorf("guard during the promotion: %s, want held by %s for the 60-minute hold", during, owner)
		}
		wantReason := "promotion " + owner + " failed at Run the promotion command: command failed after 1 attempt"
		st := e.state(t, e.guard)
		if !st.Locked || *st.Owner != owner || !strings.HasPrefix(*st.Reason, wantReason) || !strings.Contains(*st.Reason, "rc=3") ||
			!st.expiresAfter(7*time.Minute, from) || st.Revision <= during.Revision {
			t.Errorf("guard after the failure: %s, want locked for 7 minutes with a reason starting %q", st, wantReason)
		}
		msg, _ := run.Task(t, failedTask).Result["msg"].(string)
		if !strings.HasPrefix(msg, "Promotion "+owner+" failed at Run the promotion command: ") ||
			!strings.Contains(msg, "The guard-window stays locked for 7 minutes") {
			t.Errorf("failure message: %q", msg)
		}
	})

	t.Run("a release that read the revision during a promotion does not end the promotion's hold", func(t *testing.T) {
		e := newEnv(t)
		during, release := filepath.Join(t.TempDir(), "during.json"), filepath.Join(t.TempDir(), "release.txt")
		// While the promotion runs, a release (qos_guard_release, the
		// watcher) that saw stable SLOs compare-and-releases at the revision
		// it read: the revision still matches, yet the hold must stand.
		script := fmt.Sprintf(`%[1]s --path %[2]s --json status > %[3]s
rev=$(sed -n 's/.*"revision": *\([0-9]*\).*/\1/p' %[3]s)
%[1]s --path %[2]s --owner release-run --reason 'SLOs stable' unlock --if-revision "$rev" > %[4]s 2>&1; echo "exit $?" >> %[4]s`,
			e.cli, e.guard, during, release)
		run := e.play(t, "promo_with_guards", nil, map[string]any{"job": "stable", "threader_guard_run_id": "pipeline-79",
			"promote_command": []string{"/bin/sh", "-c", script}})
		owner := promoOwner("pipeline-79")
		var held guardState
		if data, err := os.ReadFile(during); err != nil || json.Unmarshal(data, &held) != nil || !held.Hold || *held.Owner != owner {
			t.Fatalf("guard during the promotion (%v): %s, want a hold by %s", err, data, owner)
		}
		out, _ := os.ReadFile(release)
		if !strings.HasSuffix(string(out), "exit 1\n") || !strings.Contains(string(out), "for a deployment in progress") ||
			!strings.Contains(string(out), fmt.Sprintf("%q", owner)) {
			t.Errorf("the release during the hold should be refused naming the holder:\n%s", out)
		}
		if run.ExitCode != 0 {
			t.Fatalf("the promotion failed:\n%s", run.Output)
		}
		st := e.state(t, e.guard)
		if !st.Locked || st.Hold || *st.Owner != owner || st.Revision <= held.Revision {
			t.Errorf("guard after the promotion: %s (hold %t), want %s's stability window", st, st.Hold, owner)
		}
	})

	t.Run("a rollback's lock during the promotion survives; the promotion fails", func(t *testing.T) {
		e := newEnv(t)
		// A rollback locks the guard while the promotion runs (longer than
		// the promotion's hold, so that it is a write today).
		script := fmt.Sprintf("%s --path %s --owner rollback-job --reason 'rollback of build 9' lock 120", e.cli, e.guard)
		from := time.Now()
		run := e.play(t, "promo_with_guards", nil, map[string]any{"job": "stable", "threader_guard_run_id": "pipeline-78",
			"promote_command": []string{"/bin/sh", "-c", script}})
		if run.ExitCode == 0 {
			t.Fatalf("the promotion passed although a rollback took the guard:\n%s", run.Output)
		}
		st := e.state(t, e.guard)
		if !st.Locked || *st.Owner != "rollback-job" || *st.Reason != "rollback of build 9" || !st.expiresAfter(2*time.Hour, from) {
			t.Errorf("the rollback's lock did not survive: %s", st)
		}
		msg, _ := run.Task(t, failedTask).Result["msg"].(string)
		if !strings.Contains(msg, "failed at Lock the guard-window") || !strings.Contains(msg, "The guard-window was left as it is") ||
			!strings.Contains(msg, "rollback of build 9") {
			t.Errorf("failure message: %q", msg)
		}
	})

	t.Run("an unreachable target stops the promotion everywhere; the guards taken are given back", func(t *testing.T) {
		e := newEnv(t)
		dir := t.TempDir()
		inventory := filepath.Join(dir, "inventory.ini")
		os.WriteFile(inventory, []byte(fmt.Sprintf("[threader]\n"+
			"web1 ansible_connection=local qos_guard_path=%s\n"+
			"web2 ansible_host=127.0.0.1 ansible_port=%d ansible_user=nobody qos_guard_path=%s/web2.guard\n",
			e.guard, testenv.FreePort(t), dir)), 0o644)
		vars := map[string]any{"job": "stable", "prom_url": e.prom.URL, "loki_url": "", "threader_guard_run_id": "pipeline-9",
			"promote_command": []string{"touch", filepath.Join(dir, "promoted")}}
		run := e.c.RunPlaybook(t, nil, "-i", inventory, "threader.guard.promo_with_guards", "-e", mustJSON(t, vars))
		if run.ExitCode == 0 {
			t.Fatalf("promotion passed with web2 unreachable:\n%s", run.Output)
		}
		if _, err := os.Stat(filepath.Join(dir, "promoted")); !os.IsNotExist(err) {
			t.Errorf("promote_command ran on web1 (stat: %v)", err)
		}
		msg, _ := run.Task(t, refusedTask).Result["msg"].(string)
		if !strings.HasPrefix(msg, "The guard-window refused "+promoOwner("pipeline-9")+" on web2, so nothing ran on any target: web2: ") {
			t.Errorf("refusal: %q", msg)
		}
		if web1 := e.state(t, e.guard); web1.Locked || web1.Revision != 2 {
			t.Errorf("web1's guard should be acquired (revision 1) then given back (revision 2): %s", web1)
		}
	})

	t.Run("a failed SLO gate on several targets locks every target's guard naming it", func(t *testing.T) {
		e := newEnv(t)
		dir := t.TempDir()
		inventory := filepath.Join(dir, "inventory.ini")
		os.WriteFile(inventory, []byte(fmt.Sprintf("[threader]\n"+
			"web1 ansible_connection=local qos_guard_path=%s\n"+
			"web2 ansible_connection=local qos_guard_path=%s/web2.guard\n", e.guard, dir)), 0o644)
		vars := map[string]any{"job": "unstable", "prom_url": e.prom.URL, "loki_url": "", "threader_guard_run_id": "pipeline-10",
			"promote_command": []string{"touch", filepath.Join(dir, "promoted")}}
		run := e.c.RunPlaybook(t, nil, "-i", inventory, "threader.guard.promo_with_guards", "-e", mustJSON(t, vars))
		if run.ExitCode == 0 {
			t.Fatalf("promotion passed an unstable service:\n%s", run.Output)
		}
		// The gate runs once, on web1; web2 fails with it and names the same step.
		want := "promotion " + promoOwner("pipeline-10") + " failed at Fail unless the SLOs passed: SLO gate failed (job unstable"
		for _, path := range []string{e.guard, filepath.Join(dir, "web2.guard")} {
			if st := e.state(t, path); !st.Locked || st.Reason == nil || !strings.HasPrefix(*st.Reason, want) {
				t.Errorf("guard %s: %s, want locked with a reason starting %q", path, st, want)
			}
		}
	})

	// The second rollback locks for longer than the first, or (the
	// playbook's own reason, naming the run) for less time than is left:
	// either way it is a new write the waiting release must not clear.
	for _, tc := range []struct {
		name                 string
		firstMinutes, window int
		vars                 map[string]any
		wantReason           string
	}{
		{"a release overtaken by a new lock while it polls keeps the new lock", 10, 60,
			map[string]any{"guard_window_reason": "rollback of build 2"}, "rollback of build 2"},
		{"a release overtaken by a shorter rollback while a longer lock is held keeps the rollback", 60, 15,
			nil, "rollback (threader.guard.auto_rollback_on_failure, run "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			firstFrom := time.Now()
			e.lock(t, tc.firstMinutes, "rollback of build 1")
			gate := newGate(t, e.prom.URL)
			done := make(chan *testenv.PlaybookRun, 1)
			go func() {
				// The closed gate answers errors: poll through them.
				done <- e.play(t, "qos_guard_release", nil, map[string]any{"job": "stable", "prom_url": gate.URL,
					"slo_interval_seconds": 1, "slo_consecutive": 1, "slo_timeout_seconds": 300, "slo_consecutive_error_limit": -1})
			}()
			// The release has recorded the revision and is polling the SLOs.
			select {
			case <-gate.polled:
			case run := <-done:
				t.Fatalf("the release ended before polling:\n%s", run.Output)
			case <-time.After(4 * time.Minute):
				t.Fatal("the release never polled the SLOs")
			}
			vars := map[string]any{"rollback_command": []string{"true"}, "qos_guard_window": tc.window}
			for k, v := range tc.vars {
				vars[k] = v
			}
			rollbackFrom := time.Now()
			rollback := e.play(t, "auto_rollback_on_failure", nil, vars)
			if rollback.ExitCode != 0 {
				t.Fatalf("the second rollback failed:\n%s", rollback.Output)
			}
			gate.open()
			run := <-done
			if run.ExitCode == 0 {
				t.Fatalf("the release passed although the guard changed while it waited:\n%s", run.Output)
			}
			released := run.Task(t, releaseTask)
			msg, _ := released.Result["msg"].(string)
			if released.Status != "failed" || !strings.Contains(msg, tc.wantReason) {
				t.Errorf("the release should fail saying who changed the guard and why: %s %q", released.Status, msg)
			}
			if st := e.state(t, e.guard); !st.Locked || st.Reason == nil || !strings.HasPrefix(*st.Reason, tc.wantReason) ||
				!st.expiresNotBefore(firstFrom.Add(time.Duration(tc.firstMinutes)*time.Minute)) ||
				!st.expiresNotBefore(rollbackFrom.Add(time.Duration(tc.window)*time.Minute)) {
				t.Errorf("the second rollback's lock did not survive (it must expire no sooner than either lock): %s", st)
			}
		})
	}
}

// gate stands between a playbook and the real Prometheus: it answers 503
// (a failed SLO evaluation, as slo_check fails closed) until it is opened,
// and says when the first query arrived. The answers after it opens are
// Prometheus's own.
type gate struct {
	URL    string
	polled chan struct{}
	mu     sync.Mutex
	opened bool
	first  sync.Once
}

func newGate(t *testing.T, prometheusURL string) *gate {
	target, err := url.Parse(prometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g := &gate{polled: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.first.Do(func() { close(g.polled) })
		g.mu.Lock()
		opened := g.opened
		g.mu.Unlock()
		if !opened {
			http.Error(w, "gate closed by the test", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

func (g *gate) open() {
	g.mu.Lock()
	g.opened = true
	g.mu.Unlock()
}
