package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestAppendCreatesFileAndDirectoryWithExactModes(t *testing.T) {
	old := syscall.Umask(0o077) // a strict umask must not narrow the modes asked for
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "threader-guard")
	path := filepath.Join(dir, "audit.jsonl")
	a, err := OpenAppend(path, AppendModes{File: 0o640, Dir: 0o750})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WriteLine([]byte(`{"a":1}` + "\n")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = OpenAppend(path, AppendModes{File: 0o640, Dir: 0o750})
	if err != nil {
		t.Fatal(err)
	}
	a.WriteLine([]byte(`{"b":2}` + "\n"))
	a.Close()
	data, _ := os.ReadFile(path)
	if string(data) != "{\"a\":1}\n{\"b\":2}\n" {
		t.Errorf("file holds %q", data)
	}
	for p, want := range map[string]os.FileMode{path: 0o640, dir: 0o750} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", p, info.Mode().Perm(), err, want)
		}
	}
}

func TestAppendRefusesSymlinksAndOpenDirectories(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	os.WriteFile(target, nil, 0o600)
	link := filepath.Join(base, "audit.jsonl")
	os.Symlink(target, link)
	if _, err := OpenAppend(link, AppendModes{File: 0o640, Dir: 0o750}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("a symlinked log: %v, want a refusal", err)
	}
	realDir := filepath.Join(base, "real")
	os.Mkdir(realDir, 0o750)
	os.Symlink(realDir, filepath.Join(base, "linkdir"))
	if _, err := OpenAppend(filepath.Join(base, "linkdir", "audit.jsonl"), AppendModes{File: 0o640, Dir: 0o750}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("a symlinked directory: %v, want a refusal", err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := OpenAppend(filepath.Join(open, "audit.jsonl"), AppendModes{File: 0o640, Dir: 0o750}); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Errorf("a world-writable directory: %v, want a refusal", err)
	}
	fifo := filepath.Join(realDir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err == nil {
		if _, err := OpenAppend(fifo, AppendModes{File: 0o640, Dir: 0o750}); err == nil {
			t.Errorf("a FIFO was accepted as the log")
		}
	}
	if _, err := OpenAppend(filepath.Join(base, "missing", "deeper", "audit.jsonl"), AppendModes{File: 0o640, Dir: 0o750}); err == nil {
		t.Errorf("a directory whose parent is missing was created")
	}
	if _, err := OpenAppend("relative.jsonl", AppendModes{File: 0o640, Dir: 0o750}); err == nil {
		t.Errorf("a relative path was accepted")
	}
}

func TestAppendRefusesPartialLines(t *testing.T) {
	a, err := OpenAppend(filepath.Join(t.TempDir(), "a.jsonl"), AppendModes{File: 0o640, Dir: 0o750})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, bad := range []string{"", "no newline", "two\nlines\n", strings.Repeat("x", MaxLine) + "\n"} {
		if err := a.WriteLine([]byte(bad)); err == nil {
			t.Errorf("WriteLine(%.20q) succeeded", bad)
		}
	}
}

// Concurrent appenders (separate descriptors, as separate processes have)
// never interleave within a line.
func TestConcurrentAppendsKeepLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	var wg sync.WaitGroup
	const writers, lines = 8, 50
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := OpenAppend(path, AppendModes{File: 0o640, Dir: 0o750})
			if err != nil {
				t.Error(err)
				return
			}
			defer a.Close()
			for i := range lines {
				line := fmt.Sprintf("%d-%d %s\n", w, i, strings.Repeat("z", 4000))
				if err := a.WriteLine([]byte(line)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	data, _ := os.ReadFile(path)
	got := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		if len(l) < 4000 || !bytes.HasSuffix(l, []byte(strings.Repeat("z", 4000))) {
			t.Fatalf("a torn line: %.40q", l)
		}
	}
}

func TestAppendWhereNoFileCanBeFails(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	paths := []string{filepath.Join(notDir, "audit.jsonl"), filepath.Join(notDir, "sub", "audit.jsonl")}
	if os.Geteuid() != 0 { // root may write a 0400 file
		ro := filepath.Join(t.TempDir(), "ro.jsonl")
		os.WriteFile(ro, nil, 0o400)
		paths = append(paths, ro)
	}
	for _, path := range paths {
		_, err := OpenAppend(path, AppendModes{File: 0o640, Dir: 0o750})
		var ae *Error
		if !errors.As(err, &ae) {
			t.Errorf("OpenAppend(%s) = %v, want an *Error", path, err)
		}
	}
}
