package ansiblemod

import (
	"io"
	"os"
	"syscall"
)

// guardStdout points fd 1 at stderr and returns a writer on the real stdout,
// so that stray prints, and child processes that inherit fd 1, cannot add
// text to the one JSON object Ansible reads. (Linux has no dup2 on every
// architecture; dup3 it has.)
func guardStdout() io.Writer {
	return redirectStdout(func(from, to int) error { return syscall.Dup3(from, to, 0) })
}

func redirectStdout(dup2 func(from, to int) error) io.Writer {
	fd, err := syscall.Dup(1)
	if err != nil {
		return os.Stdout
	}
	if err := dup2(2, 1); err != nil {
		syscall.Close(fd)
		return os.Stdout
	}
	syscall.CloseOnExec(fd)
	real := os.NewFile(uintptr(fd), "/dev/stdout")
	os.Stdout = os.Stderr
	return real
}
