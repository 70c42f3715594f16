package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// StartSystemd boots only the test target, runs a service with PrivateTmp=,
// and leaves nothing behind: no process of the namespace, no cgroup, no
// PrivateTmp directory, no unit file outside the namespace.
func TestStartSystemdBootsOnlyTheTestTargetAndLeavesNothing(t *testing.T) {
	var s *Systemd
	var servicePID, nsPID string
	t.Run("boot", func(t *testing.T) {
		s = StartSystemd(t, SystemdOptions{})
		if got := s.Systemctl(t, nil, "is-active", "threader-guard-test.target"); got != "active" {
			t.Errorf("test target: %s", got)
		}
		// Nothing but the stubs: no distribution unit is found, even by name.
		if out := s.Systemctl(t, []int{0, 4}, "show", "-p", "LoadState", "systemd-tmpfiles-setup.service", "ssh.service"); strings.Count(out, "LoadState=not-found") != 2 {
			t.Errorf("distribution units are visible:\n%s", out)
		}
		unit := "[Service]\nExecStart=/bin/sleep 600\nPrivateTmp=yes\n"
		cmd := s.Command("sh", "-c", `printf '%s' "$1" > /etc/systemd/system/tg-probe.service && systemctl daemon-reload && systemctl start tg-probe`, "sh", unit)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("start a probe service: %v\n%s", err, out)
		}
		servicePID = s.Systemctl(t, nil, "show", "-p", "MainPID", "--value", "tg-probe")
		if !hasPrivateTmp("tg-probe") {
			t.Errorf("no PrivateTmp directory of the probe service in /tmp while it runs")
		}
		if _, err := os.Stat("/etc/systemd/system/tg-probe.service"); err == nil {
			t.Errorf("the unit file written inside the namespace is on the host's /etc/systemd/system")
		}
		if !strings.Contains(s.Log(), "Startup finished") {
			t.Errorf("systemd's console log:\n%s", s.Log())
		}
		nsPID, _ = os.Readlink("/proc/" + strconv.Itoa(s.PID) + "/ns/pid")
	})
	if s == nil || t.Failed() {
		return
	}
	if servicePID == "" || servicePID == "0" {
		t.Fatalf("the probe service had no main PID")
	}
	if left := processesIn(nsPID); len(left) > 0 {
		t.Errorf("processes of the namespace left: %v", left)
	}
	if _, err := os.Stat(s.cgroup); !os.IsNotExist(err) {
		t.Errorf("cgroup %s left: %v", s.cgroup, err)
	}
	if hasPrivateTmp("tg-probe") {
		t.Errorf("PrivateTmp directory of the probe service left")
	}
}

func hasPrivateTmp(unit string) bool {
	for dir := range privateTmpDirs() {
		if strings.Contains(dir, "-"+unit+".service-") {
			return true
		}
	}
	return false
}
