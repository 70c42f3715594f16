//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package ansiblemod

import (
	"io"
	"os"
	"syscall"
)

// guardStdout points fd 1 at stderr and returns a writer on the real stdout
// (see the Linux version).
func guardStdout() io.Writer {
	fd, err := syscall.Dup(1)
	if err != nil {
		return os.Stdout
	}
	if err := syscall.Dup2(2, 1); err != nil {
		syscall.Close(fd)
		return os.Stdout
	}
	syscall.CloseOnExec(fd)
	real := os.NewFile(uintptr(fd), "/dev/stdout")
	os.Stdout = os.Stderr
	return real
}
