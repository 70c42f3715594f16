package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// The collection's playbooks (playbooks/*.yaml, run as threader.guard.NAME)
// through real ansible-playbook against localhost, with the real modules, a
// real Prometheus holding the SLO scenario data (job "stable" passes the
// default thresholds, "unstable" fails both, "recovers_soon" turns healthy a
// few seconds after the start) and the fake Loki (real Loki cannot be
// installed here).

// playbookEnv is one test's view of the shared backends.
type playbookEnv struct {
	c     *testenv.Collection
	prom  *testenv.Prometheus
	loki  *testenv.FakeLoki
	data  testenv.SLOScenarios
	guard string // the guard-window file of this test
	cli   string // the qos_guard CLI, to read the guard as an operator would
}

// guardState is the guard-window as the qos_guard CLI reports it.
type guardState struct {
	Locked           bool    `json:"locked"`
	Reason           *string `json:"reason"`
	Owner            *string `json:"owner"`
	RemainingSeconds float64 `json:"remaining_seconds"`
	ExpiresAt        *string `json:"expires_at"`
	Revision         int64   `json:"revision"`
	Hold             bool    `json:"hold"`
}

func TestPlaybooks(t *testing.T) {
	t.Parallel()
	c := testenv.InstallCollection(t)
	data, prom, loki := sloBackends(t, time.Minute)
	qosGuard := testenv.BuildCLI(t, "qos_guard")
	newEnv := func(t *testing.T) *playbookEnv {
		t.Parallel()
		return &playbookEnv{c: c, prom: prom, loki: loki, data: data, guard: filepath.Join(t.TempDir(), "threader.qos.guard"), cli: qosGuard}
	}
	state := func(t *testing.T, e *playbookEnv) guardState { t.Helper(); return e.state(t, e.guard) }

	t.Run("promotion refused while locked, before anything runs, the guard untouched", func(t *testing.T) {
		e := newEnv(t)
		e.lock(t, 10, "rollback of build 1234")
		before := state(t, e)
		marker := filepath.Join(t.TempDir(), "promoted")
		run := e.play(t, "promo_with_guards", nil, map[string]any{"promote_command": []string{"touch", marker}, "job": "stable",
			"threader_guard_run_id": "pipeline-5"})
		if run.ExitCode == 0 {
			t.Fatalf("promotion ran while the guard was locked:\n%s", run.Output)
		}
		if acquire := run.Task(t, acquireTask); acquire.Status != "ignored" {
			t.Errorf("the exclusive acquisition should have been refused: %s %v", acquire.Status, acquire.Result)
		}
		refused := run.Task(t, refusedTask)
		msg, _ := refused.Result["msg"].(string)
		if refused.Status != "failed" || !strings.HasPrefix(msg, "The guard-window refused "+promoOwner("pipeline-5")+" on localhost, so nothing ran") ||
			!strings.Contains(msg, "rollback of build 1234") || !strings.Contains(msg, "m left)") {
			t.Errorf("refusal: status %s, msg %q", refused.Status, msg)
		}
		for _, tr := range run.Tasks {
			if strings.HasSuffix(tr.Action, "slo_check") || strings.HasSuffix(tr.Action, "retry_command") {
				t.Errorf("%s ran after the refusal", tr.Task)
			}
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Errorf("the promote_command ran (stat: %v)", err)
		}
		after := state(t, e)
		if after.Revision != before.Revision || !after.Locked || *after.Reason != "rollback of build 1234" || *after.Owner != *before.Owner {
			t.Errorf("guard after the refusal: %s, before it: %s", after, before)
		}
	})

	t.Run("healthy: released, default target group, Loki checked", func(t *testing.T) {
		e := newEnv(t)
		e.lock(t, 10, "rollback")
		inventory := filepath.Join(t.TempDir(), "inventory.ini")
		os.WriteFile(inventory, []byte("[threader]\nlocalhost ansible_connection=local\n"), 0o644)
		textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
		run := e.c.RunPlaybook(t, nil, "-i", inventory, "threader.guard.qos_guard_release",
			"-e", e.vars(t, map[string]any{"job": "stable", "loki_url": e.loki.URL, "slo_gate_loki_tenant": sloTenant,
				"slo_interval_seconds": 1, "slo_consecutive": 2, "slo_timeout_seconds": 20,
				"slo_gate_name": "release-web", "guard_window_name": "web", "threader_guard_metrics_textfile": textfile}))
		if run.ExitCode != 0 {
			t.Fatalf("release failed:\n%s", run.Output)
		}
		gate := run.Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job stable")
		if gate.Result["passed"] != true || gate.Result["evaluations"] != 2.0 {
			t.Errorf("gate: %v", gate.Result)
		}
		for _, name := range []string{"5xx_ratio", "health_ratio", "error_logs_per_min"} {
			if ch := checkOf(t, gate.Result, name); ch["passed"] != true {
				t.Errorf("check %s: %v", name, ch)
			}
		}
		released := run.Task(t, "threader.guard.guard_window : Release the guard-window")
		if released.Result["changed"] != true || released.Result["locked"] != false {
			t.Errorf("release: %v", released.Result)
		}
		if st := state(t, e); st.Locked {
			t.Errorf("still locked: %+v", st)
		}
		if len(e.loki.Requests()) == 0 {
			t.Error("the error-log check never queried Loki")
		}
		// Both modules published under the names the roles were given.
		metrics, err := os.ReadFile(textfile)
		for _, want := range []string{`name="release-web"`, `name="web"`} {
			if err != nil || !strings.Contains(string(metrics), want) {
				t.Errorf("metrics textfile lacks %s (%v):\n%s", want, err, metrics)
			}
		}
	})

	t.Run("unhealthy: stays locked and fails with each check's value and threshold", func(t *testing.T) {
		e := newEnv(t)
		e.lock(t, 10, "rollback")
		run := e.play(t, "qos_guard_release", nil, map[string]any{"job": "unstable",
			"slo_interval_seconds": 1, "slo_consecutive": 2, "slo_timeout_seconds": 3})
		if run.ExitCode == 0 {
			t.Fatalf("release passed for an unstable job:\n%s", run.Output)
		}
		failed := run.Task(t, "threader.guard.slo_gate : Fail unless the SLOs passed")
		msg, _ := failed.Result["msg"].(string)
		for _, want := range []string{"SLOs not stable, the guard-window stays locked (job unstable, window 15m): not stable within 3s",
			"5xx_ratio 0.023 > 0.01 (FAILED)", "health_ratio 0.97 < 0.995 (FAILED)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q: %q", want, msg)
			}
		}
		for _, tr := range run.Tasks {
			if strings.Contains(tr.Task, "Release the guard-window") {
				t.Errorf("the release ran: %+v", tr)
			}
		}
		if st := state(t, e); !st.Locked {
			t.Errorf("guard released although the SLOs failed: %+v", st)
		}
	})

	t.Run("release polls until the service recovers", func(t *testing.T) {
		e := newEnv(t)
		// Data of its own, so that "recovers_soon" turns healthy a time
		// after this subtest starts, however long the others take; the lead
		// grows when the gate started too late to see the failing data
		// (testenv.SoonStable).
		testenv.SoonStable(t, func(lead time.Duration) bool {
			e.data, e.prom, _ = sloBackends(t, lead)
			defer e.prom.Stop()
			e.lock(t, 10, "rollback")
			if time.Until(e.data.SoonStableAt) < 3*time.Second {
				return false // the setup took the lead: the gate could not start before the recovery
			}
			run := e.play(t, "qos_guard_release", nil, map[string]any{"job": "recovers_soon", "window": "2s",
				"slo_interval_seconds": 1, "slo_consecutive": 2, "slo_timeout_seconds": int((lead + 2*time.Minute).Seconds())})
			if run.ExitCode != 0 {
				t.Fatalf("release failed:\n%s", run.Output)
			}
			gate := run.Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job recovers_soon")
			if at, err := time.Parse(time.RFC3339, fmt.Sprint(gate.Result["evaluated_at"])); err != nil || at.Before(e.data.SoonStableAt) {
				t.Errorf("the gate passed at %v (%v), before the service recovered at %s: %v", gate.Result["evaluated_at"], err, e.data.SoonStableAt, gate.Result)
			}
			if time.Now().Before(e.data.SoonStableAt) {
				t.Errorf("released before the service recovered (at %s)", e.data.SoonStableAt)
			}
			if st := state(t, e); st.Locked {
				t.Errorf("still locked: %+v", st)
			}
			// Two evaluations (the consecutive passes) and no failing one
			// before: the gate started after the recovery.
			evaluations, _ := gate.Result["evaluations"].(float64)
			return evaluations > 2
		})
	})

	t.Run("promotion through the guards locks for qos_guard_window, settings from the old environment variables", func(t *testing.T) {
		e := newEnv(t)
		marker := filepath.Join(t.TempDir(), "promoted")
		env := []string{"PROMETHEUS_URL=" + e.prom.URL, "THREADER_JOB=stable", "LOKI_URL=", "QOS_GUARD_PATH=" + e.guard,
			"QOS_GUARD_WINDOW=7", "STABILITY_WINDOW=10m"}
		from := time.Now()
		run := e.c.RunPlaybook(t, env, "-i", "localhost,", "-c", "local", "threader.guard.promo_with_guards",
			"-e", "target=localhost", "-e", mustJSON(t, map[string]any{"promote_command": []string{"touch", marker}}))
		if run.ExitCode != 0 {
			t.Fatalf("promotion failed:\n%s", run.Output)
		}
		gate := run.Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job stable")
		if checks, _ := gate.Result["checks"].([]any); len(checks) != 2 {
			t.Errorf("with LOKI_URL empty there should be 2 checks: %v", gate.Result)
		}
		if q, _ := checkOf(t, gate.Result, "5xx_ratio")["query"].(string); !strings.Contains(q, "[10m]") {
			t.Errorf("STABILITY_WINDOW not used: %s", q)
		}
		if !strings.Contains(run.Output, "loki_url is empty") {
			t.Errorf("no warning that the log check is off:\n%s", run.Output)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("promote_command did not run: %v", err)
		}
		// Locked exactly for the window (force: the 60-minute hold is
		// shortened), by the run's generated owner.
		st := state(t, e)
		if !st.Locked || !st.expiresAfter(7*time.Minute, from) || st.Reason == nil ||
			*st.Reason != "promotion (threader.guard.promo_with_guards)" || st.Owner == nil ||
			!regexp.MustCompile(`^`+regexp.QuoteMeta(promoOwner(""))+`\d{8}T\d{6}Z-[0-9a-f]{8}$`).MatchString(*st.Owner) {
			t.Errorf("guard after the promotion: %s (want locked ~420s by %s<time>-<random>)", st, promoOwner(""))
		}
	})

	t.Run("promotion stops at a failing SLO gate, the guard locked naming it", func(t *testing.T) {
		e := newEnv(t)
		marker := filepath.Join(t.TempDir(), "promoted")
		from := time.Now()
		run := e.play(t, "promo_with_guards", nil, map[string]any{"job": "unstable", "promote_command": []string{"touch", marker},
			"threader_guard_run_id": "pipeline-6", "qos_guard_window": 9})
		if run.ExitCode == 0 {
			t.Fatalf("promotion passed an unstable service:\n%s", run.Output)
		}
		msg, _ := run.Task(t, "threader.guard.slo_gate : Fail unless the SLOs passed").Result["msg"].(string)
		if !strings.HasPrefix(msg, "SLO gate failed (job unstable, window 15m): 5xx_ratio 0.023 > 0.01; health_ratio 0.97 < 0.995") {
			t.Errorf("message: %q", msg)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Errorf("promote_command ran (stat: %v)", err)
		}
		// Held since the start, so it stays locked: the reason says where the run stopped.
		st := state(t, e)
		wantReason := "promotion " + promoOwner("pipeline-6") + " failed at Fail unless the SLOs passed: SLO gate failed (job unstable, window 15m)"
		if !st.Locked || st.Reason == nil || !strings.HasPrefix(*st.Reason, wantReason) || *st.Owner != promoOwner("pipeline-6") ||
			!st.expiresAfter(9*time.Minute, from) {
			t.Errorf("guard after the failed gate: %s, want locked ~540s with a reason starting %q", st, wantReason)
		}
	})

	t.Run("promotion from a tasks file", func(t *testing.T) {
		e := newEnv(t)
		dir := t.TempDir()
		tasks := filepath.Join(dir, "promote.yml")
		os.WriteFile(tasks, []byte(fmt.Sprintf("---\n- name: Promote the canary\n  ansible.builtin.file:\n    path: %s/promoted\n    state: touch\n    mode: '0644'\n", dir)), 0o644)
		// Relative to the directory ansible-playbook is started in, as users
		// type it in a shell (which sets PWD).
		cwd, _ := os.Getwd()
		rel, err := filepath.Rel(cwd, tasks)
		if err != nil {
			t.Fatal(err)
		}
		run := e.play(t, "promo_with_guards", []string{"PWD=" + cwd}, map[string]any{"job": "stable", "promote_tasks_file": rel})
		if run.ExitCode != 0 {
			t.Fatalf("promotion failed:\n%s", run.Output)
		}
		if _, err := os.Stat(filepath.Join(dir, "promoted")); err != nil {
			t.Errorf("the tasks file did not run: %v", err)
		}
		if st := state(t, e); !st.Locked {
			t.Errorf("not locked after the promotion: %+v", st)
		}
	})

	t.Run("one locked host stops the promotion on every host", func(t *testing.T) {
		e := newEnv(t)
		e.lock(t, 10, "rollback on web1")
		dir := t.TempDir()
		inventory := filepath.Join(dir, "inventory.ini")
		os.WriteFile(inventory, []byte(fmt.Sprintf("[threader]\n"+
			"web1 ansible_connection=local qos_guard_path=%s\n"+
			"web2 ansible_connection=local qos_guard_path=%s/web2.guard\n", e.guard, dir)), 0o644)
		vars := map[string]any{"job": "stable", "prom_url": e.prom.URL, "loki_url": "",
			"promote_command": []string{"/bin/sh", "-c", "touch " + dir + "/promoted-$(hostname)-$$"}}
		run := e.c.RunPlaybook(t, nil, "-i", inventory, "threader.guard.promo_with_guards", "-e", mustJSON(t, vars))
		if run.ExitCode == 0 {
			t.Fatalf("promotion passed with web1 locked:\n%s", run.Output)
		}
		for _, tr := range run.Tasks {
			if strings.HasSuffix(tr.Action, "retry_command") || strings.HasSuffix(tr.Action, "slo_check") {
				t.Errorf("%s ran on %s although web1 is locked", tr.Task, tr.Host)
			}
		}
		if matches, _ := filepath.Glob(filepath.Join(dir, "promoted-*")); len(matches) > 0 {
			t.Errorf("promoted: %v", matches)
		}
		// web2's guard, acquired before web1 refused, was given back; web1's was not touched.
		if web1 := state(t, e); !web1.Locked || *web1.Reason != "rollback on web1" || web1.Revision != 1 {
			t.Errorf("web1's guard: %s", web1)
		}
		if web2 := e.state(t, filepath.Join(dir, "web2.guard")); web2.Locked || web2.Revision != 2 {
			t.Errorf("web2's guard should be acquired (revision 1) then given back (revision 2): %s", web2)
		}
	})

	t.Run("rollback failing twice then succeeding: SUCCESS and locked", func(t *testing.T) {
		e := newEnv(t)
		counter := filepath.Join(t.TempDir(), "attempts")
		script := fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; [ $n -ge 3 ] || { echo "attempt $n failed" >&2; exit 7; }`, counter)
		from := time.Now()
		run := e.play(t, "auto_rollback_on_failure", nil, map[string]any{
			"rollback_command": []string{"/bin/sh", "-c", script}, "retry_base_seconds": 0.1, "qos_guard_window": 20,
			"guard_window_reason": "rollback of build 77"})
		if run.ExitCode != 0 {
			t.Fatalf("rollback playbook failed:\n%s", run.Output)
		}
		rb := run.Task(t, "threader.guard.rollback : Run the rollback command")
		if rb.Result["attempts"] != 3.0 || rb.Result["rc"] != 0.0 {
			t.Errorf("rollback: %v", rb.Result)
		}
		if history, _ := rb.Result["history"].([]any); len(history) != 3 {
			t.Errorf("history: %v", rb.Result["history"])
		}
		if msg := run.Task(t, "Report the rollback status").Result["msg"]; msg != "rollback_status: SUCCESS (3 attempts)" {
			t.Errorf("status report: %v", msg)
		}
		st := state(t, e)
		if !st.Locked || st.Reason == nil || *st.Reason != "rollback of build 77" || !st.expiresAfter(20*time.Minute, from) {
			t.Errorf("guard after the rollback: %+v", st)
		}
	})

	t.Run("rollback failing always: FAILED and not locked", func(t *testing.T) {
		e := newEnv(t)
		textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
		run := e.play(t, "auto_rollback_on_failure", []string{"MAX_RETRY_ATTEMPTS=2", "BASE_RETRY_DELAY=0.1"},
			map[string]any{"rollback_command": []string{"/bin/sh", "-c", "echo mirror down >&2; exit 4"},
				"rollback_name": "web-rollback", "threader_guard_metrics_textfile": textfile})
		if run.ExitCode == 0 {
			t.Fatalf("a failed rollback passed:\n%s", run.Output)
		}
		rb := run.Task(t, "threader.guard.rollback : Run the rollback command")
		if rb.Status != "failed" || rb.Result["attempts"] != 2.0 {
			t.Errorf("rollback (MAX_RETRY_ATTEMPTS=2): %v", rb.Result)
		}
		if msg := run.Task(t, "Report the rollback status").Result["msg"]; msg != "rollback_status: FAILED (2 attempts)" {
			t.Errorf("status report: %v", msg)
		}
		msg, _ := run.Task(t, "Fail when the rollback failed").Result["msg"].(string)
		if !strings.Contains(msg, "Rollback FAILED: command failed after 2 attempts (last rc=4)") || !strings.Contains(msg, "not locked") {
			t.Errorf("failure message: %q", msg)
		}
		if st := state(t, e); st.Locked {
			t.Errorf("locked after a failed rollback: %+v", st)
		}
		// The outcome the ThreaderGuardRollbackFailed alert watches.
		metrics, err := os.ReadFile(textfile)
		if err != nil || !regexp.MustCompile(`(?m)^threader_guard_rollback_last_outcome\{[^}]*name="web-rollback"[^}]*outcome="failure"[^}]*\} 1$`).Match(metrics) {
			t.Errorf("rollback metrics (%v):\n%s", err, metrics)
		}
	})

	t.Run("role variables are validated before anything runs", func(t *testing.T) {
		e := newEnv(t)
		marker := filepath.Join(t.TempDir(), "rolled-back")
		run := e.play(t, "auto_rollback_on_failure", nil, map[string]any{
			"rollback_command": []string{"touch", marker}, "retry_attempts": "several"})
		if run.ExitCode == 0 {
			t.Fatalf("bad retry_attempts accepted:\n%s", run.Output)
		}
		if !strings.Contains(run.Output, "retry_attempts") || !strings.Contains(run.Output, "Validating arguments against arg spec") {
			t.Errorf("no validation error naming retry_attempts:\n%s", run.Output)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Errorf("the rollback ran (stat: %v)", err)
		}
	})

	guardConcurrencySubtests(t, newEnv)

	t.Run("ansible-doc documents every role", func(t *testing.T) {
		t.Parallel()
		for role, wants := range map[string][]string{
			"guard_window": {"ENTRY POINT: release", "ENTRY POINT: acquire", "ENTRY POINT: hold", "ENTRY POINT: failed",
				"guard_window_if_revision", "guard_window_hold_minutes", "threader_guard_run_id"},
			"slo_gate": {"slo_consecutive"}, "rollback": {"rollback_command"},
			"promotion": {"promote_tasks_file", "holds the guard-window"}, "cli_tools": {"cli_tools_dest_dir"},
			"guard_watch":     {"guard_watch_consecutive", "ProtectSystem=strict", "systemd-analyze verify"},
			"canary_analysis": {"canary_analysis_metrics", "canary_analysis_fail_on_marginal", "promo_with_guards"},
		} {
			out := c.Doc(t, "-t", "role", "threader.guard."+role)
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("ansible-doc -t role threader.guard.%s lacks %q:\n%s", role, want, out)
				}
			}
		}
	})
}

// state reads the guard-window at path with the qos_guard CLI.
func (e *playbookEnv) state(t *testing.T, path string) guardState {
	t.Helper()
	out, err := exec.Command(e.cli, "--path", path, "--json", "status").Output()
	var st guardState
	if jerr := json.Unmarshal(out, &st); jerr != nil {
		t.Fatalf("qos_guard status: %v %v: %s", err, jerr, out)
	}
	return st
}

// lock locks this test's guard-window with a playbook, as a rollback would.
func (e *playbookEnv) lock(t *testing.T, minutes int, reason string) {
	t.Helper()
	run := e.c.Playbook(t, fmt.Sprintf(`---
- name: lock the guard
  hosts: localhost
  gather_facts: false
  tasks:
    - name: lock
      threader.guard.qos_guard: {state: locked, path: %q, minutes: %d, reason: %q}
`, e.guard, minutes, reason))
	if run.ExitCode != 0 {
		t.Fatalf("lock failed:\n%s", run.Output)
	}
}

// play runs the collection playbook threader.guard.NAME against localhost
// with this test's guard, Prometheus and no Loki, plus vars and env.
func (e *playbookEnv) play(t *testing.T, name string, env []string, vars map[string]any) *testenv.PlaybookRun {
	t.Helper()
	return e.c.RunPlaybook(t, env, "-i", "localhost,", "-c", "local", "threader.guard."+name,
		"-e", "target=localhost", "-e", e.vars(t, vars))
}

// vars is -e JSON: this test's guard and Prometheus, Loki off, then vars.
func (e *playbookEnv) vars(t *testing.T, vars map[string]any) string {
	all := map[string]any{"qos_guard_path": e.guard, "prom_url": e.prom.URL, "loki_url": ""}
	for k, v := range vars {
		all[k] = v
	}
	return mustJSON(t, all)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
