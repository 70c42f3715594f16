// Package trustedfile reads the small files that decide what a gate or a
// guard does: canary_judge's --config, the checks of slo_check --checks
// @FILE and of qos_guard watch --checks-file, the freeze calendar. Whoever
// can replace such a file decides the outcome, and a careless path must
// neither hang the program nor exhaust its memory, so Read refuses:
//
//   - a file in a directory that every user may write without the sticky
//     bit (anyone could replace it);
//   - a file that every user may write;
//   - anything but a regular file: a device such as /dev/zero, a
//     directory, and a FIFO unless Options.Pipes (a one-shot CLI input
//     given by process substitution, --config <(...), is a pipe; a file
//     re-read later is not). The file is opened O_NONBLOCK, so a FIFO
//     that nothing writes is refused instead of blocking the open (and
//     SIGTERM) forever;
//   - more than Options.Limit bytes.
//
// Errors read after the path: "is writable by every user (mode 0666);
// anyone could lift a freeze", "cannot be read: permission denied".
package trustedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options say how much to read and what a replaced file would do.
type Options struct {
	// Limit is the most bytes the file may hold. Required.
	Limit int64
	// Consequence says what whoever can replace the file could do
	// ("anyone could lift a freeze"); it ends the messages that refuse a
	// file others may write.
	Consequence string
	// Pipes accepts a pipe (a FIFO) read to its end, as process
	// substitution gives; false refuses it as not a regular file.
	Pipes bool
}

// Read returns the content of the file at path.
func Read(path string, o Options) ([]byte, error) {
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err == nil && info.Mode()&0o002 != 0 && info.Mode()&fs.ModeSticky == 0 {
		return nil, fmt.Errorf("is in %s, which every user may write (not sticky); %s", dir, o.Consequence)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, unreadable(err)
	}
	defer f.Close()
	info, err := f.Stat()
	pipe := err == nil && info.Mode()&fs.ModeNamedPipe != 0 && o.Pipes
	switch {
	case err != nil:
		return nil, unreadable(err)
	case !info.Mode().IsRegular() && !pipe:
		return nil, fmt.Errorf("is not a regular file (%s)", kind(info.Mode()))
	case info.Mode().Perm()&0o002 != 0:
		return nil, fmt.Errorf("is writable by every user (mode %04o); %s", info.Mode().Perm(), o.Consequence)
	}
	data, err := io.ReadAll(io.LimitReader(f, o.Limit+1))
	switch {
	case err != nil:
		return nil, unreadable(err)
	case int64(len(data)) > o.Limit:
		return nil, fmt.Errorf("is larger than %d bytes", o.Limit)
	case pipe && len(data) == 0:
		return nil, errors.New("is a FIFO that nothing writes")
	}
	return data, nil
}

// unreadable drops the path from an *os.PathError: the caller names it.
func unreadable(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot be read: %v", err)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}
