package tests

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Every CLI stops on SIGINT, SIGTERM and SIGHUP through one helper
// (internal/interrupt) and exits 128+N. Before, qos_guard status --wait
// did not catch them (the default action killed it mid-wait, with no exit
// code), and slo_check ignored SIGHUP's number.
func TestCLIsExit128PlusSignal(t *testing.T) {
	guardPath := filepath.Join(t.TempDir(), "guard")
	qos := testenv.BuildCLI(t, "qos_guard")
	if out, code := testenv.Run(t, nil, qos, "--path", guardPath, "--no-syslog", "lock", "5"); code != 0 {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run("qos_guard status --wait/"+sig.String(), func(t *testing.T) {
			// The handler is installed first thing; the delay only leaves time
			// for the program to start. A program killed by the signal itself
			// (the default action: no exit code) had not started yet on a
			// loaded machine: it is tried again with a longer delay, and
			// only the last try's outcome counts.
			var cmd *exec.Cmd
			var stderr strings.Builder
			for _, delay := range []time.Duration{time.Second, 5 * time.Second, 20 * time.Second} {
				cmd = exec.Command(qos, "--path", guardPath, "--no-syslog", "--wait", "5m", "status")
				stderr.Reset()
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer cmd.Process.Kill()
				time.Sleep(delay)
				cmd.Process.Signal(sig)
				done := make(chan struct{})
				go func() { cmd.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(60 * time.Second): // a hang guard
					t.Fatalf("qos_guard did not stop on %v", sig)
				}
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					break
				}
				t.Logf("killed by %v before it had started (after %s): trying again with a longer delay", sig, delay)
			}
			if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, 128+int(sig), stderr.String())
			}
		})
	}
}
