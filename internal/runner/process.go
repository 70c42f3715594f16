// Package runner runs one command as its own process group, with a timeout
// that kills the whole tree, capped output capture and signal forwarding; and
// retries it on the schedule of package backoff (see Retry).
//
// A command never goes through a shell here: Argv is executed directly. To
// run a shell command line, pass {"/bin/sh", "-c", line} explicitly; to turn a
// command line into Argv without a shell, use SplitCommand.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// DefaultKillGrace is the usual time between SIGTERM and SIGKILL. Run does not
// apply it by itself (a zero KillGrace means SIGKILL at once); the module and
// the CLI use it as the default of kill_grace_seconds.
const DefaultKillGrace = 5 * time.Second

// DefaultDrainTimeout is how long Run keeps reading a command's output after
// the command exits while a background process it left still holds the pipes.
const DefaultDrainTimeout = time.Second

// killSettleTimeout bounds the wait for SIGKILL to take effect.
const killSettleTimeout = time.Second

// Command describes one process to run. The zero values are safe defaults
// except Argv, which must name a program.
type Command struct {
	// Argv is the program and its arguments, run directly (never by a shell).
	// A program name without a slash is looked up in PATH.
	Argv []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Env is added to the inherited environment, replacing variables of the
	// same name.
	Env map[string]string
	// Stdin is written to the command's standard input; empty means the
	// command reads /dev/null (unless StdinFile is set).
	Stdin string
	// StdinFile, if set, is given to the command as its standard input as is
	// (the CLI passes its own stdin through). It overrides Stdin.
	StdinFile *os.File

	// Timeout limits the run. When it expires the whole process group and
	// every other descendant get SIGTERM (and SIGCONT, so stopped processes
	// can act on it), then SIGKILL after KillGrace unless they are gone by
	// then. Zero means no limit.
	Timeout time.Duration
	// KillGrace is the time between SIGTERM (or a forwarded signal) and
	// SIGKILL, for the command after a timeout or an interruption, and for
	// the processes it leaves behind when it exits. Zero sends SIGKILL right
	// after the first signal.
	KillGrace time.Duration

	// OutputLimit is how many bytes of the end of stdout and of stderr are
	// kept; zero means DefaultOutputLimit.
	OutputLimit int
	// Stdout and Stderr, if set, receive a live copy of the output as it is
	// produced (the CLI streams through them). Write errors there are ignored.
	Stdout, Stderr io.Writer
	// Passthrough gives Stdout and Stderr to the command itself instead of
	// capturing: when they are *os.File (a terminal, the CLI's own stdout)
	// the command writes to them directly and sees a terminal (line
	// buffering, colours). Run captures nothing then: Result.Stdout and
	// Result.Stderr stay empty. A nil Stdout or Stderr means /dev/null.
	Passthrough bool
	// DrainTimeout bounds how long output is still read after the command
	// exits, when a background process it started keeps the pipes open;
	// zero means DefaultDrainTimeout. Output written later is lost.
	DrainTimeout time.Duration
}

// Result is what one run of a Command did.
type Result struct {
	// Argv is the command that ran.
	Argv []string
	// RC is the exit status. A command killed by signal N has RC -N (as
	// Python's subprocess and ansible.builtin.command report it). A command
	// that could not be started has 127 (not found) or 126 (any other
	// reason), as a shell would.
	RC int
	// Signal names the signal that killed the command ("SIGTERM"), or "".
	Signal string
	// TimedOut is true when the Timeout expired and Run stopped the command.
	TimedOut bool
	// Interrupted is true when the context was canceled while the command ran
	// and Run forwarded a signal to it.
	Interrupted bool
	// Leftovers counts the processes the command left running when it
	// exited, which Run then stopped (see Command.KillGrace).
	Leftovers int
	// Duration is the wall-clock time from start to exit.
	Duration time.Duration
	// Stdout and Stderr are the ends of the output, at most OutputLimit
	// bytes each; the flags say whether anything before was cut.
	Stdout, Stderr                   string
	StdoutTruncated, StderrTruncated bool
}

// Success reports whether the command ran and exited 0.
func (r Result) Success() bool { return r.RC == 0 && r.Signal == "" && !r.TimedOut }

// StartError means the command could not be started at all (not found, not
// executable, bad working directory). It is never worth retrying.
type StartError struct {
	Argv []string
	Err  error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("cannot run %s: %v", e.Argv[0], e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Validate reports the first problem with c, naming the field.
func (c Command) Validate() error {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return errors.New("argv: the command is empty")
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("env: invalid variable name %q", k)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout must be >= 0 (0 means none), got %v", c.Timeout)
	}
	if c.KillGrace < 0 {
		return fmt.Errorf("kill grace must be >= 0, got %v", c.KillGrace)
	}
	if c.OutputLimit < 0 {
		return fmt.Errorf("output limit must be >= 0, got %d", c.OutputLimit)
	}
	return nil
}

// Run starts c, waits for it and returns what it did. The error is non-nil
// only when c is invalid or could not be started (a *StartError); a command
// that ran and failed is described by Result alone.
//
// When ctx is canceled while the command runs, the signal named by an
// interrupt.Cause (SIGTERM otherwise) goes to the whole process group and
// every other descendant of the command, then SIGKILL after KillGrace. When
// the command exits on its own, whatever it left running gets SIGTERM, then
// SIGKILL after KillGrace, too. Run returns only once all of it is gone (or a
// bounded time after SIGKILL), so nothing the command started outlives it;
// see tree.go for how descendants are found, and what stays out of reach.
func Run(ctx context.Context, c Command) (Result, error) {
	res := Result{Argv: append([]string(nil), c.Argv...), RC: 126}
	if err := c.Validate(); err != nil {
		return res, err
	}
	limit := c.OutputLimit
	if limit == 0 {
		limit = DefaultOutputLimit
	}
	stdout, stderr := newTail(limit), newTail(limit)

	// The hard-kill context is canceled only when the grace is over; its
	// Cancel hook SIGKILLs the group and WaitDelay bounds the pipe reads.
	hardCtx, hardKill := context.WithCancel(context.Background())
	defer hardKill()
	cmd := exec.CommandContext(hardCtx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = environ(c.Env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = c.DrainTimeout
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = DefaultDrainTimeout
	}
	switch {
	case c.StdinFile != nil:
		cmd.Stdin = c.StdinFile
	case c.Stdin != "":
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	if c.Passthrough {
		if c.Stdout != nil {
			cmd.Stdout = c.Stdout
		}
		if c.Stderr != nil {
			cmd.Stderr = c.Stderr
		}
	} else {
		cmd.Stdout = &teeWriter{capture: stdout, live: c.Stdout}
		cmd.Stderr = &teeWriter{capture: stderr, live: c.Stderr}
	}

	if ctx.Err() != nil {
		res.Interrupted = true
		return res, &StartError{Argv: c.Argv, Err: context.Cause(ctx)}
	}
	if err := checkDir(c.Dir); err != nil {
		return res, &StartError{Argv: c.Argv, Err: err}
	}
	t := newTree() // before the start: our children then are not the command's
	start := time.Now()
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			res.RC = 127
		}
		return res, &StartError{Argv: c.Argv, Err: err}
	}

	t.start(cmd.Process.Pid)
	defer t.finish()
	exited := make(chan struct{})
	supervised := make(chan supervision, 1)
	go func() {
		supervised <- supervise(ctx, t, cmd.Process.Pid, c.Timeout, c.KillGrace, exited, hardKill)
	}()
	cmd.Wait() // the exit status is read from ProcessState below
	res.Duration = time.Since(start)
	close(exited)
	sv := <-supervised

	res.TimedOut, res.Interrupted, res.Leftovers = sv.timedOut, sv.interrupted, sv.leftovers
	res.RC, res.Signal = exitStatus(cmd.ProcessState)
	res.Stdout, res.StdoutTruncated = stdout.String()
	res.Stderr, res.StderrTruncated = stderr.String()
	return res, nil
}

// supervision is what the supervisor did to the command.
type supervision struct {
	timedOut, interrupted bool
	leftovers             int
}

// supervise follows the command's processes until the leader exits, the
// timeout expires or ctx is done; then it stops whatever is left of the
// command (see tree.stop): after a timeout or an interruption the whole tree
// and process group, after an exit the processes the command left behind.
func supervise(ctx context.Context, t *tree, pgid int, timeout, grace time.Duration, exited <-chan struct{}, hardKill func()) supervision {
	var sv supervision
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	track := time.NewTicker(trackInterval)
	defer track.Stop()
	leftovers := func() supervision {
		sv.leftovers = t.stop(pgid, syscall.SIGTERM, grace, nil)
		return sv
	}
	for {
		select {
		case <-exited:
			return leftovers()
		case <-track.C:
			// Learn of grandchildren before their parents exit; and once the
			// leader has exited, stop its leftovers now, so that the output
			// pipes they hold close and Wait returns.
			if _, leaderAlive, _ := t.scan(); !leaderAlive {
				return leftovers()
			}
		case <-expired:
			if leaderExited(pgid) {
				// The command finished in time; only processes it left
				// still hold the output pipes.
				return leftovers()
			}
			sv.timedOut = true
			t.stop(pgid, syscall.SIGTERM, grace, hardKill)
			return sv
		case <-ctx.Done():
			sv.interrupted = true
			t.stop(pgid, forwardedSignal(ctx), grace, hardKill)
			return sv
		}
	}
}

// exitStatus turns a wait status into (rc, signal name).
func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return 126, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal()), SignalName(ws.Signal())
	}
	return ps.ExitCode(), ""
}

// environ returns the inherited environment with extra added; exec uses the
// last value of a duplicated name, so extra wins.
func environ(extra map[string]string) []string {
	env := os.Environ()
	if len(extra) == 0 {
		return env
	}
	names := make([]string, 0, len(extra))
	for k := range extra {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// checkDir gives a clear error for a bad working directory, which exec would
// report as a confusing "no such file" about the program.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("chdir: %s is not a directory", dir)
	}
	return nil
}
