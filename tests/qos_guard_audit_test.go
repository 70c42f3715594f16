package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// auditLines reads the audit log as JSON objects, one a line.
func auditLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// Lock, break-glass (over the lock and over a freeze) and unlock each
// append one line to the audit log; break-glass needs a reason.
func TestQosGuardAuditAndBreakGlassInPlaybook(t *testing.T) {
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "threader.qos.guard")
	audit := filepath.Join(dir, "log", "audit.jsonl")
	run := c.Playbook(t, guardPlay(path, `
    - name: lock
      threader.guard.qos_guard: {state: locked, path: "{{ guard_path }}", minutes: 30, reason: rollback of build 7, owner: ci, audit_log: `+audit+`}
    - name: no reason
      threader.guard.qos_guard: {path: "{{ guard_path }}", fail_when_locked: true, break_glass: true, audit_log: `+audit+`}
      ignore_errors: true
    - name: break glass
      threader.guard.qos_guard: {path: "{{ guard_path }}", fail_when_locked: true, break_glass: true, reason: hotfix INC-42, owner: alice, audit_log: `+audit+`}
    - name: unlock
      threader.guard.qos_guard: {state: unlocked, path: "{{ guard_path }}", reason: SLOs stable, owner: bob, audit_log: `+audit+`}
    - name: break glass unused
      threader.guard.qos_guard: {path: "{{ guard_path }}", fail_when_locked: true, break_glass: true, reason: just in case, audit_log: `+audit+`}
    - name: break glass over a freeze
      threader.guard.qos_guard:
        path: "{{ guard_path }}"
        fail_when_locked: true
        break_glass: true
        reason: hotfix INC-43
        owner: carol
        audit_log: `+audit+`
        freeze_windows: [{name: always, start: "* * * * *", duration: 24h}]
`))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	if nr := run.Task(t, "no reason"); nr.Status != "ignored" || !strings.Contains(nr.Result["msg"].(string), "break-glass needs reason") {
		t.Errorf("break_glass without a reason: %s %v", nr.Status, nr.Result["msg"])
	}
	bg := run.Task(t, "break glass")
	if bg.Status != "ok" || bg.Result["break_glass_used"] != true || bg.Result["locked"] != true ||
		!strings.HasPrefix(fmtAny(bg.Result["msg"]), "break-glass by alice (hotfix INC-42) overrides: QoS guard-window is locked until") ||
		!strings.Contains(fmtAny(bg.Result["warnings"]), "break-glass by alice (hotfix INC-42) overrides: QoS guard-window is locked until") {
		t.Errorf("break glass: %s %v", bg.Status, bg.Result)
	}
	if u := run.Task(t, "break glass unused"); u.Status != "ok" || u.Result["break_glass_used"] != false {
		t.Errorf("break glass while unlocked: %s %v", u.Status, u.Result)
	}
	fz := run.Task(t, "break glass over a freeze")
	if fz.Status != "ok" || fz.Result["break_glass_used"] != true || fz.Result["frozen_by"] != "always" {
		t.Errorf("break glass over a freeze: %s %v", fz.Status, fz.Result)
	}
	lines := auditLines(t, audit)
	var actions []string
	for _, l := range lines {
		actions = append(actions, l["action"].(string))
		if l["guard"] != path || l["host"] == "" || l["time"] == nil {
			t.Errorf("audit line lacks guard, host or time: %v", l)
		}
	}
	if strings.Join(actions, ",") != "lock,break_glass,unlock,break_glass" {
		t.Fatalf("audit actions %v, want lock, break_glass, unlock, break_glass", actions)
	}
	lock, glass, unlock, frozen := lines[0], lines[1], lines[2], lines[3]
	if lock["owner"] != "ci" || lock["reason"] != "rollback of build 7" || lock["before"].(map[string]any)["locked"] != false || lock["after"].(map[string]any)["locked"] != true {
		t.Errorf("lock line: %v", lock)
	}
	over, _ := glass["overridden"].(map[string]any)
	if glass["owner"] != "alice" || glass["reason"] != "hotfix INC-42" || over["lock"] != "rollback of build 7" || over["lock_held"] != true {
		t.Errorf("break-glass line: %v", glass)
	}
	if unlock["owner"] != "bob" || unlock["reason"] != "SLOs stable" || unlock["before"].(map[string]any)["locked"] != true || unlock["after"].(map[string]any)["locked"] != false {
		t.Errorf("unlock line: %v", unlock)
	}
	over, _ = frozen["overridden"].(map[string]any)
	if frozen["owner"] != "carol" || over["lock_held"] != false || fmtAny(over["windows"]) != "[always]" || frozen["before"].(map[string]any)["frozen"] != true {
		t.Errorf("break-glass over a freeze: %v", frozen)
	}
	for p, want := range map[string]os.FileMode{audit: 0o640, filepath.Dir(audit): 0o750} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %04o (%v)", p, info.Mode().Perm(), want, err)
		}
	}
}

// An audit log that cannot be written: a lock still locks (warning), an
// unlock and a break-glass do not happen.
func TestQosGuardUnwritableAuditLog(t *testing.T) {
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "threader.qos.guard")
	notDir := filepath.Join(dir, "plain-file")
	os.WriteFile(notDir, nil, 0o600)
	audit := filepath.Join(notDir, "audit.jsonl") // its directory is a file
	run := c.Playbook(t, guardPlay(path, `
    - name: lock
      threader.guard.qos_guard: {state: locked, path: "{{ guard_path }}", minutes: 30, reason: rollback, audit_log: `+audit+`}
    - name: unlock
      threader.guard.qos_guard: {state: unlocked, path: "{{ guard_path }}", audit_log: `+audit+`}
      ignore_errors: true
    - name: break glass
      threader.guard.qos_guard: {path: "{{ guard_path }}", fail_when_locked: true, break_glass: true, reason: hotfix, audit_log: `+audit+`}
      ignore_errors: true
    - name: still locked
      threader.guard.qos_guard: {path: "{{ guard_path }}"}
`))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	lock := run.Task(t, "lock")
	if lock.Result["changed"] != true || lock.Result["locked"] != true || !strings.Contains(fmtAny(lock.Result["warnings"]), "the guard is locked, but the lock could not be recorded in audit_log") {
		t.Errorf("lock with an unwritable audit log: %s %v", lock.Status, lock.Result)
	}
	if u := run.Task(t, "unlock"); u.Status != "ignored" || !strings.Contains(u.Result["msg"].(string), "not unlocking: the unlock could not be recorded in audit_log") {
		t.Errorf("unlock: %s %v", u.Status, u.Result["msg"])
	}
	if bg := run.Task(t, "break glass"); bg.Status != "ignored" || !strings.HasPrefix(bg.Result["msg"].(string), "break_glass refused: the override could not be recorded in audit_log") {
		t.Errorf("break glass: %s %v", bg.Status, bg.Result["msg"])
	}
	if st := run.Task(t, "still locked"); st.Result["locked"] != true {
		t.Errorf("the guard was unlocked without an audit line: %v", st.Result)
	}
}

func TestQosGuardCLIAuditAndBreakGlass(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	dir := t.TempDir()
	path := filepath.Join(dir, "g")
	audit := filepath.Join(dir, "audit", "audit.jsonl")
	cli := func(env []string, args ...string) (string, int) {
		return testenv.Run(t, env, bin, append([]string{"--path", path, "--audit-log", audit}, args...)...)
	}
	if out, code := cli(nil, "lock", "10", "--reason", "rollback", "--owner", "ci"); code != 0 {
		t.Fatalf("lock: %d %q", code, out)
	}
	if out, code := cli(nil, "status", "--break-glass"); code != 2 || !strings.Contains(out, "break-glass needs --reason") {
		t.Errorf("--break-glass without --reason: %d %q", code, out)
	}
	if out, code := cli(nil, "status", "--break-glass", "--reason", "hotfix INC-9", "--owner", "dave"); code != 0 || !strings.Contains(out, "break-glass by dave (hotfix INC-9) overrides: QoS guard-window is locked") {
		t.Errorf("status --break-glass: %d %q", code, out)
	}
	if _, code := cli(nil, "status"); code != 1 {
		t.Errorf("status after a break-glass exited %d: the guard must stay locked", code)
	}
	if out, code := cli(nil, "unlock", "--audit-log", filepath.Join(dir, "g"+"/x.jsonl")); code != 1 || !strings.Contains(out, "not unlocking") {
		t.Errorf("unlock with an unwritable audit log: %d %q", code, out)
	}
	if out, code := cli([]string{"QOS_GUARD_AUDIT_LOG=/nonexistent-threader/a/b.jsonl"}, "unlock"); code != 0 {
		t.Errorf("unlock (--audit-log wins over the environment): %d %q", code, out)
	}
	var actions []string
	for _, l := range auditLines(t, audit) {
		actions = append(actions, l["action"].(string)+":"+l["owner"].(string))
	}
	if got := strings.Join(actions, ","); !strings.HasPrefix(got, "lock:ci,break_glass:dave,unlock:") || len(actions) != 3 {
		t.Errorf("audit lines %s, want lock, break_glass, unlock", got)
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }

// The etcd backend: the freeze is evaluated beside the store, and
// break-glass, lock and unlock are audited the same; a no_log value
// (etcd_password, pasted into a reason) never reaches the audit log.
func TestQosGuardEtcdFreezeBreakGlassAndAuditMasking(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{})
	user, _ := c.EnableAuth("deployer", "/threader.guard/")
	col := testenv.InstallCollection(t)
	audit := filepath.Join(t.TempDir(), "log", "audit.jsonl")
	run := col.Playbook(t, fmt.Sprintf(`---
- name: fleet guard
  hosts: localhost
  gather_facts: false
  module_defaults:
    threader.guard.qos_guard:
      backend: etcd
      etcd_endpoints: [%s]
      scope: web
      etcd_username: %s
      etcd_password: %s
      etcd_timeout_seconds: 5
      audit_log: %s
  tasks:
    - name: lock
      threader.guard.qos_guard: {state: locked, minutes: 30, reason: "rollback; password was %s"}
    - name: frozen at
      threader.guard.qos_guard:
        at: "2026-12-25T12:00:00Z"
        freeze_windows: [{name: launch, from: "2026-12-24T00:00:00Z", until: "2026-12-27T00:00:00Z"}]
    - name: break glass
      threader.guard.qos_guard:
        fail_when_locked: true
        break_glass: true
        reason: "hotfix, token %s"
        freeze_windows: [{name: always, start: "* * * * *", duration: 24h}]
    - name: unlock
      threader.guard.qos_guard: {state: unlocked, reason: done}
`, strings.Join(c.Endpoints(), ", "), user.Name, user.Password, audit, user.Password, user.Password))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	if fr := run.Task(t, "frozen at").Result; fr["frozen_by"] != "launch" || fr["backend"] != "etcd" || fr["locked"] != false { // the 30-minute lock is long over by then
		t.Errorf("freeze on etcd: %v", fr)
	}
	if bg := run.Task(t, "break glass").Result; bg["break_glass_used"] != true {
		t.Errorf("break glass on etcd: %v", bg)
	}
	data, _ := os.ReadFile(audit)
	if strings.Contains(string(data), user.Password) {
		t.Errorf("the etcd password is in the audit log:\n%s", data)
	}
	lines := auditLines(t, audit)
	if len(lines) != 3 || lines[0]["guard"] != "/threader.guard/web" || lines[1]["action"] != "break_glass" || lines[2]["action"] != "unlock" ||
		!strings.Contains(lines[0]["reason"].(string), "********") {
		t.Errorf("audit lines on etcd: %v", lines)
	}
}
