package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The benchmark suite is not a test (make test does not time anything), but
// a tiny run of it is, so that it cannot rot: every scenario runs against
// its own sshd and Prometheus, and the lock and transfer checks hold.
func TestBenchSmoke(t *testing.T) {
	testenv.RequireBinary(t, "sshd", "openssh-server")
	testenv.RequireBinary(t, "prometheus", "prometheus")
	if _, err := os.Stat(filepath.Join(testenv.RepoRoot(), "bin", "qos_guard")); err != nil {
		t.Fatalf("the bench needs bin/qos_guard: run make build (make test does): %v", err)
	}
	runner := filepath.Join(t.TempDir(), "bench-runner")
	build := exec.Command("go", "build", "-o", runner, "./bench/runner")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./bench/runner: %v\n%s", err, out)
	}
	results := filepath.Join(t.TempDir(), "RESULTS.md")
	out, code := testenv.Run(t, nil, runner, "-tarball", testenv.Tarball(t), "-tasks", "2", "-rounds", "1",
		"-fleet-hosts", "2", "-fleet-tasks", "1", "-forks", "2", "-gates", "1", "-lockers", "8", "-results", results)
	testenv.Must(t, out, code, "bench runner")
	written, err := os.ReadFile(results)
	if err != nil || !strings.Contains(out, string(written)) || !strings.HasPrefix(string(written), "# threader.guard benchmark results") {
		t.Errorf("-results must hold the printed report (%v)", err)
	}
	for _, want := range []string{
		"## Machine", "nproc: ", "ansible-core: ",
		"## 1. 2 tasks over SSH", "## 1. 2 tasks on the local connection",
		"| ansible.builtin.raw: true (one round trip) |", "| threader.guard.qos_guard state=status |",
		"| ansible.builtin.ping, pipelining on |", "| ansible.builtin.ping, pipelining off |",
		"| old way: ansible.builtin.command + status script (pipelining off) |", "| before: qos_guard as a plain binary module |",
		"## 2. fleet: 2 hosts × 1 tasks, forks 2", "## 3. SLO gate over SSH", "| threader.guard.slo_check, three checks |",
		"| three ansible.builtin.uri tasks, pipelining on |",
		"## 4. 8 concurrent `qos_guard lock` CLI processes on one file", "| yes (every round) |",
		"Sent during the warm-up (first contact, every variant once): 1 time(s)", "not sent again",
		"## Goals (issue #6)", "| over SSH, a task ≤ 1.3 × raw |", "| local connection, ≤ 0.5 × ping",
		"| threader.guard.qos_guard, args in a file (threader_guard_args_on_stdin=false) |", "round 1/1, ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("bench output:\n%s", out)
	}
}
