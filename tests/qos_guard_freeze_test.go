package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// A freeze calendar file: Berlin nights (22:00-06:00 on the wall clock)
// and a one-off launch day.
const freezeFileYAML = `freeze_windows:
  - name: nights
    start: "0 22 * * *"
    end: "0 6 * * *"
    time_zone: Europe/Berlin
  - name: launch
    from: "2026-12-24T00:00:00+01:00"
    until: "2026-12-27T00:00:00+01:00"
`

func writeFreezeFile(t *testing.T, dir string) string {
	path := filepath.Join(dir, "freezes.yml")
	if err := os.WriteFile(path, []byte(freezeFileYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Freezes through real ansible-playbook, evaluated `at` chosen instants:
// inline windows and a freeze file, across the Berlin DST change, with
// fail_when_locked naming the window and its end; `at` writes nothing.
func TestQosGuardFreezeWindowsInPlaybook(t *testing.T) {
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	file := writeFreezeFile(t, dir)
	path := filepath.Join(dir, "threader.qos.guard")
	run := c.Playbook(t, guardPlay(path, `
    - name: winter night
      threader.guard.qos_guard: {path: "{{ guard_path }}", freeze_file: `+file+`, at: "2026-01-15T21:30:00Z"}
    - name: summer evening
      threader.guard.qos_guard: {path: "{{ guard_path }}", freeze_file: `+file+`, at: "2026-07-15T19:59:00Z"}
    - name: summer night refused
      threader.guard.qos_guard: {path: "{{ guard_path }}", freeze_file: `+file+`, at: "2026-07-15T20:00:00Z", fail_when_locked: true}
      ignore_errors: true
    - name: christmas refused
      threader.guard.qos_guard: {path: "{{ guard_path }}", freeze_file: `+file+`, at: "2026-12-25T12:00:00Z", fail_when_locked: true}
      ignore_errors: true
    - name: inline gap window
      threader.guard.qos_guard:
        path: "{{ guard_path }}"
        at: "2026-03-29T01:00:00Z"
        freeze_windows:
          - {name: maintenance, start: "30 2 * * SUN", duration: 1h, time_zone: Europe/Berlin}
    - name: daytime passes
      threader.guard.qos_guard: {path: "{{ guard_path }}", freeze_file: `+file+`, at: "2026-05-04T10:00:00Z", fail_when_locked: true}
    - name: bad file
      threader.guard.qos_guard: {path: "{{ guard_path }}", freeze_file: `+dir+`/missing.yml}
      ignore_errors: true
`))
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
	winter := run.Task(t, "winter night").Result
	if winter["frozen"] != true || winter["frozen_by"] != "nights" || winter["freeze_ends_at"] != "2026-01-16T05:00:00Z" ||
		winter["next_freeze_starts_at"] != "2026-01-16T21:00:00Z" || winter["locked"] != false || winter["changed"] != false {
		t.Errorf("winter night: %v", winter)
	}
	summer := run.Task(t, "summer evening").Result
	if summer["frozen"] != false || summer["frozen_by"] != nil || summer["freeze_ends_at"] != nil || summer["next_freeze_starts_at"] != "2026-07-15T20:00:00Z" {
		t.Errorf("summer evening (22:00 CEST is 20:00Z): %v", summer)
	}
	refused := run.Task(t, "summer night refused")
	if msg, _ := refused.Result["msg"].(string); refused.Status != "ignored" || msg != `deployments are frozen by window "nights" until 2026-07-16T04:00:00Z (8h left)` {
		t.Errorf("summer night: status %s msg %q", refused.Status, msg)
	}
	xmas := run.Task(t, "christmas refused")
	if msg, _ := xmas.Result["msg"].(string); xmas.Status != "ignored" || !strings.Contains(msg, `window "launch" until 2026-12-27T05:00:00Z`) { // merged with the night after it
		t.Errorf("christmas: status %s msg %q", xmas.Status, msg)
	}
	gap := run.Task(t, "inline gap window").Result
	if gap["frozen"] != true || gap["frozen_by"] != "maintenance" || gap["freeze_ends_at"] != "2026-03-29T02:00:00Z" {
		t.Errorf("a start in the spring-forward gap opens after it: %v", gap)
	}
	if day := run.Task(t, "daytime passes"); day.Status != "ok" || day.Result["frozen"] != false {
		t.Errorf("daytime: %+v", day)
	}
	bad := run.Task(t, "bad file")
	if msg, _ := bad.Result["msg"].(string); bad.Status != "ignored" || !strings.Contains(msg, "freeze_file "+dir+"/missing.yml cannot be read") {
		t.Errorf("missing freeze file: status %s msg %q", bad.Status, msg)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("status with at wrote %s (stat: %v)", path, err)
	}
}

func TestQosGuardCLIFreezes(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	dir := t.TempDir()
	file := writeFreezeFile(t, dir)
	path := filepath.Join(dir, "g")
	cli := func(env []string, args ...string) (string, int) {
		return testenv.Run(t, env, bin, append([]string{"--path", path}, args...)...)
	}
	if out, code := cli(nil, "status", "--freeze-file", file, "--at", "2026-01-15T21:30:00Z"); code != 1 ||
		!strings.Contains(out, `deployments are frozen by window "nights" until 2026-01-16T05:00:00Z`) {
		t.Errorf("status in a freeze: %d %q", code, out)
	}
	if out, code := cli([]string{"QOS_GUARD_FREEZE_FILE=" + file}, "status", "--at", "2026-01-15T12:00:00Z"); code != 0 || !strings.Contains(out, "unlocked") {
		t.Errorf("status outside the freeze (file from the environment): %d %q", code, out)
	}
	out, code := cli(nil, "status", "--json", "--freeze-file", file, "--at", "2026-12-25T13:00:00+01:00")
	var st map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &st) != nil || st["frozen"] != true || st["frozen_by"] != "launch" || st["freeze_ends_at"] != "2026-12-27T05:00:00Z" {
		t.Errorf("status --json at Christmas: %d %q", code, out)
	}
	out, code = cli(nil, "freezes", "--json", "--freeze-file", file, "--at", "2026-12-24T22:00:00Z")
	var list struct {
		Frozen  bool `json:"frozen"`
		Windows []struct {
			Name     string `json:"name"`
			Active   bool   `json:"active"`
			StartsAt string `json:"starts_at"`
			EndsAt   string `json:"ends_at"`
		} `json:"windows"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || !list.Frozen || len(list.Windows) != 2 ||
		list.Windows[0].Name != "nights" || !list.Windows[0].Active || list.Windows[0].StartsAt != "2026-12-24T21:00:00Z" || list.Windows[0].EndsAt != "2026-12-25T05:00:00Z" ||
		list.Windows[1].Name != "launch" || !list.Windows[1].Active {
		t.Errorf("freezes --json: %d %q", code, out)
	}
	if out, code := cli(nil, "freezes", "--freeze-file", file, "--at", "2026-05-04T10:00:00Z"); code != 0 ||
		!strings.Contains(out, "next   nights  2026-05-04T20:00:00Z -> 2026-05-05T04:00:00Z") {
		t.Errorf("freezes: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"status", "--at", "tomorrow"},
		{"lock", "--at", "2026-01-01T00:00:00Z"},
		{"freezes"},
		{"status", "--at", "2026-01-01T00:00:00Z", "--wait", "1m"},
	} {
		if out, code := cli(nil, bad...); code != 2 {
			t.Errorf("%v exited %d, want a usage error: %q", bad, code, out)
		}
	}
	os.WriteFile(file, []byte("freeze_windows:\n  - name: x\n    start: '0 25 * * *'\n    duration: 1h\n"), 0o644)
	if out, code := cli(nil, "status", "--freeze-file", file); code != 1 || !strings.Contains(out, "freeze_windows[0].start hour field") {
		t.Errorf("a bad freeze file fails closed: %d %q", code, out)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("status wrote %s", path)
	}
}
