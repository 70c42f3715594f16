package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/testenv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func mustRun(t *testing.T, ctx context.Context, c Command) Result {
	t.Helper()
	res, err := Run(ctx, c)
	if err != nil {
		t.Fatalf("Run(%q): %v", c.Argv, err)
	}
	return res
}

// runBounded is mustRun for tests that check that Run does not wait out a
// grace or a process of many minutes: it fails the test only if Run has not
// returned after two minutes (a hang guard: how long Run took is load, not
// logic, so it is never asserted).
func runBounded(t *testing.T, c Command) Result {
	t.Helper()
	var res Result
	var err error
	testenv.Within(t, 2*time.Minute, func() { res, err = Run(context.Background(), c) })
	if err != nil {
		t.Fatalf("Run(%q): %v", c.Argv, err)
	}
	return res
}

// alive reports whether pid is a running process (a zombie is dead).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return f[0] != "Z" && f[0] != "X"
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}

// waitForFile waits until a script has written path (scripts write pid files
// right at the start, so this is quick).
func waitForFile(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s was never written", path)
}

func TestRunCapturesOutputAndExitStatus(t *testing.T) {
	res := mustRun(t, context.Background(), Command{Argv: sh("echo out; echo err >&2; exit 3")})
	if res.RC != 3 || res.Signal != "" || res.TimedOut || res.Success() {
		t.Fatalf("result %+v", res)
	}
	if res.Stdout != "out\n" || res.Stderr != "err\n" || res.StdoutTruncated || res.StderrTruncated {
		t.Fatalf("stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	if res.Argv[0] != "/bin/sh" || res.Duration <= 0 {
		t.Fatalf("argv %q duration %v", res.Argv, res.Duration)
	}
	if ok := mustRun(t, context.Background(), Command{Argv: []string{"true"}}); !ok.Success() || ok.RC != 0 {
		t.Fatalf("true: %+v", ok)
	}
}

func TestRunArgvIsNotInterpretedByAShell(t *testing.T) {
	res := mustRun(t, context.Background(), Command{Argv: []string{"echo", "$HOME", "a;b", "*"}})
	if res.Stdout != "$HOME a;b *\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
}

func TestRunEnvDirStdin(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RUNNER_INHERITED", "from-parent")
	t.Setenv("RUNNER_OVERRIDDEN", "old")
	res := mustRun(t, context.Background(), Command{
		Argv:  sh(`pwd; echo "$RUNNER_INHERITED $RUNNER_OVERRIDDEN $RUNNER_ADDED"; cat`),
		Dir:   dir,
		Env:   map[string]string{"RUNNER_OVERRIDDEN": "new", "RUNNER_ADDED": "added"},
		Stdin: "from stdin",
	})
	real, _ := filepath.EvalSymlinks(dir)
	want := real + "\nfrom-parent new added\nfrom stdin"
	if res.Stdout != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
	// No stdin means /dev/null, not the test's own stdin.
	if res := mustRun(t, context.Background(), Command{Argv: []string{"cat"}}); res.RC != 0 || res.Stdout != "" {
		t.Fatalf("cat without stdin: %+v", res)
	}
}

func TestRunStartErrors(t *testing.T) {
	_, err := Run(context.Background(), Command{Argv: []string{"no-such-program-xyz"}})
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "cannot run no-such-program-xyz") {
		t.Fatalf("err %v", err)
	}
	res, _ := Run(context.Background(), Command{Argv: []string{"no-such-program-xyz"}})
	if res.RC != 127 {
		t.Fatalf("rc %d, want 127", res.RC)
	}
	notExec := filepath.Join(t.TempDir(), "script")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	if res, err := Run(context.Background(), Command{Argv: []string{notExec}}); err == nil || res.RC != 126 {
		t.Fatalf("not executable: rc %d err %v", res.RC, err)
	}
	_, err = Run(context.Background(), Command{Argv: []string{"true"}, Dir: "/no/such/dir"})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "chdir") {
		t.Fatalf("bad dir: %v", err)
	}
	for _, c := range []Command{{}, {Argv: []string{""}}, {Argv: []string{"true"}, Env: map[string]string{"A=B": "x"}},
		{Argv: []string{"true"}, Timeout: -1}, {Argv: []string{"true"}, KillGrace: -1}, {Argv: []string{"true"}, OutputLimit: -1}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Fatalf("%+v: no error", c)
		}
	}
}

func TestRunReportsDeathBySignal(t *testing.T) {
	res := mustRun(t, context.Background(), Command{Argv: sh("kill -USR1 $$")})
	if res.RC != -int(syscall.SIGUSR1) || res.Signal != "SIGUSR1" || res.TimedOut || res.Success() {
		t.Fatalf("result %+v", res)
	}
}

func TestRunStartsItsOwnProcessGroup(t *testing.T) {
	res := mustRun(t, context.Background(), Command{Argv: sh(`echo $$; cut -d' ' -f5 /proc/$$/stat`)})
	lines := strings.Fields(res.Stdout)
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("pid and pgid differ: %q", res.Stdout)
	}
	if lines[1] == strconv.Itoa(syscall.Getpgrp()) {
		t.Fatalf("child shares the test's process group %s", lines[1])
	}
}

func TestTimeoutKillsTheWholeProcessTree(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	// Everything dies of SIGTERM, so Run must not wait for the grace: an
	// hour, which runBounded would catch.
	res := runBounded(t, Command{
		Argv:      sh(`sleep 300 & echo $! > ` + pidFile + `; wait`),
		Timeout:   200 * time.Millisecond,
		KillGrace: time.Hour,
	})
	grandchild := readPID(t, pidFile)
	if alive(grandchild) {
		syscall.Kill(grandchild, syscall.SIGKILL)
		t.Fatalf("grandchild %d survived the timeout", grandchild)
	}
	if !res.TimedOut || res.Signal != "SIGTERM" || res.RC != -15 || res.Success() {
		t.Fatalf("result %+v", res)
	}
}

func TestTimeoutEscalatesToSIGKILLWhenTERMIsIgnored(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	// trap "" TERM makes the shell and the sleep it starts ignore SIGTERM.
	res := mustRun(t, context.Background(), Command{
		Argv:      sh(`trap "" TERM; sleep 300 & echo $! > ` + pidFile + `; wait`),
		Timeout:   100 * time.Millisecond,
		KillGrace: 200 * time.Millisecond,
	})
	grandchild := readPID(t, pidFile)
	if alive(grandchild) {
		syscall.Kill(grandchild, syscall.SIGKILL)
		t.Fatalf("grandchild %d survived SIGKILL", grandchild)
	}
	if !res.TimedOut || res.Signal != "SIGKILL" {
		t.Fatalf("result %+v", res)
	}
	if res.Duration < 300*time.Millisecond {
		t.Fatalf("killed after %v, before timeout+grace", res.Duration)
	}
}

func TestTimeoutKillsLingeringGrandchildAfterLeaderExits(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	// The leader dies of SIGTERM, the grandchild ignores it and must still go.
	res := mustRun(t, context.Background(), Command{
		Argv:      sh(`(trap "" TERM; exec sleep 300) & echo $! > ` + pidFile + `; sleep 300`),
		Timeout:   100 * time.Millisecond,
		KillGrace: 200 * time.Millisecond,
	})
	grandchild := readPID(t, pidFile)
	if alive(grandchild) {
		syscall.Kill(grandchild, syscall.SIGKILL)
		t.Fatalf("grandchild %d outlived Run", grandchild)
	}
	if !res.TimedOut {
		t.Fatalf("result %+v", res)
	}
}

func TestTimeoutWakesAStoppedProcess(t *testing.T) {
	// A stopped process acts on SIGTERM only after SIGCONT; without it Run
	// would wait the whole grace (an hour, which runBounded would catch) and
	// end with SIGKILL.
	res := runBounded(t, Command{
		Argv:      sh(`kill -STOP $$; sleep 300`),
		Timeout:   100 * time.Millisecond,
		KillGrace: time.Hour,
	})
	if res.Signal != "SIGTERM" {
		t.Fatalf("result %+v", res)
	}
}

func TestOutputLargerThanTheLimitKeepsTheEnd(t *testing.T) {
	var live bytes.Buffer
	res := mustRun(t, context.Background(), Command{
		Argv:        sh(`seq 1 100000; echo small >&2`),
		OutputLimit: 1000,
		Stdout:      &live,
	})
	if len(res.Stdout) != 1000 || !res.StdoutTruncated || !strings.HasSuffix(res.Stdout, "99999\n100000\n") {
		t.Fatalf("kept %d bytes, truncated %v, end %q", len(res.Stdout), res.StdoutTruncated, res.Stdout[max(0, len(res.Stdout)-20):])
	}
	if res.Stderr != "small\n" || res.StderrTruncated {
		t.Fatalf("stderr %q truncated %v", res.Stderr, res.StderrTruncated)
	}
	// The live copy gets everything.
	if n := strings.Count(live.String(), "\n"); n != 100000 || !strings.HasPrefix(live.String(), "1\n2\n") {
		t.Fatalf("live copy has %d lines", n)
	}
}

func TestPassthroughGivesTheFileItself(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The child sees a regular file as stdout, not a pipe.
	res := mustRun(t, context.Background(), Command{Argv: sh(`[ -f /dev/stdout ] && echo file || echo pipe`), Stdout: f, Passthrough: true})
	b, _ := os.ReadFile(f.Name())
	if string(b) != "file\n" || res.Stdout != "" {
		t.Fatalf("file has %q, captured %q", b, res.Stdout)
	}
}

func TestBackgroundProcessHoldingPipesDoesNotBlock(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	// Run must not wait for the background process (ten minutes, which
	// runBounded would catch).
	res := runBounded(t, Command{
		Argv:         sh(`sleep 600 & echo $! > ` + pidFile + `; echo done`),
		DrainTimeout: 100 * time.Millisecond,
	})
	bg := readPID(t, pidFile)
	defer syscall.Kill(bg, syscall.SIGKILL)
	if res.RC != 0 || res.Stdout != "done\n" || res.TimedOut {
		t.Fatalf("result %+v", res)
	}
	// Nothing the command started outlives it (issue 10 item 9).
	if !gone(bg) {
		t.Fatalf("background process %d outlived the command (alive: %v)", bg, alive(bg))
	}
}

func TestCancelForwardsTheSignalToTheGroup(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		waitForFile(t, ready)
		cancel(interrupt.Cause{Signal: syscall.SIGINT})
	}()
	res := mustRun(t, ctx, Command{
		Argv:      sh(`trap 'echo got INT >&2; exit 7' INT; echo ok > ` + ready + `; while :; do sleep 0.05; done`),
		KillGrace: 3 * time.Second,
	})
	if res.RC != 7 || !strings.Contains(res.Stderr, "got INT") || !res.Interrupted || res.TimedOut {
		t.Fatalf("result %+v", res)
	}
}

func TestPlainCancelSendsSIGTERM(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res := mustRun(t, ctx, Command{Argv: []string{"sleep", "300"}, KillGrace: time.Second})
	if res.Signal != "SIGTERM" || !res.Interrupted {
		t.Fatalf("result %+v", res)
	}
}

func TestTail(t *testing.T) {
	tl := newTail(5)
	tl.Write([]byte("ab"))
	if s, cut := tl.String(); s != "ab" || cut {
		t.Fatalf("%q %v", s, cut)
	}
	tl.Write([]byte("cde"))
	if s, cut := tl.String(); s != "abcde" || cut {
		t.Fatalf("exactly the limit: %q %v", s, cut)
	}
	for _, w := range []string{"f", "gh", "ijklmnop", "q"} {
		tl.Write([]byte(w))
	}
	if s, cut := tl.String(); s != "mnopq" || !cut {
		t.Fatalf("%q %v", s, cut)
	}
	// A cut through a multi-byte character drops its remains.
	u := newTail(4)
	u.Write([]byte("xé€")) // é is 2 bytes, € is 3: keeping 4 bytes cuts é
	if s, cut := u.String(); s != "€" || !cut {
		t.Fatalf("%q %v", s, cut)
	}
}

func TestSignalName(t *testing.T) {
	if SignalName(syscall.SIGTERM) != "SIGTERM" || SignalName(syscall.SIGKILL) != "SIGKILL" || SignalName(syscall.Signal(63)) != "SIG63" {
		t.Fatal(SignalName(syscall.SIGTERM), SignalName(syscall.Signal(63)))
	}
}

func TestTimeoutDuringOutputDrainIsNotATimeout(t *testing.T) {
	// The command exits at once; its background process keeps stdout open
	// past the timeout. The command did finish in time.
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	res := mustRun(t, context.Background(), Command{
		Argv:         sh(`sleep 30 & echo $! > ` + pidFile + `; exit 3`),
		Timeout:      100 * time.Millisecond,
		DrainTimeout: 400 * time.Millisecond,
	})
	bg := readPID(t, pidFile)
	defer syscall.Kill(bg, syscall.SIGKILL)
	if res.TimedOut || res.RC != 3 || res.Signal != "" {
		t.Fatalf("result %+v", res)
	}
}
