package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Drop-in migration (issue 17, docs/MIGRATION.md): an inventory written for
// the old scripts and the old pipelines' steps keep working once the
// collection and its CLI tools are installed, with no variable renamed and
// no CI line edited.

// oldGroupVars are the old design's group_vars for the threader group, under
// their old names only (prometheus_url, threader_job, stability_window, the
// script paths), pointed at this test's Prometheus. No new name is set.
const oldGroupVars = `---
prometheus_url: %s
loki_url: ""
threader_job: stable
stability_window: 10m
max_5xx_ratio: 0.01
min_health_ratio: 0.995
qos_guard_window: 15
retry_script: /usr/local/sbin/retry_backoff.sh
qos_guard_script: /usr/local/sbin/qos_guard.sh
slo_interval_seconds: 1
slo_consecutive: 2
slo_timeout_seconds: 30
`

// oldRollbackPlaybook is a user's old rollback.yml: its rollback fails once
// (a transient failure that retry_backoff.sh retries), then it locks the
// guard with the old script, as the old playbooks did.
const oldRollbackPlaybook = `---
- name: Roll back threader
  hosts: threader
  gather_facts: false
  tasks:
    - name: Roll back (fails on the first attempt, like a registry blip)
      ansible.builtin.shell: test -e %[1]s/attempted || { touch %[1]s/attempted; exit 1; }
      changed_when: true
    - name: Lock the guard-window as the old playbook did
      ansible.builtin.command: "{{ qos_guard_script }} lock {{ qos_guard_window }}"
      changed_when: true
`

// The old pipelines' steps, verbatim. The old GitHub Actions `run:` steps and
// the old GitLab CI `script:` lines are the same commands; docs/MIGRATION.md
// shows both pipelines and must contain each line as written here.
const (
	oldGuardStep    = "/usr/local/sbin/qos_guard.sh status"
	oldRollbackStep = "/usr/local/sbin/retry_backoff.sh 3 5 -- ansible-playbook -i inventory.ini rollback.yml"
	oldUnlockStep   = "/usr/local/sbin/qos_guard.sh unlock"
	oldRemoveStep   = "rm -f /run/threader.qos.guard"
	installStep     = "ansible-playbook -i inventory.ini threader.guard.install_cli_tools -e target=threader"
	releaseStep     = "ansible-playbook -i inventory.ini threader.guard.qos_guard_release"
)

// oldSite is a CI runner as the old pipelines had it, in a private mount
// namespace: /usr/local/sbin and /run are this test's directories bound over
// the real ones, so the old absolute paths (/usr/local/sbin/qos_guard.sh,
// /run/threader.qos.guard) are used as written and nothing outside the test
// is touched.
type oldSite struct {
	c       *testenv.Collection
	repo    string // the repository the pipeline runs in: inventory, group_vars, rollback.yml
	sbin    string // bound over /usr/local/sbin
	run     string // bound over /run
	markers string
	unshare string
}

func newOldSite(t *testing.T, c *testenv.Collection, promURL string) *oldSite {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the old pipelines' absolute paths need a private mount namespace over /usr/local/sbin and /run: run as root (make test in CI does)")
	}
	dir := t.TempDir()
	s := &oldSite{c: c, repo: filepath.Join(dir, "repo"), sbin: filepath.Join(dir, "sbin"), run: filepath.Join(dir, "run"),
		markers: filepath.Join(dir, "markers"), unshare: testenv.RequireBinary(t, "unshare", "util-linux")}
	for _, d := range []string{s.sbin, s.run, s.markers} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, s.repo, map[string]string{
		"inventory.ini": "[threader]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
		"rollback.yml":  fmt.Sprintf(oldRollbackPlaybook, s.markers),
	})
	writeFiles(t, filepath.Join(s.repo, "group_vars"), map[string]string{"threader.yml": fmt.Sprintf(oldGroupVars, promURL)})
	return s
}

// step runs one CI line with bash -eo pipefail in the repository, inside a
// private mount namespace that binds this site's directories over
// /usr/local/sbin and /run; the environment is the runner's plus the test
// plumbing (collections path, result log, temp dirs), none of the old or new
// threader settings.
func (s *oldSite) step(t *testing.T, results, line string) (string, int) {
	t.Helper()
	script := `set -e
mount --bind "$1" /usr/local/sbin
mount --bind "$2" /run
cd "$3"
exec bash --noprofile --norc -eo pipefail -c "$4"`
	cmd := exec.Command(s.unshare, "--mount", "--propagation", "private", "bash", "-c", script, "step", s.sbin, s.run, s.repo, line)
	cmd.Env = append(withoutThreaderSettings(os.Environ()), s.c.Env(t, results)...)
	cmd.Env = append(cmd.Env, "HOME="+filepath.Dir(s.repo))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	t.Logf("$ %s\nexit %d\n%s", line, code, out)
	return string(out), code
}

// withoutThreaderSettings drops the old environment variables from the
// test's own environment, so only the inventory can configure the run.
func withoutThreaderSettings(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PROMETHEUS_URL", "LOKI_URL", "THREADER_JOB", "STABILITY_WINDOW", "QOS_GUARD_WINDOW", "QOS_GUARD_PATH",
			"QOS_GUARD_BACKEND", "QOS_GUARD_ETCD_ENDPOINTS", "QOS_GUARD_SCOPE", "MAX_RETRY_ATTEMPTS", "BASE_RETRY_DELAY",
			"MAX_5XX_RATIO", "MIN_HEALTH_RATIO", "MAX_ERROR_LOGS_PER_MIN":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// guardFile reads /run/threader.qos.guard as the old pipelines' runner has it.
func (s *oldSite) guardFile(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.run, "threader.qos.guard"))
	if err != nil {
		t.Fatalf("the guard file at /run/threader.qos.guard: %v", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("guard file %q: %v", data, err)
	}
	return rec
}

// lockedFor reports whether the guard file's lock expires d after a moment
// between from (taken before the step that locked it) and now (see
// expiresAfter: how long the step took does not matter).
func lockedFor(rec map[string]any, d time.Duration, from time.Time) bool {
	s, _ := rec["expires_at"].(string)
	return expiresAfter(s, d, from)
}

// minutesLeft is how long the guard file's lock has left.
func minutesLeft(t *testing.T, rec map[string]any) float64 {
	t.Helper()
	s, _ := rec["expires_at"].(string)
	exp, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("guard file expires_at %v: %v", rec["expires_at"], err)
	}
	return time.Until(exp).Minutes()
}

func resultsOf(t *testing.T, path string) *testenv.PlaybookRun {
	t.Helper()
	run := &testenv.PlaybookRun{}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no task results: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var tr testenv.TaskResult
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("result line %q: %v", line, err)
		}
		run.Tasks = append(run.Tasks, tr)
	}
	return run
}

func TestMigrationOldInventoryAndPipelineSteps(t *testing.T) {
	t.Parallel()
	c := testenv.InstallCollection(t)
	_, prom, _ := sloBackends(t, time.Minute)
	s := newOldSite(t, c, prom.URL)
	results := func() string { return filepath.Join(t.TempDir(), "results.jsonl") }

	// The one new line: install the tools where the old pipelines copied
	// the scripts, from the old inventory (qos_guard_script, retry_script).
	if out, code := s.step(t, results(), installStep); code != 0 {
		t.Fatalf("install_cli_tools: exit %d\n%s", code, out)
	}
	for _, name := range []string{"qos_guard.sh", "retry_backoff.sh", "qos_guard", "retry_command", "slo_check"} {
		if target, err := os.Readlink(filepath.Join(s.sbin, name)); err != nil || target != "threader-guard" {
			t.Errorf("/usr/local/sbin/%s: link to %q, %v; want a link to threader-guard", name, target, err)
		}
	}

	if out, code := s.step(t, results(), oldGuardStep); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("%s before any lock: exit %d, %q; want 0, unlocked", oldGuardStep, code, out)
	}

	// The rollback: retried once after its transient failure, then the old
	// playbook's {{ qos_guard_script }} lock {{ qos_guard_window }} locks the guard.
	from := time.Now()
	out, code := s.step(t, results(), oldRollbackStep)
	if code != 0 || !strings.Contains(out, "retry_command: attempt 1/3 failed (rc=2); retrying in 5s") || !strings.Contains(out, "attempt 2/3 succeeded") {
		t.Fatalf("%s: exit %d; want one retry 5 s after the failed attempt, then success", oldRollbackStep, code)
	}
	if rec := s.guardFile(t); !lockedFor(rec, 15*time.Minute, from) {
		t.Errorf("after {{ qos_guard_script }} lock {{ qos_guard_window }}: expires at %v, want 15 minutes (qos_guard_window) after the step began", rec["expires_at"])
	}
	if out, code := s.step(t, results(), oldGuardStep); code != 1 || !strings.Contains(out, "locked until") {
		t.Fatalf("%s while locked: exit %d, %q; want 1", oldGuardStep, code, out)
	}

	// The release, configured only by the old group_vars: without them it
	// would query http://prometheus.local:9090 for job threader and fail.
	res := results()
	if out, code := s.step(t, res, releaseStep); code != 0 {
		t.Fatalf("qos_guard_release with the old group_vars: exit %d\n%s", code, out)
	}
	gate := resultsOf(t, res).Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job stable")
	args, _ := gate.Result["invocation"].(map[string]any)["module_args"].(map[string]any)
	if args["prometheus_url"] != prom.URL || args["job"] != "stable" || args["window"] != "10m" || gate.Result["passed"] != true {
		t.Errorf("the release's gate ran with %v (passed %v); want the old group_vars' prometheus_url, threader_job and stability_window", args, gate.Result["passed"])
	}
	if out, code := s.step(t, results(), oldGuardStep); code != 0 {
		t.Fatalf("%s after the release: exit %d, %q; want 0", oldGuardStep, code, out)
	}

	// The promotion, with the old group_vars (promote_command is new: the
	// old promotion playbook had no such variable).
	res = results()
	from = time.Now()
	promote := fmt.Sprintf(`ansible-playbook -i inventory.ini threader.guard.promo_with_guards -e '{"promote_command": ["touch", "%s/promoted"]}'`, s.markers)
	if out, code := s.step(t, res, promote); code != 0 {
		t.Fatalf("promo_with_guards with the old group_vars: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(s.markers, "promoted")); err != nil {
		t.Errorf("promote_command did not run: %v", err)
	}
	if rec := s.guardFile(t); !lockedFor(rec, 15*time.Minute, from) {
		t.Errorf("after the promotion: expires at %v, want the stability window of 15 minutes (qos_guard_window) after the step began", rec["expires_at"])
	}
	gate = resultsOf(t, res).Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job stable")
	if args, _ := gate.Result["invocation"].(map[string]any)["module_args"].(map[string]any); args["prometheus_url"] != prom.URL || args["window"] != "10m" {
		t.Errorf("the promotion's gate ran with %v; want the old group_vars", args)
	}

	// The old recovery steps: unlock by hand, or remove the file.
	if _, code := s.step(t, results(), oldGuardStep); code != 1 {
		t.Fatalf("%s after the promotion: exit %d, want 1 (locked for the stability window)", oldGuardStep, code)
	}
	if out, code := s.step(t, results(), oldUnlockStep); code != 0 {
		t.Fatalf("%s: exit %d, %q", oldUnlockStep, code, out)
	}
	if _, code := s.step(t, results(), oldGuardStep); code != 0 {
		t.Fatalf("%s after %s: exit %d, want 0", oldGuardStep, oldUnlockStep, code)
	}
	if rec := s.guardFile(t); rec["expires_at"] != nil && minutesLeft(t, rec) > 0 {
		t.Errorf("after unlock the file is a released record, got %v", rec)
	}
	if _, code := s.step(t, results(), "/usr/local/sbin/qos_guard.sh lock 5 && "+oldRemoveStep+" && "+oldGuardStep); code != 0 {
		t.Errorf("lock, %s, status: exit %d, want 0 (no file is unlocked)", oldRemoveStep, code)
	}
}

// The migration guide shows the old steps the test runs, as written.
func TestMigrationGuideHasTheOldSteps(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "MIGRATION.md"))
	if err != nil {
		t.Fatal(err)
	}
	guide := string(data)
	for _, want := range []string{oldGuardStep, "run: " + oldGuardStep, "- " + oldGuardStep, oldRollbackStep, oldUnlockStep, oldRemoveStep,
		"prometheus_url", "threader_job", "stability_window", "retry_script", "qos_guard_script", "cli_tools_legacy_names",
		"MAX_RETRY_ATTEMPTS", "BASE_RETRY_DELAY", "QOS_GUARD_WINDOW", "{{ qos_guard_script }} lock {{ qos_guard_window }}"} {
		if !strings.Contains(guide, want) {
			t.Errorf("docs/MIGRATION.md lacks %q", want)
		}
	}
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	firstScreen := strings.Join(strings.SplitN(string(readme), "\n", 25)[:24], "\n")
	if !strings.Contains(firstScreen, "(docs/MIGRATION.md)") {
		t.Error("README.md does not link docs/MIGRATION.md in its first 24 lines")
	}
}

// Precedence of the renamed variables: today's name, then the old
// inventory name, then the old environment variable, then the default; and
// one warning naming both names when a new and an old name disagree.
func TestMigrationVariablePrecedence(t *testing.T) {
	t.Parallel()
	c := testenv.InstallCollection(t)
	_, prom, _ := sloBackends(t, time.Minute)
	const dead = "http://127.0.0.1:1"
	playbook := filepath.Join(t.TempDir(), "gate.yml")
	os.WriteFile(playbook, []byte("---\n- name: gate\n  hosts: threader\n  gather_facts: false\n  roles:\n    - role: threader.guard.slo_gate\n"), 0o644)

	for _, tc := range []struct {
		name      string
		groupVars string
		env       []string
		wantURL   string
		wantJob   string
		window    string
		warns     []string
		hidden    string
	}{
		{name: "old names beat the old environment variables",
			groupVars: fmt.Sprintf("prometheus_url: %s\nthreader_job: stable\nstability_window: 10m\n", prom.URL),
			env:       []string{"PROMETHEUS_URL=" + dead, "THREADER_JOB=unstable", "STABILITY_WINDOW=5m"},
			wantURL:   prom.URL, wantJob: "stable", window: "10m"},
		{name: "new names beat the old names, with one warning each",
			groupVars: fmt.Sprintf("prom_url: %s\nprometheus_url: %s\njob: stable\nthreader_job: unstable\nwindow: 10m\nstability_window: 20m\n", prom.URL, dead),
			env:       []string{"PROMETHEUS_URL=" + dead},
			wantURL:   prom.URL, wantJob: "stable", window: "10m",
			warns: []string{
				"[WARNING] prom_url and the old prometheus_url are both set and differ: prom_url=" + prom.URL + " is used, prometheus_url=" + dead + " is ignored.",
				"[WARNING] job and the old threader_job are both set and differ: job=stable is used, threader_job=unstable is ignored.",
				"[WARNING] window and the old stability_window are both set and differ: window=10m is used, stability_window=20m is ignored."}},
		{name: "credentials in a URL are not shown in the warning",
			groupVars: fmt.Sprintf("prom_url: %s\nprometheus_url: http://deployer:hunter2@127.0.0.1:1\njob: stable\n", prom.URL),
			wantURL:   prom.URL, wantJob: "stable", window: "15m",
			warns:  []string{"[WARNING] prom_url and the old prometheus_url are both set and differ: prom_url=" + prom.URL + " is used, prometheus_url=http://***@127.0.0.1:1 is ignored."},
			hidden: "hunter2"},
		{name: "new and old names that agree: no warning",
			groupVars: fmt.Sprintf("prom_url: %s\nprometheus_url: %s\njob: stable\nthreader_job: stable\n", prom.URL, prom.URL),
			wantURL:   prom.URL, wantJob: "stable", window: "15m"},
		{name: "an empty old name counts as unset: the environment variable is read",
			groupVars: "prometheus_url: \"\"\nthreader_job: \"\"\n",
			env:       []string{"PROMETHEUS_URL=" + prom.URL, "THREADER_JOB=stable"},
			wantURL:   prom.URL, wantJob: "stable", window: "15m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := t.TempDir()
			writeFiles(t, inv, map[string]string{"hosts.ini": "[threader]\nlocalhost ansible_connection=local\n"})
			writeFiles(t, filepath.Join(inv, "group_vars"), map[string]string{"threader.yml": "---\nloki_url: \"\"\n" + tc.groupVars})
			env := append([]string{"STABILITY_WINDOW=", "THREADER_JOB=", "PROMETHEUS_URL="}, tc.env...)
			run := c.RunPlaybook(t, env, "-i", filepath.Join(inv, "hosts.ini"), playbook)
			if run.ExitCode != 0 {
				t.Fatalf("exit %d\n%s", run.ExitCode, run.Output)
			}
			gate := run.Task(t, "threader.guard.slo_gate : Evaluate the SLOs of job "+tc.wantJob)
			args, _ := gate.Result["invocation"].(map[string]any)["module_args"].(map[string]any)
			if args["prometheus_url"] != tc.wantURL || args["job"] != tc.wantJob || args["window"] != tc.window {
				t.Errorf("slo_check ran with prometheus_url %v, job %v, window %v; want %s, %s, %s", args["prometheus_url"], args["job"], args["window"], tc.wantURL, tc.wantJob, tc.window)
			}
			if got := strings.Count(run.Output, "[WARNING] "); got != len(tc.warns) {
				t.Errorf("%d warnings, want %d:\n%s", got, len(tc.warns), run.Output)
			}
			if tc.hidden != "" && strings.Contains(run.Output, tc.hidden) {
				t.Errorf("the output shows %q:\n%s", tc.hidden, run.Output)
			}
			for _, w := range tc.warns {
				if strings.Count(run.Output, w) != 1 {
					t.Errorf("want the warning once: %q\n%s", w, run.Output)
				}
			}
		})
	}
}

// cli_tools puts the old names where the old inventory says the scripts
// live, refuses a name the program would not answer to, and leaves them out
// with cli_tools_legacy_names=false; the links behave as the old scripts:
// arguments, exit codes and environment defaults.
func TestMigrationCLIToolsLegacyNames(t *testing.T) {
	t.Parallel()
	c := testenv.InstallCollection(t)
	install := func(t *testing.T, vars map[string]any) *testenv.PlaybookRun {
		t.Helper()
		return c.RunPlaybook(t, nil, "-i", "localhost,", "-c", "local", "threader.guard.install_cli_tools",
			"-e", "target=localhost", "-e", mustJSON(t, vars))
	}
	tool := func(t *testing.T, env []string, path string, args ...string) (string, int) {
		t.Helper()
		return testenv.Run(t, append([]string{"QOS_GUARD_PATH=" + filepath.Join(t.TempDir(), "guard")}, env...), path, args...)
	}

	t.Run("old script paths outside the tools directory, with the old environment defaults", func(t *testing.T) {
		t.Parallel()
		sbin, legacy := t.TempDir(), t.TempDir()
		qos, retry := filepath.Join(legacy, "qos_guard.sh"), filepath.Join(legacy, "retry_backoff.sh")
		os.WriteFile(qos, []byte("#!/bin/sh\necho the old script\n"), 0o755) // replaced by the link
		run := install(t, map[string]any{"cli_tools_dest_dir": sbin, "qos_guard_script": qos, "retry_script": retry})
		if run.ExitCode != 0 {
			t.Fatalf("install_cli_tools: exit %d\n%s", run.ExitCode, run.Output)
		}
		for _, p := range []string{qos, retry} {
			if target, err := os.Readlink(p); err != nil || target != filepath.Join(sbin, "threader-guard") {
				t.Errorf("%s: link to %q, %v; want %s/threader-guard", p, target, err, sbin)
			}
		}
		guard := filepath.Join(t.TempDir(), "guard")
		if out, code := testenv.Run(t, []string{"QOS_GUARD_PATH=" + guard, "QOS_GUARD_WINDOW=7"}, qos, "lock"); code != 0 || !strings.Contains(out, "(7m left)") {
			t.Errorf("QOS_GUARD_WINDOW=7 qos_guard.sh lock: exit %d, %q; want 7 minutes", code, out)
		}
		if out, code := testenv.Run(t, []string{"QOS_GUARD_PATH=" + guard}, qos, "status"); code != 1 {
			t.Errorf("qos_guard.sh status while locked: exit %d, %q; want 1", code, out)
		}
		out, code := tool(t, []string{"MAX_RETRY_ATTEMPTS=2", "BASE_RETRY_DELAY=0.01"}, retry, "--", "sh", "-c", "exit 4")
		if code != 1 || !strings.Contains(out, "attempt 1/2 failed (rc=4); retrying in 0.01s") || !strings.Contains(out, "attempt 2/2 failed (rc=4)") {
			t.Errorf("MAX_RETRY_ATTEMPTS=2 BASE_RETRY_DELAY=0.01 retry_backoff.sh -- false: exit %d, %q", code, out)
		}
		for _, bad := range [][]string{{qos, "lock", "abc"}, {qos, "frobnicate"}, {retry, "0", "5", "--", "true"}, {retry, "3", "5"}} {
			if out, code := tool(t, nil, bad[0], bad[1:]...); code != 2 || strings.Contains(out, "goroutine") {
				t.Errorf("%q: exit %d, %q; want a usage error, exit 2", bad, code, out)
			}
		}
		if out, code := tool(t, []string{"QOS_GUARD_WINDOW=soon"}, qos, "lock"); code != 2 || !strings.Contains(out, "QOS_GUARD_WINDOW") {
			t.Errorf("QOS_GUARD_WINDOW=soon qos_guard.sh lock: exit %d, %q; want 2 naming QOS_GUARD_WINDOW", code, out)
		}
	})

	t.Run("a script name the program does not answer to is refused, naming the variable", func(t *testing.T) {
		t.Parallel()
		sbin := t.TempDir()
		wrong := filepath.Join(t.TempDir(), "qos_guard")
		run := install(t, map[string]any{"cli_tools_dest_dir": sbin, "qos_guard_script": wrong})
		if run.ExitCode == 0 || !strings.Contains(run.Output, "qos_guard_script is \\\""+wrong+"\\\"") || !strings.Contains(run.Output, "whose file name is qos_guard.sh") {
			t.Errorf("install with qos_guard_script=%s: exit %d\n%s", wrong, run.ExitCode, run.Output)
		}
		if _, err := os.Lstat(wrong); !os.IsNotExist(err) {
			t.Errorf("something was made at %s: %v", wrong, err)
		}
	})

	t.Run("cli_tools_legacy_names=false installs only the new names", func(t *testing.T) {
		t.Parallel()
		sbin := t.TempDir()
		if run := install(t, map[string]any{"cli_tools_dest_dir": sbin, "cli_tools_legacy_names": false}); run.ExitCode != 0 {
			t.Fatalf("install: exit %d\n%s", run.ExitCode, run.Output)
		}
		for _, name := range []string{"qos_guard.sh", "retry_backoff.sh"} {
			if _, err := os.Lstat(filepath.Join(sbin, name)); !os.IsNotExist(err) {
				t.Errorf("%s installed with cli_tools_legacy_names=false: %v", name, err)
			}
		}
		if _, err := os.Lstat(filepath.Join(sbin, "qos_guard")); err != nil {
			t.Errorf("qos_guard not installed: %v", err)
		}
	})
}
