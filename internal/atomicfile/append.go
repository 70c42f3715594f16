package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Appender appends whole lines to a log file that is only ever appended
// to (the guard's audit log). Rules it keeps:
//   - Each line is one write(2) on an O_APPEND descriptor, followed by
//     fsync: concurrent writers on the host never interleave within a
//     line, and a line that was reported written survives a power loss.
//   - Nothing is followed if it is a symlink: the file is opened
//     O_NOFOLLOW, and the directory is refused if it is one (checked
//     with Lstat). A directory every user may write without the sticky
//     bit is refused (anyone could replace the log), and so is anything
//     but a regular file (opened O_NONBLOCK, so a planted FIFO cannot
//     hang the writer).
//   - A missing file is created with FileMode, a missing directory (only
//     the last one; its parent must exist) with DirMode, exactly, whatever
//     the umask.
type Appender struct {
	f    *os.File
	path string
}

// AppendModes are the modes OpenAppend creates with.
type AppendModes struct {
	File, Dir fs.FileMode
}

// MaxLine bounds one appended line.
const MaxLine = 64 << 10

// OpenAppend opens path for appending, creating it and its directory as
// needed. Opening first, before acting, lets a caller refuse an action
// it could not record.
func OpenAppend(path string, modes AppendModes) (*Appender, error) {
	if !filepath.IsAbs(path) {
		return nil, &Error{Op: "append to (the path must be absolute)", Path: path, Err: fs.ErrInvalid}
	}
	if err := ensureDir(filepath.Dir(path), modes.Dir); err != nil {
		return nil, err
	}
	f, created, err := openAppendFile(path, modes.File)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil && created {
		err = f.Chmod(modes.File) // exactly, whatever the umask
	}
	if err != nil {
		f.Close()
		return nil, &Error{Op: "append to", Path: path, Err: err}
	}
	return &Appender{f: f, path: path}, nil
}

// openAppendFile creates the file (O_EXCL, so created is true only for
// this writer) or opens the existing one, never through a symlink.
func openAppendFile(path string, mode fs.FileMode) (f *os.File, created bool, err error) {
	const flags = os.O_WRONLY | os.O_APPEND | syscall.O_NOFOLLOW | syscall.O_CLOEXEC | syscall.O_NONBLOCK
	f, err = os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, mode)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, &Error{Op: "create", Path: path, Err: err}
	}
	f, err = os.OpenFile(path, flags, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			err = errors.New("is a symlink; refusing to follow it")
		}
		return nil, false, &Error{Op: "open", Path: path, Err: err}
	}
	return f, false, nil
}

// ensureDir checks the directory, creating it with mode if it is missing.
func ensureDir(dir string, mode fs.FileMode) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return &Error{Op: "create the directory", Path: dir, Err: err}
		}
		if err := os.Chmod(dir, mode); err != nil {
			return &Error{Op: "chmod the directory", Path: dir, Err: err}
		}
		return nil
	}
	if err != nil {
		return &Error{Op: "read the directory", Path: dir, Err: err}
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return &Error{Op: "use the directory", Path: dir, Err: errors.New("is a symlink; refusing to follow it")}
	case !info.IsDir():
		return &Error{Op: "use the directory", Path: dir, Err: errors.New("not a directory")}
	case info.Mode()&0o002 != 0 && info.Mode()&fs.ModeSticky == 0:
		return &Error{Op: "use the directory", Path: dir, Err: errors.New("writable by every user and not sticky: anyone could replace the log")}
	}
	return nil
}

// WriteLine appends line, which must end in a newline and hold no other,
// in one write, and fsyncs the file.
func (a *Appender) WriteLine(line []byte) error {
	if len(line) == 0 || line[len(line)-1] != '\n' || len(line) > MaxLine {
		return &Error{Op: "append to", Path: a.path, Err: fmt.Errorf("a line must end in a newline and be at most %d bytes", MaxLine)}
	}
	for _, b := range line[:len(line)-1] {
		if b == '\n' {
			return &Error{Op: "append to", Path: a.path, Err: errors.New("a line must hold one newline, at its end")}
		}
	}
	n, err := a.writeOnce(line)
	if err == nil && n != len(line) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(line))
	}
	if err != nil {
		return &Error{Op: "append to", Path: a.path, Err: err}
	}
	if err := a.f.Sync(); err != nil {
		return &Error{Op: "fsync", Path: a.path, Err: err}
	}
	return nil
}

// writeOnce is exactly one write(2): os.File.Write would finish a short
// write with a second one, which another writer's line could land between.
func (a *Appender) writeOnce(line []byte) (n int, err error) {
	rc, err := a.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	ctlErr := rc.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), line)
			if !errors.Is(err, syscall.EINTR) {
				return true
			}
		}
	})
	if err == nil {
		err = ctlErr
	}
	if n < 0 {
		n = 0
	}
	return n, err
}

// Close closes the file.
func (a *Appender) Close() error { return a.f.Close() }
