package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// etcdCLI runs the qos_guard CLI against the etcd backend and returns its
// --json result (nil when there is none), stderr and exit code.
func etcdCLI(t *testing.T, env []string, args ...string) (map[string]any, string, int) {
	t.Helper()
	bin := testenv.BuildCLI(t, "qos_guard")
	out, code := testenv.Run(t, env, bin, append([]string{"--backend", "etcd", "--json", "--no-syslog"}, args...)...)
	var res map[string]any
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var other []string
	for _, l := range lines {
		if res == nil && strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &res) == nil {
			continue
		}
		other = append(other, l)
	}
	return res, strings.Join(other, "\n"), code
}

// The fleet guard through the CLI, one process per step, on one shared
// three-member cluster, each test under its own scope.
func TestQosGuardEtcdCLI(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{})
	eps := c.Endpoints()
	via := func(i int, scope string) []string { return []string{"--etcd-endpoints", eps[i%3], "--scope", scope} }

	t.Run("a lock taken by one process is seen by another through another member", func(t *testing.T) {
		res, errText, code := etcdCLI(t, nil, append(via(0, "seen"), "--reason", "rollback of build 7", "lock", "30")...)
		if code != 0 || res["locked"] != true || res["backend"] != "etcd" || res["path"] != "/threader.guard/seen" || res["revision"].(float64) <= 0 {
			t.Fatalf("lock: %d %v %s", code, res, errText)
		}
		st, errText, code := etcdCLI(t, []string{"QOS_GUARD_ETCD_ENDPOINTS=" + eps[2], "QOS_GUARD_SCOPE=seen"}, "status")
		if code != 1 || st["locked"] != true || st["reason"] != "rollback of build 7" || st["revision"] != res["revision"] {
			t.Fatalf("status from another process and member (env config): %d %v %s", code, st, errText)
		}
		if again, _, code := etcdCLI(t, nil, append(via(1, "seen"), "lock", "30")...); code != 0 || again["changed"] != false || again["revision"] != res["revision"] {
			t.Fatalf("re-lock: %d %v", code, again)
		}
		if shorter, _, _ := etcdCLI(t, nil, append(via(1, "seen"), "lock", "5")...); shorter["changed"] != false {
			t.Fatalf("a shorter lock changed the guard: %v", shorter)
		}
		forced, _, code := etcdCLI(t, nil, append(via(2, "seen"), "--force", "lock", "5")...)
		if code != 0 || forced["changed"] != true || forced["remaining_seconds"].(float64) > 300 {
			t.Fatalf("force: %d %v", code, forced)
		}
		if _, errText, code := etcdCLI(t, nil, append(via(0, "seen"), "unlock", "--if-revision", fmt.Sprint(res["revision"]))...); code != 1 || !strings.Contains(errText, "changed since revision") {
			t.Fatalf("stale unlock: %d %s", code, errText)
		}
		if un, _, code := etcdCLI(t, nil, append(via(0, "seen"), "unlock", "--if-revision", fmt.Sprint(forced["revision"]))...); code != 0 || un["locked"] != false {
			t.Fatalf("unlock: %d %v", code, un)
		}
		if st, _, code := etcdCLI(t, nil, append(via(1, "seen"), "status")...); code != 0 || st["locked"] != false || st["revision"] != 0.0 {
			t.Fatalf("status after unlock: %d %v", code, st)
		}
	})

	t.Run("a lock of a fraction of a minute expires with no client alive", func(t *testing.T) {
		res, errText, code := etcdCLI(t, nil, append(via(0, "short"), "lock", "0.05")...) // 3 seconds
		if code != 0 || res["remaining_seconds"].(float64) > 3 {
			t.Fatalf("lock 0.05: %d %v %s", code, res, errText)
		}
		// 120 s only bounds a broken test: etcd renews leases when a leader is
		// elected, which a loaded machine makes happen more often.
		deadline := time.Now().Add(120 * time.Second)
		for {
			st, _, code := etcdCLI(t, nil, append(via(1, "short"), "status")...)
			if code == 0 && st["locked"] == false {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("still locked 120 s after a 3 s lock: %v", st)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("many locker processes through different members: one key, the latest expiry", func(t *testing.T) {
		var wg sync.WaitGroup
		from := time.Now()
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				minutes := 10 + 2*i
				if res, errText, code := etcdCLI(t, nil, append(via(i, "many"), "--reason", fmt.Sprint(minutes), "--etcd-timeout", "60s", "lock", fmt.Sprint(minutes))...); code != 0 {
					t.Errorf("locker %d: %d %v %s", i, code, res, errText)
				}
			}()
		}
		wg.Wait()
		// Every locker gives another reason, so every one writes; none
		// shortens the 48-minute lock.
		st, _, _ := etcdCLI(t, nil, append(via(0, "many"), "status")...)
		if expires, _ := st["expires_at"].(string); st["locked"] != true || !expiresAfter(expires, 48*time.Minute, from) {
			t.Fatalf("after 20 concurrent lockers: %v; want the 48-minute lock", st)
		}
	})

	t.Run("many exclusive acquirer processes: exactly one wins", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprint("pipeline-", i)
				_, errText, code := etcdCLI(t, nil, append(via(i, "exclusive"), "--owner", owner, "--etcd-timeout", "60s", "lock", "--exclusive", "30")...)
				switch {
				case code == 0:
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				case code != 1 || !strings.Contains(errText, "already held by"):
					t.Errorf("%s: exit %d, %s", owner, code, errText)
				}
			}()
		}
		wg.Wait()
		st, _, _ := etcdCLI(t, nil, append(via(0, "exclusive"), "status")...)
		if len(winners) != 1 || st["owner"] != winners[0] {
			t.Fatalf("winners %v, guard %v; want exactly one, named in the guard", winners, st)
		}
	})

	t.Run("status --wait returns when another process unlocks", func(t *testing.T) {
		if _, errText, code := etcdCLI(t, nil, append(via(0, "wait"), "lock", "30")...); code != 0 {
			t.Fatalf("lock: %d %s", code, errText)
		}
		type outcome struct {
			res  map[string]any
			code int
		}
		done := make(chan outcome, 1)
		go func() {
			res, _, code := etcdCLI(t, nil, append(via(1, "wait"), "--wait", "2m", "status")...)
			done <- outcome{res, code}
		}()
		time.Sleep(2 * time.Second) // let the waiter read the lock first; the order does not change the outcome
		if _, errText, code := etcdCLI(t, nil, append(via(2, "wait"), "unlock")...); code != 0 {
			t.Fatalf("unlock: %d %s", code, errText)
		}
		var got outcome
		testenv.Within(t, 90*time.Second, func() { got = <-done })
		if got.code != 0 || got.res["locked"] != false {
			t.Fatalf("status --wait: exit %d, %v; want unlocked once the other process unlocked", got.code, got.res)
		}
	})

	t.Run("bad etcd flags are usage errors naming the flag", func(t *testing.T) {
		cases := map[string][]string{
			"--etcd-endpoints must name at least one":  {"status"},
			"--etcd-endpoints must be URLs":            {"--etcd-endpoints", "127.0.0.1", "status"},
			"--scope must be 1 to 128":                 {"--etcd-endpoints", eps[0], "--scope", "a/b", "status"},
			"--etcd-ca-cert needs https://":            {"--etcd-endpoints", eps[0], "--etcd-ca-cert", "/x.pem", "status"},
			"--path is only valid with --backend file": {"--etcd-endpoints", eps[0], "--path", "/tmp/g", "status"},
		}
		for want, args := range cases {
			if _, errText, code := etcdCLI(t, nil, args...); code != 2 || !strings.Contains(errText, want) {
				t.Errorf("%v: exit %d %q, want 2 and %q", args, code, errText, want)
			}
		}
		bin := testenv.BuildCLI(t, "qos_guard")
		if out, code := testenv.Run(t, nil, bin, "--scope", "x", "status"); code != 2 || !strings.Contains(out, "--scope is only valid with --backend etcd") {
			t.Errorf("--scope with the file backend: %d %q", code, out)
		}
	})
}

// With two of three members down, every command fails closed within the
// timeout, status exits 1 saying the state is unknown; with the members
// back the lock is there as before.
func TestQosGuardEtcdCLIQuorumLost(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{})
	eps := strings.Join(c.Endpoints(), ",")
	args := func(a ...string) []string {
		return append([]string{"--etcd-endpoints", eps, "--etcd-timeout", "2s"}, a...)
	}
	locked, errText, code := etcdCLI(t, nil, args("--reason", "before the outage", "lock", "60")...)
	if code != 0 {
		t.Fatalf("lock: %d %s", code, errText)
	}
	down := c.Followers()
	for _, m := range down {
		c.Kill(m)
	}
	for _, cmd := range [][]string{{"status"}, {"lock", "5"}, {"unlock"}} {
		var res map[string]any
		testenv.Within(t, 90*time.Second, func() { res, errText, code = etcdCLI(t, nil, args(cmd...)...) }) // a hang guard
		if code != 1 || res != nil || !strings.Contains(errText, "the guard's state is unknown") || strings.Contains(errText, "unlocked") {
			t.Fatalf("%v without quorum: exit %d, result %v, %q; want exit 1, no result, 'state is unknown'", cmd, code, res, errText)
		}
	}
	for _, m := range down {
		c.Restart(m)
	}
	c.WaitHealthy()
	st, errText, code := etcdCLI(t, nil, append([]string{"--etcd-endpoints", eps, "--etcd-timeout", "30s"}, "status")...)
	if code != 1 || st["reason"] != "before the outage" || st["revision"] != locked["revision"] {
		t.Fatalf("after the outage: %d %v %s; want the lock from before at revision %v", code, st, errText, locked["revision"])
	}
}

// Auth and TLS: the password comes from QOS_GUARD_ETCD_PASSWORD, never a
// flag; a wrong one fails without being shown.
func TestQosGuardEtcdCLIAuthAndTLS(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{TLS: true})
	user, _ := c.EnableAuth("deployer", "/threader.guard/")
	x := c.TLS
	args := []string{"--etcd-endpoints", strings.Join(c.Endpoints(), ","), "--etcd-username", user.Name,
		"--etcd-ca-cert", x.CACert, "--etcd-client-cert", x.ClientCert, "--etcd-client-key", x.ClientKey}
	res, errText, code := etcdCLI(t, []string{"QOS_GUARD_ETCD_PASSWORD=" + user.Password}, append(args, "lock", "10")...)
	if code != 0 || res["locked"] != true {
		t.Fatalf("lock over TLS with auth: %d %v %s", code, res, errText)
	}
	wrong := "not-" + user.Password
	res, errText, code = etcdCLI(t, []string{"QOS_GUARD_ETCD_PASSWORD=" + wrong}, append(args, "status")...)
	if code != 1 || res != nil || !strings.Contains(errText, "authentication failed") || strings.Contains(errText, wrong) {
		t.Fatalf("wrong password: %d %v %q", code, res, errText)
	}
	if _, errText, code := etcdCLI(t, nil, append(args, "status")...); code != 2 || !strings.Contains(errText, "QOS_GUARD_ETCD_PASSWORD is required with --etcd-username") {
		t.Fatalf("no password: %d %q", code, errText)
	}
}

// The module with backend etcd through real ansible-playbook, over TLS
// with a user whose role covers only the prefix: two separate playbook
// runs share one guard; the password (no_log) never shows; a wrong one and
// a cluster without quorum fail saying the state is unknown.
func TestQosGuardEtcdModuleInPlaybook(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{TLS: true})
	user, _ := c.EnableAuth("deployer", "/threader.guard/")
	col := testenv.InstallCollection(t)
	x := c.TLS
	play := func(password, tasks string) string {
		return fmt.Sprintf(`---
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
      etcd_ca_cert: %s
      etcd_client_cert: %s
      etcd_client_key: %s
      etcd_timeout_seconds: 3
  tasks:
%s`, strings.Join(c.Endpoints(), ", "), user.Name, password, x.CACert, x.ClientCert, x.ClientKey, tasks)
	}
	first := col.Playbook(t, play(user.Password, `
    - name: take
      threader.guard.qos_guard: {state: locked, exclusive: true, owner: pipeline-1, minutes: 30, reason: promotion 1}
`))
	if first.ExitCode != 0 {
		t.Fatalf("first run failed (%d):\n%s", first.ExitCode, first.Output)
	}
	taken := first.Task(t, "take").Result
	if taken["changed"] != true || taken["backend"] != "etcd" || taken["path"] != "/threader.guard/web" || taken["revision"].(float64) <= 0 {
		t.Fatalf("take: %+v", taken)
	}
	second := col.Playbook(t, play(user.Password, `
    - name: refuse while locked
      threader.guard.qos_guard: {state: status, fail_when_locked: true}
      ignore_errors: true
    - name: second pipeline
      threader.guard.qos_guard: {state: locked, exclusive: true, owner: pipeline-2, minutes: 30}
      ignore_errors: true
    - name: release what the first run took
      threader.guard.qos_guard: {state: unlocked, if_revision: `+fmt.Sprint(taken["revision"])+`}
`))
	if second.ExitCode != 0 {
		t.Fatalf("second run failed (%d):\n%s", second.ExitCode, second.Output)
	}
	for name, want := range map[string]string{"refuse while locked": "locked until", "second pipeline": `already held by owner "pipeline-1"`} {
		r := second.Task(t, name)
		if msg, _ := r.Result["msg"].(string); r.Status != "ignored" || !strings.Contains(msg, want) || !strings.Contains(msg, "promotion 1") && name != "refuse while locked" {
			t.Errorf("%s: %s %q, want failed with %q", name, r.Status, msg, want)
		}
	}
	if r := second.Task(t, "release what the first run took").Result; r["changed"] != true || r["locked"] != false {
		t.Errorf("release: %+v", r)
	}
	if strings.Contains(first.Output+second.Output, user.Password) {
		t.Error("the etcd password appears in ansible-playbook's output")
	}

	wrong := "not-" + user.Password
	bad := col.Playbook(t, play(wrong, `
    - name: status with a wrong password
      threader.guard.qos_guard: {state: status}
      ignore_errors: true
`))
	r := bad.Task(t, "status with a wrong password")
	msg, _ := r.Result["msg"].(string)
	if r.Status != "ignored" || !strings.Contains(msg, "the guard's state is unknown") || r.Result["locked"] != nil {
		t.Errorf("wrong password: %s %+v", r.Status, r.Result)
	}
	if strings.Contains(bad.Output, wrong) {
		t.Error("the wrong password appears in ansible-playbook's output")
	}

	for _, m := range c.Followers() {
		c.Kill(m)
	}
	down := col.Playbook(t, play(user.Password, `
    - name: status without quorum
      threader.guard.qos_guard: {state: status}
      ignore_errors: true
`))
	r = down.Task(t, "status without quorum")
	msg, _ = r.Result["msg"].(string)
	if r.Status != "ignored" || !strings.Contains(msg, "the guard's state is unknown") || r.Result["locked"] != nil {
		t.Errorf("without quorum: %s %+v", r.Status, r.Result)
	}
}
