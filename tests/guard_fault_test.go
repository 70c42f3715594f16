package tests

// Fault tests for the guard's lock file and the metrics textfile (issue 10,
// standing defences): writers killed at random, a full file system and a
// read-only one. Whatever happens, a reader sees a valid file, the latest
// completed lock is never lost, and a failed write says why and leaves the
// previous file as it was.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/testenv"
)

// Writers of the lock file and of the metrics textfile are SIGKILLed at
// random points while a reader checks every version it sees. Killed writers
// may leave temporary files, never a partial lock file or textfile, and the
// expiry of every lock that completed survives.
func TestGuardSIGKILLStormOnLockAndTextfileWriters(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	dir := t.TempDir()
	path := filepath.Join(dir, "g")
	textfile := filepath.Join(dir, "g.prom")

	stop := make(chan struct{})
	readerDone := make(chan []string)
	go func() { readerDone <- readUntil(stop, path, textfile) }()

	type done struct {
		desired time.Time // a lower bound of the expiry it set
		ok      bool
	}
	const writers, parallel = 160, 8
	results := make(chan done, writers)
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 1; i <= writers; i++ {
		slots <- struct{}{}
		wg.Add(1)
		go func(minutes int) {
			defer wg.Done()
			defer func() { <-slots }()
			cmd := exec.Command(bin, "--path", path, "--no-syslog", "--metrics-textfile", textfile,
				"--name", fmt.Sprintf("n%d", minutes%5), "--reason", fmt.Sprintf("lock %d", minutes), "lock", fmt.Sprint(minutes))
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Error(err)
				return
			}
			if minutes%3 != 0 { // two writers in three are killed somewhere in their run
				time.Sleep(time.Duration(rand.IntN(8000)) * time.Microsecond)
				cmd.Process.Signal(syscall.SIGKILL)
			}
			err := cmd.Wait()
			results <- done{desired: start.Add(time.Duration(minutes) * time.Minute), ok: err == nil}
		}(i)
	}
	wg.Wait()
	close(stop)
	close(results)
	for _, bad := range <-readerDone {
		t.Error(bad)
	}
	var latest time.Time
	completed := 0
	for r := range results {
		if r.ok {
			completed++
			if r.desired.After(latest) {
				latest = r.desired
			}
		}
	}
	if completed < writers/3 {
		t.Fatalf("only %d writers completed; the storm tests nothing", completed)
	}
	st, err := (&guard.Guard{Path: path}).Status()
	if err != nil || st.Format != guard.FormatJSON || !st.Locked {
		t.Fatalf("after the storm: %+v, %v; want a valid lock", st, err)
	}
	// A lock within guard.Slack of the current expiry changes nothing.
	if st.ExpiresAt.Before(latest.Add(-guard.Slack).Truncate(time.Second)) {
		t.Fatalf("expiry %v lost a completed lock's %v", st.ExpiresAt, latest)
	}
	leftovers := regexp.MustCompile(`^(g|g\.prom|g\.lock|g\.prom\.lock|\.g\.[0-9]+\.tmp|\.g\.prom\.[0-9]+\.tmp)$`)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !leftovers.MatchString(e.Name()) {
			t.Errorf("unexpected file %s after the storm", e.Name())
		}
	}
}

// readUntil reads the lock file and the textfile until stop is closed and
// returns every problem it saw: a lock file that is not valid JSON, or a
// textfile that does not parse.
func readUntil(stop <-chan struct{}, path, textfile string) (problems []string) {
	g := &guard.Guard{Path: path}
	for reads := 0; ; reads++ {
		select {
		case <-stop:
			if reads == 0 {
				problems = append(problems, "the reader never ran")
			}
			return problems
		default:
		}
		st, err := g.Status()
		if err != nil || (st.Format != guard.FormatJSON && st.Format != guard.FormatNone) {
			problems = append(problems, fmt.Sprintf("read %d: lock file %+v, %v", reads, st, err))
		}
		data, err := os.ReadFile(textfile)
		if err == nil {
			parser := expfmt.NewTextParser(model.LegacyValidation)
			if _, perr := parser.TextToMetricFamilies(bytes.NewReader(data)); perr != nil || len(data) == 0 {
				problems = append(problems, fmt.Sprintf("read %d: textfile does not parse (%v): %q", reads, perr, data))
			}
		}
		if len(problems) > 5 {
			<-stop
			return problems
		}
	}
}

// A full file system: the lock and the textfile cannot be replaced. The
// lock fails naming the missing space, the previous lock reads as it was,
// and the textfile keeps its previous content.
func TestGuardOnAFullFileSystem(t *testing.T) {
	dir := mountScratch(t, "tmpfs", "size=256k")
	bin := testenv.BuildCLI(t, "qos_guard")
	path := filepath.Join(dir, "g")
	textfile := filepath.Join(dir, "g.prom")
	cli := func(args ...string) (string, int) {
		return testenv.Run(t, nil, bin, append([]string{"--path", path, "--no-syslog", "--metrics-textfile", textfile}, args...)...)
	}
	if out, code := cli("--reason", "first", "lock", "10"); code != 0 {
		t.Fatalf("first lock: %d %s", code, out)
	}
	before := lockFields(t, bin, path)
	promBefore, _ := os.ReadFile(textfile)
	fillUp(t, filepath.Join(dir, "filler"))

	out, code := cli("--reason", "second", "lock", "60")
	if code != 1 || !strings.Contains(out, "no space left in "+dir) || !strings.Contains(out, "the previous lock file is unchanged") {
		t.Errorf("lock on a full file system: %d %q, want exit 1 naming the missing space", code, out)
	}
	if after := lockFields(t, bin, path); after["reason"] != "first" || after["expires_at"] != before["expires_at"] || after["revision"] != before["revision"] {
		t.Errorf("the previous lock changed: %v, was %v", after, before)
	}
	if promAfter, _ := os.ReadFile(textfile); !bytes.Equal(promAfter, promBefore) {
		t.Errorf("the textfile changed on a full file system:\n%s\nwas\n%s", promAfter, promBefore)
	}
	if out, code := cli("unlock"); code != 1 || !strings.Contains(out, "no space left") {
		t.Errorf("unlock on a full file system: %d %q", code, out)
	}
	os.Remove(filepath.Join(dir, "filler"))
	if out, code := cli("--reason", "second", "lock", "60"); code != 0 || !strings.Contains(out, "second") {
		t.Errorf("lock once space is back: %d %q", code, out)
	}
}

// A read-only file system: no write can happen; the error says so and the
// lock reads as it was (still locked: status exits 1).
func TestGuardOnAReadOnlyFileSystem(t *testing.T) {
	dir := t.TempDir()
	bin := testenv.BuildCLI(t, "qos_guard")
	path := filepath.Join(dir, "g")
	cli := func(args ...string) (string, int) {
		return testenv.Run(t, nil, bin, append([]string{"--path", path, "--no-syslog"}, args...)...)
	}
	if out, code := cli("--reason", "first", "lock", "10"); code != 0 {
		t.Fatalf("first lock: %d %s", code, out)
	}
	before := lockFields(t, bin, path)
	remountReadOnly(t, dir)
	for _, args := range [][]string{{"--reason", "second", "lock", "60"}, {"unlock"}} {
		out, code := cli(args...)
		if code != 1 || !strings.Contains(out, "read-only file system") || !strings.Contains(out, path+".lock") {
			t.Errorf("%v on a read-only file system: %d %q, want exit 1 saying so", args, code, out)
		}
	}
	if after := lockFields(t, bin, path); after["reason"] != "first" || after["expires_at"] != before["expires_at"] || after["locked"] != true {
		t.Errorf("the lock changed: %v, was %v", after, before)
	}
	if _, code := cli("status"); code != 1 {
		t.Errorf("status exited %d, want 1 (locked)", code)
	}
}

func lockFields(t *testing.T, bin, path string) map[string]any {
	t.Helper()
	out, _ := testenv.Run(t, nil, bin, "--path", path, "--no-syslog", "--json", "status")
	var f map[string]any
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("status --json: %v: %q", err, out)
	}
	return f
}

// requireRoot skips tests that mount file systems when not run as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs or a read-only bind mount needs root; run the tests as root to cover the full and read-only file system faults")
	}
}

// mountScratch mounts a file system of its own on a new directory and
// unmounts it when the test ends.
func mountScratch(t *testing.T, fstype, options string) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", fstype, "-o", options, fstype, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount %s on %s: %v %s", fstype, dir, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// remountReadOnly bind-mounts dir on itself read-only until the test ends.
func remountReadOnly(t *testing.T, dir string) {
	t.Helper()
	requireRoot(t)
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Fatalf("bind mount %s: %v %s", dir, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s read-only: %v %s", dir, err, out)
	}
}

// fillUp writes path until the file system is full, to the last byte.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{4096, 1} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}
