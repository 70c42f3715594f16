package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// These tests attack the action plugins' binary cache on the target as
// another local user would (issue 10, items 1 and 13), and check that a
// task's environment stays off the remote command line (item 10), through
// real ansible-playbook runs.

const (
	nobodyUID   = 65534 // the victim: a service account without a home (/nonexistent)
	attackerUID = 23456 // any other local user
)

// sharedDir makes a directory like /tmp (root's, 1777) under a base that
// every uid may enter, removed after the test.
func sharedDir(t *testing.T) (base, shared string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test acts as nobody and as an attacker uid: run it as root")
	}
	base, err := os.MkdirTemp("", "tg-cache-attack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	shared = filepath.Join(base, "shared")
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{base, 0o755}, {shared, os.ModeSticky | 0o777}} {
		os.Mkdir(d.path, 0o700)
		if err := os.Chmod(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	return base, shared
}

// asUser runs a shell script as uid (no groups), failing the test on error.
func asUser(t *testing.T, uid int, script string, args ...string) {
	t.Helper()
	setpriv := testenv.RequireBinary(t, "setpriv", "util-linux")
	id := fmt.Sprint(uid)
	argv := append([]string{"--reuid", id, "--regid", id, "--clear-groups", "sh", "-c", script, "-"}, args...)
	if out, err := exec.Command(setpriv, argv...).CombinedOutput(); err != nil {
		t.Fatalf("as uid %d: %v\n%s", uid, err, out)
	}
}

// plantBinary puts, as the attacker, a program at ROOT/SHA/threader-guard
// with a stat record that matches it, as the plugin writes after a SHA-256
// check: before the fix, the victim's next task ran it without hashing it.
func plantBinary(t *testing.T, root, sha, marker string) {
	t.Helper()
	asUser(t, attackerUID, `set -e
d=$1/$2 b=$1/$2/threader-guard
mkdir -p -m 755 "$d"
printf '#!/bin/sh\ntouch %s\necho "{\\"changed\\": false, \\"msg\\": \\"EVIL\\"}"\n' "$3" >"$b"
chmod 755 "$b"
printf '%s %s\n' "$(stat -c '%d:%i:%s:%Y:%z' "$b")" "$2" >"$b.ok"`, root, sha, marker)
}

// A local user pre-creates the cache of a service account without a home
// (the fallback in $TMPDIR) with their own program and a matching stat
// record. The next task run as that account (become: nobody) must not run
// it: the plugin uses a fresh private directory instead, sends the binary
// there once, and finds it again on the next play.
func TestActionPluginNeverRunsABinaryPlantedInTheFallbackCache(t *testing.T) {
	base, shared := sharedDir(t)
	e := newPluginEnv(t)
	pwned := filepath.Join(base, "pwned")
	os.Mkdir(pwned, 0o777)
	os.Chmod(pwned, 0o777)
	marker := filepath.Join(pwned, "ran")
	amd64 := e.sums(t)["amd64"]
	planted := filepath.Join(shared, fmt.Sprintf("threader.guard-%d", nobodyUID))
	plantBinary(t, planted, amd64, marker)

	work := filepath.Join(base, "work")
	os.Mkdir(work, 0o777)
	os.Chmod(work, 0o777|os.ModeSticky) // sticky: the guard refuses a directory anyone may write otherwise
	playbook := fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  become: true
  become_method: su
  become_user: nobody
  become_flags: "-s /bin/sh"
  tasks:
    - name: status as nobody
      threader.guard.qos_guard: {state: status, path: %s/guard}
`, work)
	env := []string{"TMPDIR=" + shared}
	for round, wantSent := range []int{1, 0} {
		run := e.play(t, "target ansible_connection=local\n", playbook, env)
		mustSucceed(t, run)
		if st := run.Task(t, "status as nobody"); st.Result["locked"] != false || st.Result["msg"] == "EVIL" {
			t.Errorf("round %d: status: %v", round, st.Result)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("round %d: the planted program ran as the victim", round)
		}
		if n := strings.Count(run.Output, sentMarker); n != wantSent {
			t.Errorf("round %d: sent the binary %d times, want %d", round, n, wantSent)
		}
	}
	private, _ := filepath.Glob(planted + ".??????")
	if len(private) != 1 {
		t.Fatalf("want one private cache beside the planted one, found %v", private)
	}
	bin := filepath.Join(private[0], amd64, "threader-guard")
	assertPrivate(t, bin, nobodyUID)
	if got := fileSHA256(t, bin); got != amd64 {
		t.Errorf("cached binary sha256 %s, want %s", got, amd64)
	}
	if _, err := os.Lstat(filepath.Join(planted, amd64, "threader-guard")); err != nil {
		t.Errorf("the planted files were touched: %v", err)
	}
}

// A cache dir the user names, shared like /var/tmp, is never chmod-ed or
// pruned: the plugin keeps to its own subdirectory threader.guard-UID.
func TestActionPluginKeepsToItsSubdirectoryOfAGivenCacheDir(t *testing.T) {
	_, shared := sharedDir(t)
	e := newPluginEnv(t)
	other := filepath.Join(shared, "0123456789abcdef0123") // named like an old version
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-60 * 24 * time.Hour)
	os.Chtimes(other, old, old)
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", shared)
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: status
      threader.guard.qos_guard: {state: status, path: %s/guard}
`, e.dir), nil)
	mustSucceed(t, run)
	fi, err := os.Stat(shared)
	if err != nil || fi.Mode()&(os.ModePerm|os.ModeSticky) != os.ModePerm|os.ModeSticky {
		t.Errorf("the shared cache dir was changed: %v %v, want drwxrwxrwt", fi.Mode(), err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("an entry the plugin did not create was removed: %v", err)
	}
	bin := cachedBinaries(t, ownCache(shared))[e.sums(t)["amd64"]]
	if bin == "" {
		t.Fatalf("no binary in %s", ownCache(shared))
	}
	assertPrivate(t, bin, 0)
}

// A FIFO planted at the stat record's path does not hang the task: only
// regular files are opened, and the record is written anew.
func TestActionPluginFIFOAtTheStatRecordDoesNotHang(t *testing.T) {
	e := newPluginEnv(t)
	cache := filepath.Join(e.dir, "cache")
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", cache)
	playbook := fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: status
      threader.guard.qos_guard: {state: status, path: %s/guard}
      timeout: 120
`, e.dir)
	mustSucceed(t, e.play(t, inventory, playbook, nil))
	record := filepath.Join(ownCache(cache), e.sums(t)["amd64"], "threader-guard.ok")
	if err := os.Remove(record); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(record, 0o600); err != nil {
		t.Fatal(err)
	}
	run := e.play(t, inventory, playbook, nil)
	mustSucceed(t, run)
	if strings.Contains(run.Output, sentMarker) {
		t.Errorf("the binary was sent again")
	}
	if fi, err := os.Lstat(record); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the record is not a regular file again: %v %v", fi.Mode(), err)
	}
}

// Values of a task's environment never appear in the argv of the remote
// shell (readable by every local user in ps): a shell wrapper records every
// command line Ansible runs. The module, and what it runs, still see them,
// with the arguments on stdin, in a file, and under async.
func TestActionPluginTaskEnvironmentStaysOffTheCommandLine(t *testing.T) {
	e := newPluginEnv(t)
	log := filepath.Join(e.dir, "argv.log")
	wrapper := e.file(t, "sh-wrapper", fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >>%s\nexec /bin/sh \"$@\"\n", log))
	os.Chmod(wrapper, 0o755)
	const secret = "env-secret-9e4c1"
	inventory := fmt.Sprintf("target ansible_connection=local ansible_shell_executable=%s threader_guard_cache_dir=%s\n", wrapper, filepath.Join(e.dir, "cache"))
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  environment: {SECRET_X: %[1]s}
  tasks:
    - name: args on stdin
      threader.guard.retry_command: {argv: [printenv, SECRET_X]}
    - name: args in a file
      threader.guard.retry_command: {argv: [printenv, SECRET_X]}
      vars: {threader_guard_args_on_stdin: false}
    - name: async
      threader.guard.retry_command: {argv: [printenv, SECRET_X]}
      async: 60
      poll: 1
`, secret), nil)
	mustSucceed(t, run)
	for _, name := range []string{"args on stdin", "args in a file", "async"} {
		if r := run.Task(t, name); r.Result["stdout"] != secret {
			t.Errorf("%s: the module did not get SECRET_X: %v", name, r.Result)
		}
	}
	data, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(data), "--ansible-args-stdin") {
		t.Fatalf("the wrapper recorded no module command (%v):\n%s", err, data)
	}
	if strings.Contains(string(data), secret) {
		t.Errorf("the task environment is on a remote command line:\n%s", data)
	}
}
