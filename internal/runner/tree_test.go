package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMain makes the test binary a child subreaper, as the retry_command CLI
// and module are.
func TestMain(m *testing.M) {
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, "BecomeSubreaper:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// gone reports whether pid has no /proc entry: neither running nor a zombie
// left for someone to reap.
func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, os.ErrNotExist)
}

// escapee is a command whose grandchild leaves the process group and the
// session (setsid) and ignores SIGTERM, as does its own child, a sleep; it
// writes their pids to dir/gc and dir/sleep, then runs then.
func escapee(dir, then string) []string {
	return sh(fmt.Sprintf(`setsid sh -c 'trap "" TERM; sleep 1000 & echo $! > %[1]s/sleep; echo $$ > %[1]s/gc; wait' &
while [ ! -s %[1]s/gc ]; do sleep 0.01; done
%[2]s`, dir, then))
}

// assertEscapeesGone checks that the escapee's processes are gone and reaped.
func assertEscapeesGone(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"gc", "sleep"} {
		pid := readPID(t, filepath.Join(dir, name))
		if !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("%s %d outlived Run (alive: %v)", name, pid, alive(pid))
		}
	}
}

// Issue 10 item 9: a grandchild that called setsid() and ignores SIGTERM
// survived the timeout, which signalled only the process group.
func TestTimeoutKillsASetsidGrandchildThatIgnoresTERM(t *testing.T) {
	dir := t.TempDir()
	res := mustRun(t, context.Background(), Command{Argv: escapee(dir, "sleep 1000"), Timeout: 1500 * time.Millisecond, KillGrace: 200 * time.Millisecond})
	if !res.TimedOut || res.Signal != "SIGTERM" {
		t.Fatalf("result %+v", res)
	}
	assertEscapeesGone(t, dir)
}

func TestInterruptKillsASetsidGrandchildThatIgnoresTERM(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitForFile(t, filepath.Join(dir, "gc"))
		cancel()
	}()
	res := mustRun(t, ctx, Command{Argv: escapee(dir, "sleep 1000"), KillGrace: 200 * time.Millisecond})
	if !res.Interrupted {
		t.Fatalf("result %+v", res)
	}
	assertEscapeesGone(t, dir)
}

// A command that exits on its own leaves nothing running either.
func TestExitStopsWhatTheCommandLeftRunning(t *testing.T) {
	dir := t.TempDir()
	res := mustRun(t, context.Background(), Command{Argv: escapee(dir, "echo done; exit 3"), KillGrace: 200 * time.Millisecond})
	if res.RC != 3 || res.TimedOut || res.Interrupted || res.Stdout != "done\n" || res.Leftovers != 2 {
		t.Fatalf("result %+v", res)
	}
	assertEscapeesGone(t, dir)
}

// An orphan that exits on its own while the command still runs is reaped by
// Run (as a subreaper it is ours to reap), not left a zombie.
func TestOrphansThatExitAreReaped(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "orphan")
	res := mustRun(t, context.Background(), Command{Argv: sh(`(sleep 0.05 & echo $! > ` + pidFile + `); sleep 0.6`)})
	if res.RC != 0 {
		t.Fatalf("result %+v", res)
	}
	if pid := readPID(t, pidFile); !gone(pid) {
		t.Fatalf("orphan %d was not reaped (alive: %v)", pid, alive(pid))
	}
}

// Children of ours that Run did not start are not the command's, even while
// we are a subreaper.
func TestOtherChildrenAreLeftAlone(t *testing.T) {
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	dir := t.TempDir()
	mustRun(t, context.Background(), Command{Argv: escapee(dir, "exit 0"), KillGrace: 100 * time.Millisecond})
	assertEscapeesGone(t, dir)
	if !alive(other.Process.Pid) {
		t.Fatal("Run killed a child it did not start")
	}
	// Its exit status is still ours to read: Run reaped nothing but its own.
	other.Process.Signal(syscall.SIGTERM)
	if err := other.Wait(); err == nil || err.Error() != "signal: terminated" {
		t.Fatalf("Wait of the other child: %v", err)
	}
}

func TestParseStat(t *testing.T) {
	stat := "4242 (a) (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 200 18446744073709551615\n"
	p, ok := parseStat([]byte(stat))
	if !ok || p != (procInfo{pid: 4242, ppid: 17, pgid: 4242, sid: 4242, state: 'S', start: 98765}) {
		t.Fatalf("parseStat = %+v, %v", p, ok)
	}
	for _, bad := range []string{"", "4242 (x", "x (y) S 1 2 3", "4242 (y) S 1 2 3 4"} {
		if _, ok := parseStat([]byte(bad)); ok {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

// Kernels without /proc/PID/task/TID/children get the same result from a
// read of all of /proc.
func TestEscapeesAreFoundWithoutChildrenFiles(t *testing.T) {
	saved := haveChildrenFiles
	haveChildrenFiles = func() bool { return false }
	defer func() { haveChildrenFiles = saved }()
	dir := t.TempDir()
	mustRun(t, context.Background(), Command{Argv: escapee(dir, "exit 0"), KillGrace: 100 * time.Millisecond})
	assertEscapeesGone(t, dir)
}

func BenchmarkScan(b *testing.B) {
	tr := newTree()
	tr.start(os.Getpid())
	defer tr.finish()
	for i := 0; i < b.N; i++ {
		tr.scan()
	}
}

// A process that is both in the group and a descendant gets the forwarded
// signal once: to some programs (ansible-playbook with SIGINT) a second one
// means "abort at once" instead of "stop cleanly".
func TestForwardedSignalReachesEachProcessOnce(t *testing.T) {
	dir := t.TempDir()
	count, ready := filepath.Join(dir, "count"), filepath.Join(dir, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitForFile(t, ready)
		cancel()
	}()
	// The child counts the SIGTERMs it gets for a while, then exits.
	child := `trap "echo x >> ` + count + `" TERM; echo ok > ` + ready + `; n=0; while [ $n -lt 50 ]; do sleep 0.02; n=$((n+1)); done`
	mustRun(t, ctx, Command{Argv: sh(`sh -c '` + child + `' & wait`), KillGrace: 5 * time.Second})
	if b, _ := os.ReadFile(count); string(b) != "x\n" {
		t.Fatalf("the child got %d SIGTERMs, want 1", len(b)/2)
	}
}

// A moving target: a process in its own session that forks, exits and
// lets its child do the same, as fast as it can, ignoring SIGTERM. Each
// link lives less than a scan takes, so a signal sent to the pid a scan saw
// finds it gone, and a scan can miss the link in flight to us and find
// nothing; before the fix the chain outlived Run in about one run of five
// (and forked forever under init), so the test runs it ten times. Every
// link holds a FIFO open for writing: its reader sees end-of-file only once
// the whole chain is gone.
func TestAForkingChainInItsOwnSessionIsStopped(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("needs perl (perl-base) for a fork loop without exec")
	}
	for i := 1; i <= 10; i++ {
		dir := t.TempDir()
		fifo, pgidFile := filepath.Join(dir, "fifo"), filepath.Join(dir, "pgid")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		chain := `perl -e '$SIG{TERM} = "IGNORE"; use POSIX; POSIX::setsid(); open(W, ">", $ARGV[0]) or die; open(F, ">", $ARGV[1]); print F getpgrp(); close(F); while (1) { exit if fork; }' ` + fifo + ` ` + pgidFile + ` &
while [ ! -s ` + pgidFile + ` ]; do sleep 0.01; done
sleep 1000`
		mustRun(t, context.Background(), Command{Argv: sh(chain), Timeout: 300 * time.Millisecond, KillGrace: 50 * time.Millisecond})
		pgid := readPID(t, pgidFile)
		r.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard: the chain is gone at once or never
		_, err = r.Read(make([]byte, 1))
		r.Close()
		if err != io.EOF {
			syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("run %d: the forking chain (group %d) outlived Run: read of its FIFO: %v", i, pgid, err)
		}
	}
}
