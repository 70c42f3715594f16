package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The guard_window role with a freeze calendar and break-glass: check and
// acquire refuse while a window is active; with
// guard_window_break_glass_reason they pass, and the override is in the
// audit log.
func TestGuardWindowRoleFreezeAndBreakGlass(t *testing.T) {
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	guardPath := filepath.Join(dir, "threader.qos.guard")
	audit := filepath.Join(dir, "log", "audit.jsonl")
	// Each case in a block: a refusal stops the role there (as it stops
	// the host in a real run) and the rescue lets the play go on.
	role := func(name, from string, vars string) string {
		return fmt.Sprintf(`
    - name: %s
      block:
        - name: %s role
          ansible.builtin.include_role:
            name: threader.guard.guard_window
            tasks_from: %s
          vars:
            qos_guard_path: %s
            qos_guard_freeze_windows: [{name: always, start: "* * * * *", duration: 24h}]
%s
      rescue:
        - name: %s refused
          ansible.builtin.debug: {msg: refused}
`, name, name, from, guardPath, vars, name)
	}
	run := c.Playbook(t, `---
- name: guard_window freezes
  hosts: localhost
  gather_facts: false
  module_defaults:
    threader.guard.qos_guard:
      audit_log: `+audit+`
  tasks:`+
		role("check frozen", "check", "")+
		role("check break glass", "check", "            guard_window_break_glass_reason: hotfix INC-7\n            guard_window_owner: alice")+
		role("acquire frozen", "acquire", "            guard_window_owner: run-1")+
		role("acquire break glass", "acquire", "            guard_window_owner: run-2\n            guard_window_break_glass_reason: hotfix INC-8"))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	checkTask := "threader.guard.guard_window : Refuse while the guard-window is locked"
	freezeTask := "threader.guard.guard_window : Refuse while a freeze window is active"
	var checks, freezes, acquires []testenv.TaskResult
	for _, tr := range run.Tasks {
		switch tr.Task {
		case checkTask:
			checks = append(checks, tr)
		case freezeTask:
			freezes = append(freezes, tr)
		case acquireTask:
			acquires = append(acquires, tr)
		}
	}
	if len(checks) != 2 || len(freezes) != 2 {
		t.Fatalf("checks %d, freeze checks %d; want 2 each:\n%s", len(checks), len(freezes), run.Output)
	}
	if msg, _ := checks[0].Result["msg"].(string); checks[0].Status == "ok" || !strings.Contains(msg, `deployments are frozen by window "always"`) {
		t.Errorf("check while frozen: %s %q", checks[0].Status, msg)
	}
	if checks[1].Status != "ok" || checks[1].Result["break_glass_used"] != true {
		t.Errorf("check with a break-glass reason: %s %v", checks[1].Status, checks[1].Result)
	}
	if msg, _ := freezes[0].Result["msg"].(string); freezes[0].Status == "ok" || !strings.Contains(msg, `frozen by window "always"`) {
		t.Errorf("acquire while frozen: %s %q", freezes[0].Status, msg)
	}
	if len(acquires) != 1 || acquires[0].Result["changed"] != true || acquires[0].Result["owner"] != "run-2" {
		t.Errorf("acquire with a break-glass reason: %+v", acquires)
	}
	data, _ := os.ReadFile(audit)
	lines := auditLines(t, audit)
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprint(l["action"], ":", l["owner"], ":", l["reason"]))
	}
	want := "break_glass:alice:hotfix INC-7,break_glass:run-2:hotfix INC-8,lock:run-2:run run-2 in progress"
	if strings.Join(got, ",") != want {
		t.Errorf("audit lines %v, want %s\n%s", got, want, data)
	}
}
