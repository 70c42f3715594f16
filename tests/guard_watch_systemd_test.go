package tests

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Issue 15: the guard_watch role's service under a real systemd.
//
// The role runs through ansible-playbook (the built collection) inside the
// namespace of a real systemd (testenv.StartSystemd), with the role's
// defaults where the namespace keeps them private: the unit and its enable
// symlink in /etc/systemd/system (a tmpfs there), the guard at
// /run/threader.qos.guard (a tmpfs), the program in /usr/local/sbin and the
// audit log in /var/log/threader-guard (test directories bound over
// /usr/local/sbin and /var/log). Only the environment file moves to /run:
// /etc is the host's. Nothing is left on the host; the file backend runs as
// root, so no user is created.
//
// This is a Go test, not a molecule scenario: TestMoleculeScenarios runs
// every roles/*/molecule/* scenario on the host (and the ansible-core matrix
// runs them too), where no systemd runs; and the namespace is owned by the
// test, which kills it in t.Cleanup.
func TestGuardWatchRoleUnderSystemd(t *testing.T) {
	sbin, varLog := t.TempDir(), t.TempDir()
	sd := testenv.StartSystemd(t, testenv.SystemdOptions{Bind: map[string]string{"/usr/local/sbin": sbin, "/var/log": varLog}})
	c := testenv.InstallCollection(t)
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series})
	listen := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	const (
		unit    = "threader-guard-watch"
		guard   = "/run/threader.qos.guard"
		program = "/usr/local/sbin/qos_guard"
		// A secret with everything an EnvironmentFile could mangle.
		secret = `not-a-real-secret "quoted" \back $HOME ${PATH} %h 'single'`
	)
	// No journald in the namespace: the service's output goes to a file (a
	// drop-in of the test's, not the role's).
	serviceLog := filepath.Join(t.TempDir(), "watch.log")
	writeFiles(t, filepath.Join(sd.UnitDir, unit+".service.d"), map[string]string{
		"50-test-log.conf": "[Service]\nStandardOutput=append:" + serviceLog + "\nStandardError=append:" + serviceLog + "\n",
	})
	secretJSON, _ := json.Marshal(secret)
	playbook := filepath.Join(t.TempDir(), "watch.yml")
	writeFiles(t, filepath.Dir(playbook), map[string]string{"watch.yml": `---
- name: Install the guard watcher
  hosts: localhost
  gather_facts: false
  roles:
    - role: threader.guard.guard_watch
      vars:
        prom_url: ` + prom.URL + `
        job: stable
        window: 2m
        loki_url: ""
        guard_watch_interval: 1s
        guard_watch_consecutive: 2
        guard_watch_listen: "` + listen + `"
        guard_watch_environment_file: /run/threader-guard/watch.env
        guard_watch_environment:
          THREADER_GUARD_TEST_SECRET: ` + string(secretJSON) + `
`})
	args := []string{"-i", "localhost,", "-c", "local", playbook}
	fast := []string{"ANSIBLE_PIPELINING=1"} // fewer files per task: the role runs twice
	run := c.RunPlaybookWith(t, sd.Command, fast, args...)
	if run.ExitCode != 0 {
		t.Fatalf("the role failed under systemd (exit %d):\n%s\nsystemd:\n%s", run.ExitCode, run.Output, sd.Log())
	}
	if strings.Contains(run.Output, "not-a-real-secret") {
		t.Errorf("the secret is in ansible-playbook's output:\n%s", run.Output)
	}
	// Idempotent under a real systemd: the second run changes nothing and
	// restarts nothing.
	again := c.RunPlaybookWith(t, sd.Command, fast, args...)
	if again.ExitCode != 0 {
		t.Fatalf("second run (exit %d):\n%s", again.ExitCode, again.Output)
	}
	for _, tr := range again.Tasks {
		if tr.Result["changed"] == true {
			t.Errorf("second run changed %q: %v", tr.Task, tr.Result)
		}
	}

	if got := sd.Systemctl(t, []int{0, 1}, "is-enabled", unit); got != "enabled" {
		t.Errorf("is-enabled: %q", got)
	}
	if got := sd.Systemctl(t, []int{0, 3}, "is-active", unit); got != "active" {
		t.Fatalf("is-active: %q\nservice log:\n%s\nsystemd:\n%s", got, readFile(serviceLog), sd.Log())
	}
	show := showProperties(t, sd, unit, "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
		"User", "CapabilityBoundingSet", "RestrictNamespaces", "MemoryDenyWriteExecute", "ReadWritePaths", "MainPID")
	for prop, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "User": "root", "CapabilityBoundingSet": "", "RestrictNamespaces": "yes",
		"MemoryDenyWriteExecute": "yes", "ReadWritePaths": "/run /var/log/threader-guard"} {
		if show[prop] != want {
			t.Errorf("systemctl show %s=%q, want %q", prop, show[prop], want)
		}
	}
	// In effect in the running process, not just in the unit: no new
	// privileges, no capabilities, a seccomp filter, / read-only.
	pid := show["MainPID"]
	status, _ := sd.Run(t, "cat", "/proc/"+pid+"/status")
	for _, want := range []string{`NoNewPrivs:\s+1`, `CapEff:\s+0+\n`, `CapBnd:\s+0+\n`, `Seccomp:\s+2`} {
		if !regexp.MustCompile(want).MatchString(status) {
			t.Errorf("the watcher's /proc/PID/status does not match %s:\n%s", want, status)
		}
	}
	mounts, _ := sd.Run(t, "cat", "/proc/"+pid+"/mountinfo")
	if !regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ / \S*\bro\b`).MatchString(mounts) {
		t.Errorf("/ is not read-only for the watcher:\n%s", mounts)
	}
	// The EnvironmentFile hands the secret over verbatim.
	environ, _ := sd.Run(t, "cat", "/proc/"+pid+"/environ")
	if !strings.Contains(environ, "\x00THREADER_GUARD_TEST_SECRET="+secret+"\x00") && !strings.HasPrefix(environ, "THREADER_GUARD_TEST_SECRET="+secret+"\x00") {
		t.Errorf("the service's THREADER_GUARD_TEST_SECRET is not %q:\n%q", secret, environ)
	}

	// A deployment locks the guard; the watcher releases it once the gate
	// passed twice in a row.
	if out, code := sd.Run(t, program, "--path", guard, "--no-syslog", "lock", "10"); code != 0 {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
	released := waitGuard(t, sd, program, guard, 90*time.Second, func(st map[string]any) bool { return st["locked"] == false })
	if owner, _ := released["owner"].(string); !strings.HasPrefix(owner, "watcher@") {
		t.Errorf("released by %v, want watcher@HOST", released["owner"])
	}
	if log := readFile(serviceLog); !strings.Contains(log, "released the guard") {
		t.Errorf("the service log has no release:\n%s", log)
	}
	if audit := readFile(filepath.Join(varLog, "threader-guard", "audit.jsonl")); !regexp.MustCompile(`"action":"unlock","guard":"` + guard + `","owner":"watcher@`).MatchString(audit) {
		t.Errorf("the release is not in the default audit log:\n%s", audit)
	}
	if metrics := httpGet(t, "http://"+listen+"/metrics"); !strings.Contains(metrics, `threader_guard_watch_releases_total{result="released"} 1`) {
		t.Errorf("/metrics on %s:\n%s", listen, metrics)
	}

	// systemctl reload is SIGHUP: the same process, still active.
	sd.Systemctl(t, nil, "reload", unit)
	if after := showProperties(t, sd, unit, "MainPID", "ActiveState"); after["MainPID"] != pid || after["ActiveState"] != "active" {
		t.Errorf("after reload: %v (MainPID was %s)\n%s", after, pid, readFile(serviceLog))
	}
	// systemctl stop is SIGTERM: exit 0, inactive, not failed.
	sd.Systemctl(t, nil, "stop", unit)
	stopped := showProperties(t, sd, unit, "ActiveState", "Result", "ExecMainStatus", "ExecMainCode")
	if stopped["ActiveState"] != "inactive" || stopped["Result"] != "success" || stopped["ExecMainStatus"] != "0" {
		t.Errorf("after stop: %v\nservice log:\n%s\nsystemd:\n%s", stopped, readFile(serviceLog), sd.Log())
	}
}

// showProperties reads a unit's properties with systemctl show.
func showProperties(t *testing.T, sd *testenv.Systemd, unit string, props ...string) map[string]string {
	t.Helper()
	out := sd.Systemctl(t, nil, "show", "-p", strings.Join(props, ","), unit)
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			got[name] = value
		}
	}
	return got
}

// waitGuard polls the guard's status (with the program the role installed,
// inside the namespace) until done accepts it, or fails after limit.
func waitGuard(t *testing.T, sd *testenv.Systemd, program, guard string, limit time.Duration, done func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	var st map[string]any
	for time.Now().Before(deadline) {
		out, _ := sd.Run(t, program, "--path", guard, "--json", "status")
		st = nil
		if i := strings.IndexByte(out, '{'); i >= 0 && json.Unmarshal([]byte(out[i:]), &st) == nil && done(st) {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("guard not as expected after %s: %v\nsystemd:\n%s", limit, st, sd.Log())
	return nil
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// A name in guard_watch_environment that is not an environment variable
// name (it would add lines to the EnvironmentFile) is refused, naming the
// option, before anything is installed.
func TestGuardWatchRoleRefusesBadEnvironmentNames(t *testing.T) {
	t.Parallel()
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	run := c.Playbook(t, `---
- name: Install the guard watcher with a bad environment name
  hosts: localhost
  gather_facts: false
  roles:
    - role: threader.guard.guard_watch
      vars:
        guard_watch_manage_service: false
        guard_watch_program: `+dir+`/sbin/qos_guard
        guard_watch_unit_dir: `+dir+`
        guard_watch_audit_log: `+dir+`/audit/audit.jsonl
        guard_watch_environment_file: `+dir+`/watch.env
        guard_watch_environment:
          GOOD_NAME: fine
          "EVIL=1\nLD_PRELOAD": x
`)
	if run.ExitCode == 0 {
		t.Fatalf("a bad environment name passed:\n%s", run.Output)
	}
	if !strings.Contains(run.Output, `guard_watch_environment: EVIL=1\nLD_PRELOAD is not an environment variable name`) {
		t.Errorf("the failure does not name the option and the bad name:\n%s", run.Output)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("installed something before refusing: %v", entries)
	}
}
