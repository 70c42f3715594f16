//go:build !linux

package runner

import (
	"errors"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper is Linux only (PR_SET_CHILD_SUBREAPER); elsewhere Run
// still stops the descendants it sees, but orphans go to init.
func BecomeSubreaper() error {
	return errors.New("a child subreaper needs Linux")
}

// signalProc sends sig to p if its pid still names it (no pidfd here, so a
// pid reused between the check and the kill cannot be ruled out).
func signalProc(p procInfo, sig unix.Signal) {
	if cur, ok := readProc(p.pid); ok && cur.start == p.start {
		unix.Kill(p.pid, sig)
	}
}
