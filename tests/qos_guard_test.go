package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

func guardPlay(path string, tasks string) string {
	return fmt.Sprintf(`---
- name: qos_guard test
  hosts: localhost
  gather_facts: false
  vars:
    guard_path: %s
  tasks:
%s`, path, tasks)
}

func TestQosGuardModuleLifecycle(t *testing.T) {
	c := testenv.InstallCollection(t)
	path := filepath.Join(t.TempDir(), "threader.qos.guard")
	run := c.Playbook(t, guardPlay(path, `
    - name: lock
      threader.guard.qos_guard: {state: locked, path: "{{ guard_path }}", minutes: 15, reason: rollback of build 1234, owner: ci}
    - name: relock
      threader.guard.qos_guard: {state: locked, path: "{{ guard_path }}", minutes: "15", reason: rollback of build 1234}
    - name: status
      threader.guard.qos_guard: {path: "{{ guard_path }}"}
    - name: refuse
      threader.guard.qos_guard: {state: status, path: "{{ guard_path }}", fail_when_locked: "yes"}
      ignore_errors: true
    - name: unlock
      threader.guard.qos_guard: {state: unlocked, path: "{{ guard_path }}"}
    - name: unlock again
      threader.guard.qos_guard: {state: unlocked, path: "{{ guard_path }}"}
    - name: status after unlock
      threader.guard.qos_guard: {state: status, path: "{{ guard_path }}", fail_when_locked: true}
`))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	lock := run.Task(t, "lock")
	if lock.Status != "ok" || lock.Result["changed"] != true || lock.Result["locked"] != true || lock.Result["owner"] != "ci" {
		t.Errorf("lock: %+v", lock)
	}
	if rs, _ := lock.Result["remaining_seconds"].(float64); rs < 890 || rs > 900 {
		t.Errorf("lock remaining_seconds = %v, want about 900", lock.Result["remaining_seconds"])
	}
	if relock := run.Task(t, "relock"); relock.Result["changed"] != false || relock.Result["locked"] != true {
		t.Errorf("relock must not change: %+v", relock.Result)
	}
	if st := run.Task(t, "status"); st.Result["changed"] != false || st.Result["reason"] != "rollback of build 1234" || st.Result["expires_at"] != lock.Result["expires_at"] {
		t.Errorf("status: %+v", st.Result)
	}
	refuse := run.Task(t, "refuse")
	msg, _ := refuse.Result["msg"].(string)
	if refuse.Status != "ignored" || !strings.HasPrefix(msg, "QoS guard-window is locked until ") || !strings.HasSuffix(msg, "left): rollback of build 1234") {
		t.Errorf("fail_when_locked: status %s msg %q", refuse.Status, msg)
	}
	if u := run.Task(t, "unlock"); u.Result["changed"] != true || u.Result["locked"] != false || u.Result["expires_at"] != nil {
		t.Errorf("unlock: %+v", u.Result)
	}
	if u := run.Task(t, "unlock again"); u.Result["changed"] != false {
		t.Errorf("second unlock changed: %+v", u.Result)
	}
	if st := run.Task(t, "status after unlock"); st.Status != "ok" || st.Result["remaining_seconds"] != 0.0 {
		t.Errorf("status after unlock: %+v", st)
	}
	if !strings.Contains(run.Output, "changed=2") {
		t.Errorf("recap should count 2 changes:\n%s", run.Output)
	}
}

func TestQosGuardCheckModeAndDiff(t *testing.T) {
	c := testenv.InstallCollection(t)
	path := filepath.Join(t.TempDir(), "threader.qos.guard")
	run := c.Playbook(t, guardPlay(path, `
    - name: would lock
      threader.guard.qos_guard: {state: locked, path: "{{ guard_path }}", minutes: 5, reason: promotion}
`), "--check", "--diff")
	if run.ExitCode != 0 {
		t.Fatalf("check-mode play failed:\n%s", run.Output)
	}
	tr := run.Task(t, "would lock")
	if tr.Result["changed"] != true || tr.Result["locked"] != true {
		t.Errorf("check mode should predict the change: %+v", tr.Result)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("check mode wrote the lock file (stat: %v)", err)
	}
	diff, _ := tr.Result["diff"].(map[string]any)
	before, _ := diff["before"].(map[string]any)
	after, _ := diff["after"].(map[string]any)
	if before["locked"] != false || after["locked"] != true || after["reason"] != "promotion" {
		t.Errorf("diff = %v", tr.Result["diff"])
	}
	if !strings.Contains(run.Output, `-    "locked": false,`) || !strings.Contains(run.Output, `+    "locked": true,`) {
		t.Errorf("--diff output should show the lock state change:\n%s", run.Output)
	}
}

func TestQosGuardBadInput(t *testing.T) {
	c := testenv.InstallCollection(t)
	cases := []struct{ args, want string }{
		{`{state: locked, path: /tmp/x.guard, minutes: -5}`, "value of minutes must be greater than 0, got: -5"},
		{`{state: locked, path: /tmp/x.guard, minutes: soon}`, "argument 'minutes' is of type <class 'str'> and we were unable to convert to int"},
		{`{state: locked, path: /tmp/x.guard, minuets: 5}`, "Unsupported parameters for (threader.guard.qos_guard) module: minuets. Supported parameters include: fail_when_locked, force, metrics_textfile, minutes, name, owner, path, pushgateway_url, reason, state, wait_seconds."},
		{`{state: locked, path: relative/guard}`, "value of path must be an absolute path, got: relative/guard"},
		{`{state: open, path: /tmp/x.guard}`, "value of state must be one of: locked, unlocked, status, got: open"},
		{`{state: status, path: /tmp/x.guard, fail_when_locked: maybe}`, "The value 'maybe' is not a valid boolean."},
	}
	var tasks strings.Builder
	for i, tc := range cases {
		fmt.Fprintf(&tasks, "    - name: case %d\n      threader.guard.qos_guard: %s\n      ignore_errors: true\n", i, tc.args)
	}
	run := c.Playbook(t, guardPlay("/unused", tasks.String()))
	for i, tc := range cases {
		tr := run.Task(t, fmt.Sprintf("case %d", i))
		msg, _ := tr.Result["msg"].(string)
		// Ansible passes the FQCN as _ansible_module_name; either spelling names the module.
		msg = strings.Replace(msg, "(qos_guard)", "(threader.guard.qos_guard)", 1)
		if tr.Status != "ignored" || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: status %s, msg %q; want failure containing %q", tc.args, tr.Status, msg, tc.want)
		}
		if strings.Contains(fmt.Sprint(tr.Result), "goroutine") {
			t.Errorf("%s: stack trace in result", tc.args)
		}
	}
}

func TestQosGuardLegacyAndCorruptFilesInPlaybook(t *testing.T) {
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	legacy := filepath.Join(dir, "legacy.guard")
	corrupt := filepath.Join(dir, "corrupt.guard")
	os.WriteFile(legacy, []byte(fmt.Sprint(time.Now().Add(10*time.Minute).Unix())), 0o644)
	os.WriteFile(corrupt, []byte("garbage"), 0o644)
	run := c.Playbook(t, guardPlay(dir, `
    - name: legacy
      threader.guard.qos_guard: {path: "{{ guard_path }}/legacy.guard"}
    - name: corrupt
      threader.guard.qos_guard: {path: "{{ guard_path }}/corrupt.guard"}
    - name: clear corrupt
      threader.guard.qos_guard: {state: unlocked, path: "{{ guard_path }}/corrupt.guard"}
`))
	if run.ExitCode != 0 {
		t.Fatalf("play failed:\n%s", run.Output)
	}
	if l := run.Task(t, "legacy"); l.Result["locked"] != true || l.Result["format"] != "epoch" {
		t.Errorf("legacy: %+v", l.Result)
	}
	cr := run.Task(t, "corrupt")
	warnings := fmt.Sprint(cr.Result["warnings"])
	if cr.Result["locked"] != true || !strings.Contains(warnings, corrupt) || !strings.Contains(warnings, "state=unlocked") {
		t.Errorf("corrupt: %+v", cr.Result)
	}
	if cl := run.Task(t, "clear corrupt"); cl.Result["changed"] != true {
		t.Errorf("clear corrupt: %+v", cl.Result)
	}
}

func TestQosGuardDocs(t *testing.T) {
	c := testenv.InstallCollection(t)
	doc := c.Doc(t, "threader.guard.qos_guard")
	for _, want := range []string{"Locks, unlocks or reports the QoS guard-window", "fail_when_locked", "wait_seconds", "EXAMPLES", "RETURN VALUES", "remaining_seconds"} {
		if !strings.Contains(doc, want) {
			t.Errorf("ansible-doc output lacks %q", want)
		}
	}
}

func TestQosGuardCLIExitCodes(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	path := filepath.Join(t.TempDir(), "g")
	cli := func(env []string, args ...string) (string, int) {
		return testenv.Run(t, env, bin, append([]string{"--path", path}, args...)...)
	}
	if out, code := cli(nil, "status"); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("status unlocked: %d %q", code, out)
	}
	if out, code := cli([]string{"QOS_GUARD_WINDOW=7"}, "lock", "--reason", "rollback"); code != 0 || !strings.Contains(out, "(7m left): rollback") {
		t.Fatalf("lock with QOS_GUARD_WINDOW: %d %q", code, out)
	}
	if _, code := cli(nil, "status"); code != 1 {
		t.Fatalf("status while locked exited %d, want 1", code)
	}
	out, code := cli(nil, "status", "--json")
	var st map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &st) != nil || st["locked"] != true || st["reason"] != "rollback" {
		t.Fatalf("status --json: %d %q", code, out)
	}
	for _, bad := range [][]string{{"lock", "-3"}, {"lock", "ten"}, {"frobnicate"}, {}, {"--bogus", "status"}} {
		if out, code := cli(nil, bad...); code != 2 {
			t.Errorf("%v exited %d, want usage error 2: %q", bad, code, out)
		}
	}
	if _, code := cli(nil, "unlock"); code != 0 {
		t.Fatalf("unlock exited %d", code)
	}
	if _, code := cli(nil, "status"); code != 0 {
		t.Fatalf("status after unlock exited %d", code)
	}
	os.Symlink("/etc/passwd", path)
	if out, code := cli(nil, "lock", "5"); code != 1 || !strings.Contains(out, "symlink") {
		t.Fatalf("lock through a symlink: %d %q", code, out)
	}
}

// Many CLI processes lock one file at once: flock must serialise them across
// processes, leaving one valid file with the latest expiry.
func TestQosGuardCLIConcurrentLockers(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	path := filepath.Join(t.TempDir(), "g")
	var wg sync.WaitGroup
	errs := make(chan string, 30)
	// Minutes 2 apart: locks within 60 s of each other count as the same
	// lock, so only a 2-minute step makes the longest one win every order.
	for i := 2; i <= 60; i += 2 {
		wg.Add(1)
		go func(minutes int) {
			defer wg.Done()
			out, err := exec.Command(bin, "--path", path, "--reason", fmt.Sprint(minutes), "lock", fmt.Sprint(minutes)).CombinedOutput()
			if err != nil {
				errs <- fmt.Sprintf("lock %d: %v %s", minutes, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	out, _ := testenv.Run(t, nil, bin, "--path", path, "--json", "status")
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil || st["format"] != "json" || st["reason"] != "60" {
		t.Fatalf("after 30 concurrent lockers: %q (%v); want valid JSON from the 60-minute locker", out, err)
	}
}
