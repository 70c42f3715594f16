package ansiblemod

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memArgsFile puts data in a close-on-exec memfd and returns a path that
// opens it.
func memArgsFile(data []byte) (string, func(), error) {
	fd, err := unix.MemfdCreate("ansible-args", unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, fmt.Errorf("memfd_create: %v (Linux 3.17 or later is needed)", err)
	}
	f := os.NewFile(uintptr(fd), "ansible-args")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { f.Close() }, nil
}
