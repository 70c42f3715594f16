package tests

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// demoCommand prepares demo/run.sh as `make demo` runs it, after the
// dependencies are installed and the collection is built: with the built
// tarball and its temporary directory inside tmp, in its own process group.
func demoCommand(t *testing.T, ctx context.Context, tmp string) *exec.Cmd {
	t.Helper()
	for _, p := range [][2]string{{"ansible-playbook", "ansible-core"}, {"ansible-galaxy", "ansible-core"},
		{"prometheus", "prometheus"}, {"promtool", "prometheus"}, {"curl", "curl"}, {"python3", "python3"}} {
		testenv.RequireBinary(t, p[0], p[1])
	}
	bash := testenv.RequireBinary(t, "bash", "bash")
	cmd := exec.CommandContext(ctx, bash, filepath.Join(testenv.RepoRoot(), "demo", "run.sh"))
	cmd.Env = append(os.Environ(), "THREADER_GUARD_TARBALL="+testenv.Tarball(t), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// TestDemo runs the whole `make demo` story and checks what it tells and
// that it leaves nothing behind.
func TestDemo(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	// A bound for a hung demo, not a measure: eight playbooks, four servers,
	// two releases that poll and two canaries that wait take minutes on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := demoCommand(t, ctx, tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo/run.sh: %v\n%s", err, out)
	}
	// Lines joined, without the indentation of ansible-playbook's output,
	// which wraps long messages where it likes.
	text := regexp.MustCompile(`\s*\n\s*(\|\s*)?`).ReplaceAllString(string(out), " ")
	// The story, in order.
	story := []string{
		"The SLO gate's error-log check runs on VictoriaLogs (VICTORIALOGS_URL; LOKI_URL is empty)",
		"Step 0: threader runs build 41 and is healthy",
		"Step 1: deploying build 42",
		"msg: 'Build 42 failed the SLO gate (job threader, window 8s): 5xx_ratio",
		"The deploy failed its SLO gate",
		"the rollback playbook: threader.guard.auto_rollback_on_failure",
		"rollback_status: SUCCESS (2 attempts)",
		"qos_guard status: QoS guard-window is locked until",
		"Step 2: someone tries to promote build 43",
		"The guard-window refused ",
		":threader.guard.promo_with_guards:build-43-try-1 on localhost, so nothing ran on any target",
		"reason: rollback of build 42",
		"The promotion was refused by the guard before anything ran",
		"Step 3: the release playbook",
		"SLO gate passed (job threader, window 8s): all 3 checks passed 3 times in a row (",
		"the guard-window was released after",
		"qos_guard status: QoS guard-window is unlocked",
		// The canary of build 43, 50% slower, is judged and stops the promotion.
		"Step 4: the promotion of build 43 again, now with its canary step",
		"TASK [Promote the canary]",
		"Let the canary take traffic before judging it, for seconds 12",
		"msg: 'Canary analysis failed: canary failed: score 0 (marginal_score 75); deciding metrics: " +
			"latency high (critical): canary higher than baseline: shift +0.0",
		">= allowed 1.1; critical metric. Metrics: latency high, errors pass'",
		":threader.guard.promo_with_guards:build-43-try-2 failed at Fail unless the canary passed: Canary analysis failed",
		"The guard-window stays locked for 5 minutes",
		"The canary judge stopped the promotion",
		"qos_guard status: QoS guard-window is locked until",
		":threader.guard.promo_with_guards:build-43-try-2 failed at Fail unless the canary passed: " +
			"Canary analysis failed: canary failed: score 0 (marginal_score 75); deciding metrics: latency high (critical)",
		// Released once stable, the fixed build's canary passes and the promotion goes through.
		"Step 5: the canary host goes back to build 41",
		"canary: build 41 installed on the canary host",
		"SLO gate passed (job threader, window 8s): all 3 checks passed 3 times in a row (",
		"qos_guard status: QoS guard-window is unlocked",
		"Step 6: build 44",
		"TASK [Promote the canary]",
		"Canary analysis: canary passed: score 100 (pass_score 95), 2 metrics judged",
		"TASK [threader.guard.promotion : Run the promotion command]",
		"The canary passed the judge",
		"(5m left): promotion (threader.guard.promo_with_guards)",
		"The whole story took",
		"nothing is left running",
	}
	rest := text
	for _, line := range story {
		i := strings.Index(rest, line)
		if i < 0 {
			t.Fatalf("the demo did not tell %q (in this order); output:\n%s", line, out)
		}
		rest = rest[i+len(line):]
	}
	// The broken build's ERROR lines, shipped to VictoriaLogs, fail the gate too.
	if !regexp.MustCompile(`Build 42 failed the SLO gate [^']*; error_logs_per_min [0-9.e+]+ > 1`).MatchString(text) {
		t.Errorf("the error-log check on VictoriaLogs did not fail the broken build:\n%s", out)
	}
	// The judge measured the slow build's +50% latency, against the 10% it allows.
	if !regexp.MustCompile(`canary higher than baseline: shift \+0\.0[45]\d* \(98% CI [0-9.]+\.\.[0-9.]+\), mean ratio 1\.(4[5-9]|5[0-5])\d* >= allowed 1\.1`).MatchString(text) {
		t.Errorf("the judge's verdict on the slow canary does not show its +50%% latency:\n%s", out)
	}
	if !strings.Contains(text, "(5m left): rollback of build 42") {
		t.Errorf("the guard's reason after the rollback is not shown:\n%s", out)
	}
	assertNothingLeft(t, tmp)
}

// TestDemoInterruptedCleansUp presses Ctrl-C (SIGINT to the process group)
// in the middle of the story: Prometheus and the simulator must be stopped
// and the temporary directory removed all the same.
func TestDemoInterruptedCleansUp(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a bound for a hung demo
	defer cancel()
	cmd := demoCommand(t, ctx, tmp)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer // read only after scanned is closed
	reached, scanned := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Step 1: deploying build 42") {
				once.Do(func() { close(reached) })
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	select {
	case <-reached:
	case err := <-done:
		<-scanned
		t.Fatalf("the demo ended (%v) before step 1:\n%s", err, out.String())
	}
	time.Sleep(time.Second) // inside the deploy playbook
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	err := <-done
	<-scanned // done closed the pipe: the reader has seen everything
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Errorf("interrupted demo: %v, want a non-zero exit", err)
	}
	if !strings.Contains(out.String(), "stopped what it started and removed") {
		t.Errorf("no cleanup message:\n%s", out.String())
	}
	assertNothingLeft(t, tmp)
}

// assertNothingLeft fails if a process still refers to tmp (the demo's
// programs all run from its work directory there) or if tmp is not empty.
func assertNothingLeft(t *testing.T, tmp string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		if cmdline := strings.ReplaceAll(string(data), "\x00", " "); strings.Contains(cmdline, tmp) {
			t.Errorf("still running after the demo: %s (%s)", cmdline, filepath.Dir(p))
		}
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", tmp, e.Name())
	}
}
