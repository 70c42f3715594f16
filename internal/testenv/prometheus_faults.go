package testenv

import (
	"path/filepath"
	"syscall"
	"testing"
)

// Faults for the tests of what a gate does while Prometheus is down, hung or
// back: Stop (prometheus.go), Pause, Resume and Restart.

// Pause stops the server with SIGSTOP: its socket stays open and accepts
// connections, but nothing answers, as with a hung or badly overloaded
// server. The test's cleanup resumes it, so Stop does not wait on it.
func (p *Prometheus) Pause(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(p.proc.Cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP prometheus: %v", err)
	}
	t.Cleanup(p.Resume)
}

// Resume continues a paused server (SIGCONT).
func (p *Prometheus) Resume() { syscall.Kill(p.proc.Cmd.Process.Pid, syscall.SIGCONT) }

// Restart starts a stopped server again, on the same port and data, and
// waits until it is ready.
func (p *Prometheus) Restart(t testing.TB) {
	t.Helper()
	if !p.proc.Exited() {
		t.Fatal("Prometheus.Restart: the server is still running; Stop it first")
	}
	p.start(t, filepath.Dir(p.Dir))
}
