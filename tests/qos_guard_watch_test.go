package tests

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Issue 15: `qos_guard watch` against a real Prometheus.

// watchGate are the gate flags of the tests: the default Prometheus checks
// over a 2 s window (so data that turns stable is seen within seconds), no
// log check.
func watchGate(prom, job string) []string {
	return []string{"--prometheus-url", prom, "--loki-url", "", "--job", job, "--window", "2s", "--interval", "1s", "--request-retries", "0"}
}

// waitLog waits until the process's log matches re, or fails after limit.
func waitLog(t *testing.T, p *testenv.Process, re string, limit time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(p.Output()); m != nil {
			return m[len(m)-1]
		}
		if p.Exited() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("log never matched %q:\n%s", re, p.Output())
	return ""
}

// guardJSON reads the guard with the CLI.
func guardJSON(t *testing.T, bin string, guardArgs ...string) map[string]any {
	t.Helper()
	out, _ := testenv.Run(t, nil, bin, append(guardArgs, "--json", "status")...)
	var st map[string]any
	if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '{'):]), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	return st
}

// waitUnlocked polls the guard until it is unlocked, or fails after limit.
func waitUnlocked(t *testing.T, bin string, p *testenv.Process, limit time.Duration, guardArgs ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if st := guardJSON(t, bin, guardArgs...); st["locked"] == false {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("guard still locked after %s; watcher log:\n%s", limit, p.Output())
	return nil
}

func lockGuard(t *testing.T, bin string, guardArgs ...string) {
	t.Helper()
	if out, code := testenv.Run(t, nil, bin, append(guardArgs, "--owner", "deployer", "--reason", "rollback", "lock", "30")...); code != 0 {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
}

func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// A guard locked while the service recovers: the watcher fails the gate
// while health is 0.5, releases after 2 passes once it is 0.999 (as
// watcher@HOST, audited), keeps watching and releases the next lock too;
// SIGHUP re-reads the checks file; /metrics and /healthz answer; SIGTERM
// ends it with exit 0.
func TestQosGuardWatchReleasesWhenStable(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	var w *testenv.Process
	var dir, checks, addr string
	var guardArgs []string
	// The watcher must start while recovers_soon still fails; the lead grows
	// when it started too late (testenv.SoonStable).
	testenv.SoonStable(t, func(lead time.Duration) bool {
		data := testenv.NewSLOScenarios(time.Now(), lead)
		prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
		dir = t.TempDir()
		guardArgs = []string{"--path", filepath.Join(dir, "guard"), "--no-syslog"}
		checks = filepath.Join(dir, "checks.yml")
		os.WriteFile(checks, []byte("- {name: always_ok, query: 'vector(0)', max: 1}\n"), 0o600)
		lockGuard(t, bin, guardArgs...)

		args := append(append([]string{}, guardArgs...), "watch", "--consecutive", "2", "--listen", "127.0.0.1:0", "--checks-file", checks)
		w = testenv.Start(t, dir, bin, append(args, watchGate(prom.URL, "recovers_soon")...)...)
		addr = waitLog(t, w, `serving /metrics and /healthz on http://(\S+)`, 60*time.Second)
		st := waitUnlocked(t, bin, w, lead+90*time.Second, guardArgs...)
		log := w.Output()
		if first := regexp.MustCompile(`gate (passed|FAILED)`).FindStringSubmatch(log); first != nil && first[1] == "passed" {
			w.Stop() // its first evaluation saw the healthy data
			prom.Stop()
			return false
		}
		host, _ := os.Hostname()
		if st["owner"] != "watcher@"+host || !strings.Contains(st["reason"].(string), "released by the watcher") {
			t.Errorf("release not recorded as the watcher's: %v", st)
		}
		for _, want := range []string{"gate FAILED (0/2 in a row): health_ratio", "gate passed (2/2 in a row)", "released the guard"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		return true
	})

	// It keeps watching: a new lock is released too.
	lockGuard(t, bin, guardArgs...)
	waitUnlocked(t, bin, w, 120*time.Second, guardArgs...)

	// SIGHUP: a checks file that now fails keeps the next lock in place.
	os.WriteFile(checks, []byte("- {name: always_bad, query: 'vector(1)', max: 0}\n"), 0o600)
	w.Cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, w, `(reloaded the checks)`, 90*time.Second)
	lockGuard(t, bin, guardArgs...)
	waitLog(t, w, `gate FAILED \(0/2 in a row\): (always_bad)`, 90*time.Second)
	if st := guardJSON(t, bin, guardArgs...); st["locked"] != true {
		t.Fatalf("released although always_bad fails: %v", st)
	}
	os.WriteFile(checks, []byte("- {name: always_ok, query: 'vector(0)', max: 1}\n"), 0o600)
	w.Cmd.Process.Signal(syscall.SIGHUP)
	waitUnlocked(t, bin, w, 120*time.Second, guardArgs...)

	m := metricsText(t, addr)
	for _, want := range []string{`threader_guard_watch_releases_total{result="released"} 3`, `threader_guard_watch_guard_locked 0`,
		`threader_guard_watch_reloads_total{result="ok"} 2`, `threader_guard_watch_consecutive 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, m)
		}
	}
	if !regexp.MustCompile(`threader_guard_watch_evaluations_total\{result="fail"\} [1-9]`).MatchString(m) {
		t.Errorf("no failed evaluation counted:\n%s", m)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz: %v %v", resp, err)
	}

	w.Cmd.Process.Signal(syscall.SIGTERM)
	testenv.Within(t, 60*time.Second, func() { // a hang guard
		for !w.Exited() {
			time.Sleep(20 * time.Millisecond)
		}
	})
	if code := w.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, w.Output())
	}
}

// A failing gate, missing data and an unreachable Prometheus never release.
func TestQosGuardWatchNeverReleasesOnFailingOrMissingData(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
	for _, c := range []struct{ job, url, want string }{
		{"unstable", prom.URL, `gate FAILED \(0/1 in a row\): (5xx_ratio)`},
		{"gap", prom.URL, `gate could not measure \(0/1 in a row\), (not released)`},
		{"stable", "http://127.0.0.1:1", `gate could not measure \(0/1 in a row\), (not released)`},
	} {
		dir := t.TempDir()
		guardArgs := []string{"--path", filepath.Join(dir, "guard"), "--no-syslog"}
		lockGuard(t, bin, guardArgs...)
		args := append(append([]string{}, guardArgs...), "watch", "--consecutive", "1", "--once")
		w := testenv.Start(t, dir, bin, append(args, watchGate(c.url, c.job)...)...)
		// Three evaluations, none releasing.
		for range 3 {
			waitLog(t, w, c.want, 90*time.Second)
		}
		waitLog(t, w, `(?s)`+c.want+`.*`+c.want+`.*`+c.want, 90*time.Second)
		if st := guardJSON(t, bin, guardArgs...); st["locked"] != true || w.Exited() {
			t.Errorf("%s: released or exited: %v\n%s", c.job, st, w.Output())
		}
		w.Stop()
	}
}

// --once exits 0 after the first release.
func TestQosGuardWatchOnce(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit", "audit.jsonl")
	guardArgs := []string{"--path", filepath.Join(dir, "guard"), "--no-syslog", "--audit-log", audit}
	lockGuard(t, bin, guardArgs...)
	args := append(append([]string{}, guardArgs...), "watch", "--consecutive", "2", "--once")
	out, code := testenv.Run(t, nil, bin, append(args, watchGate(prom.URL, "stable")...)...)
	if code != 0 || !strings.Contains(out, "released the guard") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The watcher's release is in the audit log like any unlock (issue 14).
	if lines := auditLines(t, audit); len(lines) != 2 || lines[1]["action"] != "unlock" || !strings.HasPrefix(lines[1]["owner"].(string), "watcher@") {
		t.Errorf("audit lines after the watcher's release: %v", lines)
	}
	if st := guardJSON(t, bin, guardArgs...); st["locked"] != false {
		t.Fatalf("still locked: %v", st)
	}
	// Unlocked: with --once it waits for a lock; SIGINT ends it with 0.
	w := testenv.Start(t, dir, bin, append(args, watchGate(prom.URL, "stable")...)...)
	waitLog(t, w, `(watching the file guard)`, 90*time.Second)
	time.Sleep(1500 * time.Millisecond) // a tick or two on an unlocked guard
	w.Cmd.Process.Signal(syscall.SIGINT)
	testenv.Within(t, 60*time.Second, func() { // a hang guard
		for !w.Exited() {
			time.Sleep(20 * time.Millisecond)
		}
	})
	if code := w.Cmd.ProcessState.ExitCode(); code != 0 || strings.Contains(w.Output(), "released") {
		t.Fatalf("SIGINT on an unlocked guard: exit %d\n%s", code, w.Output())
	}
}

// Several watchers on one etcd guard: one release, at the revision the
// passes began; the others are refused or see it unlocked.
func TestQosGuardWatchEtcdWatchersDoNotFight(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
	etcd := testenv.StartEtcd(t, testenv.EtcdOptions{})
	guardArgs := []string{"--backend", "etcd", "--etcd-endpoints", strings.Join(etcd.Endpoints(), ","), "--scope", "watchtest", "--no-syslog"}
	lockGuard(t, bin, guardArgs...)
	var ws []*testenv.Process
	for range 3 {
		args := append(append([]string{}, guardArgs...), "watch", "--consecutive", "2")
		ws = append(ws, testenv.Start(t, t.TempDir(), bin, append(args, watchGate(prom.URL, "stable")...)...))
	}
	// (An etcd release deletes the key, so the revision cannot count the
	// writes; the watchers' logs do: one release, the rest refused or idle.)
	waitUnlocked(t, bin, ws[0], 120*time.Second, guardArgs...)
	// The releasing watcher logs after its write: wait for the line, then
	// give every watcher a tick after the release.
	deadline := time.Now().Add(60 * time.Second)
	for !slices.ContainsFunc(ws, func(w *testenv.Process) bool { return strings.Contains(w.Output(), "released the guard") }) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	released := 0
	for _, w := range ws {
		released += strings.Count(w.Output(), "released the guard")
		if strings.Contains(w.Output(), "release failed") {
			t.Errorf("a watcher failed to write:\n%s", w.Output())
		}
	}
	if released != 1 {
		for _, w := range ws {
			t.Log(w.Output())
		}
		t.Fatalf("%d releases, want 1", released)
	}
}
