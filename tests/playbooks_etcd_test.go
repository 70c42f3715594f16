package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// promo_with_guards with the etcd backend (issue 11): two separate
// ansible-playbook runs, each over a fleet of two hosts, started together,
// share one guard in a real three-member cluster: exactly one promotes,
// the other is refused naming the holder, and no host gets a lock file.
func TestPromoWithGuardsSharesTheEtcdGuard(t *testing.T) {
	cluster := testenv.StartEtcd(t, testenv.EtcdOptions{})
	c := testenv.InstallCollection(t)
	_, prom, _ := sloBackends(t, 0)
	cli := testenv.BuildCLI(t, "qos_guard")
	dir := t.TempDir()
	inventory := filepath.Join(dir, "inventory.ini")
	os.WriteFile(inventory, []byte("[fleet]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n"), 0o644)
	lockFile := filepath.Join(dir, "threader.qos.guard")
	log := filepath.Join(dir, "promotions.log")
	endpoints := strings.Join(cluster.Endpoints(), ",")

	runs, winner, loser := twoPromotions(t, log, func(id string, promote []string) *testenv.PlaybookRun {
		vars := mustJSON(t, map[string]any{"target": "fleet", "job": "stable", "prom_url": prom.URL, "loki_url": "",
			"threader_guard_run_id": id, "promote_command": promote,
			"qos_guard_path": lockFile, "qos_guard_scope": "web"})
		// The backend and endpoints come from the environment, as on a CI runner.
		return c.RunPlaybook(t, []string{"QOS_GUARD_BACKEND=etcd", "QOS_GUARD_ETCD_ENDPOINTS=" + endpoints},
			"-i", inventory, "threader.guard.promo_with_guards", "-e", vars)
	})
	promoted, _ := os.ReadFile(log)
	if strings.Contains(string(promoted), loser) || strings.Count(string(promoted), "end "+winner) != 2 {
		t.Errorf("promotions log:\n%s\nwant %s's promotion on both hosts and nothing of %s", promoted, winner, loser)
	}
	refused := runs[loser].Task(t, refusedTask)
	msg, _ := refused.Result["msg"].(string)
	if refused.Status != "failed" || !strings.Contains(msg, fmt.Sprintf("%q", promoOwner(winner))) {
		t.Errorf("%s's refusal should name the holder %s: %s %q", loser, promoOwner(winner), refused.Status, msg)
	}
	for id, run := range runs {
		guardTasks := 0
		for _, tr := range run.Tasks {
			if !strings.HasSuffix(tr.Action, "qos_guard") || tr.Status == "skipped" {
				continue
			}
			guardTasks++
			if tr.Host != "web1" {
				t.Errorf("run %s: guard task %q ran for %s: with etcd it runs once per play", id, tr.Task, tr.Host)
			}
		}
		if guardTasks == 0 {
			t.Errorf("run %s: no guard task ran", id)
		}
	}
	out, _ := testenv.Run(t, []string{"QOS_GUARD_ETCD_ENDPOINTS=" + endpoints}, cli, "--backend", "etcd", "--scope", "web", "--json", "status")
	if !strings.Contains(out, `"locked":true`) || !strings.Contains(out, promoOwner(winner)) {
		t.Errorf("the fleet's guard after the promotions: %s; want the stability window of %s", out, winner)
	}
	if _, err := os.Stat(lockFile); !os.IsNotExist(err) {
		t.Errorf("a lock file was written with the etcd backend (stat: %v)", err)
	}
}
