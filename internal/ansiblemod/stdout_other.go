//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package ansiblemod

import (
	"io"
	"os"
)

// guardStdout can only swap os.Stdout here: prints through os.Stdout are
// kept off the result, but child processes still inherit the real stdout.
func guardStdout() io.Writer {
	real := os.Stdout
	os.Stdout = os.Stderr
	return real
}
