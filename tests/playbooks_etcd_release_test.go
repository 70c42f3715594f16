package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The rollback, the refusal and the release on the fleet's etcd guard
// (qos_guard_backend: etcd), two targets, a real three-member cluster: the
// rollback locks the one key, a promotion is refused on every target with
// one message and writes nothing, the release unlocks at the revision it
// recorded.
func TestRollbackRefusalReleaseOnTheEtcdGuard(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartEtcd(t, testenv.EtcdOptions{})
	c := testenv.InstallCollection(t)
	_, prom, _ := sloBackends(t, 0)
	cli := testenv.BuildCLI(t, "qos_guard")
	dir := t.TempDir()
	inventory := filepath.Join(dir, "inventory.ini")
	os.WriteFile(inventory, []byte("[threader]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n"), 0o644)
	play := func(name string, vars map[string]any) *testenv.PlaybookRun {
		all := map[string]any{"qos_guard_backend": "etcd", "qos_guard_etcd_endpoints": cluster.Endpoints(), "qos_guard_scope": "release",
			"prom_url": prom.URL, "loki_url": "", "job": "stable"}
		for k, v := range vars {
			all[k] = v
		}
		return c.RunPlaybook(t, nil, "-i", inventory, "threader.guard."+name, "-e", mustJSON(t, all))
	}
	state := func() guardState {
		t.Helper()
		out, err := exec.Command(cli, "--backend", "etcd", "--etcd-endpoints", strings.Join(cluster.Endpoints(), ","),
			"--scope", "release", "--json", "status").Output()
		var st guardState
		if jerr := json.Unmarshal(out, &st); jerr != nil {
			t.Fatalf("qos_guard status: %v %v: %s", err, jerr, out)
		}
		return st
	}

	if run := play("auto_rollback_on_failure", map[string]any{"rollback_command": []string{"true"},
		"guard_window_reason": "rollback of build 12"}); run.ExitCode != 0 {
		t.Fatalf("rollback failed:\n%s", run.Output)
	}
	locked := state()
	if !locked.Locked || *locked.Reason != "rollback of build 12" {
		t.Fatalf("fleet guard after the rollback: %s", locked)
	}

	marker := filepath.Join(dir, "promoted")
	refused := play("promo_with_guards", map[string]any{"promote_command": []string{"touch", marker}})
	if refused.ExitCode == 0 {
		t.Fatalf("promotion passed the locked fleet guard:\n%s", refused.Output)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("promote_command ran (stat: %v)", err)
	}
	// One guard, one refusal: the targets it stopped share its message.
	if msg, _ := refused.Task(t, refusedTask).Result["msg"].(string); !strings.Contains(msg, "on web1, web2, so nothing ran on any target: web1, web2: ") ||
		strings.Count(msg, "rollback of build 12") != 1 {
		t.Errorf("refusal: %q", msg)
	}
	if st := state(); st.Revision != locked.Revision || *st.Reason != "rollback of build 12" {
		t.Errorf("the refused promotion wrote the fleet guard: %s, before it: %s", st, locked)
	}

	if run := play("qos_guard_release", map[string]any{"slo_interval_seconds": 1, "slo_consecutive": 1}); run.ExitCode != 0 {
		t.Fatalf("release failed:\n%s", run.Output)
	}
	if st := state(); st.Locked {
		t.Errorf("fleet guard still locked after the release: %s", st)
	}
}
