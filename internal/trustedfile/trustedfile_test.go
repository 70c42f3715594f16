package trustedfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const anyone = "anyone could make the gate pass"

func TestReadRefusesWhatOthersControlOrThatNeverEnds(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // umask
		t.Fatal(err)
	}
	inOpen := filepath.Join(open, "judge.yml")
	if err := os.WriteFile(inOpen, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{write("everyone", 0o666, "x"), "is writable by every user (mode 0666); " + anyone},
		{inOpen, "is in " + open + ", which every user may write (not sticky); " + anyone},
		{fifo, "is not a regular file (a FIFO)"}, // used to block the open forever
		{"/dev/zero", "is not a regular file (a character device)"},
		{dir, "is not a regular file (a directory)"},
		{write("big", 0o600, strings.Repeat("x", 11)), "is larger than 10 bytes"},
		{filepath.Join(dir, "missing"), "cannot be read: no such file or directory"},
	} {
		if data, err := Read(tc.path, Options{Limit: 10, Consequence: anyone}); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.path, data, err, tc.want)
		}
	}
	if data, err := Read(write("ok", 0o644, "0123456789"), Options{Limit: 10, Consequence: anyone}); err != nil || string(data) != "0123456789" {
		t.Errorf("a file of the limit: %q, %v", data, err)
	}
}

// With Pipes, process substitution (--config <(...)) works; a FIFO that
// nothing writes is still refused, not waited on.
func TestReadPipes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { w.Write([]byte("metrics: []\n")); w.Close() }()
	substituted := fmt.Sprintf("/proc/self/fd/%d", r.Fd())
	if data, err := Read(substituted, Options{Limit: 100, Pipes: true}); err != nil || string(data) != "metrics: []\n" {
		t.Errorf("a written pipe: %q, %v", data, err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(fifo, Options{Limit: 100, Pipes: true}); err == nil || err.Error() != "is a FIFO that nothing writes" {
		t.Errorf("an unwritten FIFO: %v", err)
	}
}
