//go:build !linux

package ansiblemod

import (
	"errors"
	"runtime"
)

// memArgsFile needs memfd_create, which only Linux has; elsewhere RunStdin
// fails with this error rather than writing the arguments to disk.
func memArgsFile([]byte) (string, func(), error) {
	return "", nil, errors.New("module arguments on stdin are only supported on Linux, not " + runtime.GOOS)
}
