package runner

import (
	"errors"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes this process a child subreaper (Linux
// PR_SET_CHILD_SUBREAPER): orphans of the commands Run starts are reparented
// to it rather than to init, so Run can find and stop every one of them. Call
// it once, early, from a program that starts children only through Run (the
// retry_command CLI and module do); Run also reaps the orphans it takes over.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	subreaper.Store(true)
	return nil
}

// signalProc sends sig to p unless its pid now names another process: the
// pidfd pins the process, and its start time is checked after opening it.
func signalProc(p procInfo, sig unix.Signal) {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if errors.Is(err, unix.ENOSYS) { // kernels before 5.3
		if cur, ok := readProc(p.pid); ok && cur.start == p.start {
			unix.Kill(p.pid, sig)
		}
		return
	}
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if cur, ok := readProc(p.pid); ok && cur.start == p.start {
		unix.PidfdSendSignal(fd, sig, nil, 0)
	}
}
