package tests

import (
	"bufio"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// These tests run the collection's action plugins the way users do: the
// built tarball installed with ansible-galaxy, real ansible-playbook, over
// the local connection and over ssh to a real sshd on loopback. They assert
// behaviour (what runs where, what crosses the wire, what is left on disk),
// never timing: bench/ measures speed.

// sentMarker is what the plugins print at -v each time they send a binary.
const sentMarker = "threader.guard: sent "

// pluginEnv is a playbook environment: an inventory file, a work dir, and the
// collection installed from the tarball.
type pluginEnv struct {
	c   *testenv.Collection
	dir string
}

func newPluginEnv(t *testing.T) *pluginEnv {
	return &pluginEnv{c: testenv.InstallCollection(t), dir: t.TempDir()}
}

// remoteTmp is Ansible's remote_tmp in these plays: it must be empty after
// each one.
func (e *pluginEnv) remoteTmp() string { return filepath.Join(e.dir, "remote-tmp") }

func (e *pluginEnv) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// play runs playbook against inventory (INI text) at -v, so that each binary
// sent shows up in the output.
func (e *pluginEnv) play(t *testing.T, inventory, playbook string, env []string, args ...string) *testenv.PlaybookRun {
	t.Helper()
	inv := e.file(t, "inventory.ini", inventory)
	pb := e.file(t, "playbook.yml", playbook)
	env = append([]string{"ANSIBLE_REMOTE_TEMP=" + e.remoteTmp()}, env...)
	return e.c.RunPlaybook(t, env, append([]string{"-v", "-i", inv, pb}, args...)...)
}

// sums reads SHA256SUMS of the installed collection: arch -> sha256.
func (e *pluginEnv) sums(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.c.Path, "ansible_collections", "threader", "guard", "files", "bin", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		out[strings.TrimPrefix(f[1], "threader-guard_linux_")] = f[0]
	}
	return out
}

func mustSucceed(t *testing.T, run *testenv.PlaybookRun) {
	t.Helper()
	if run.ExitCode != 0 {
		t.Fatalf("playbook failed (%d):\n%s", run.ExitCode, run.Output)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// ownCache is the cache root the plugins keep, for the user running the
// tests, in a threader_guard_cache_dir: the subdirectory threader.guard-UID.
func ownCache(cacheDir string) string {
	return filepath.Join(cacheDir, fmt.Sprintf("threader.guard-%d", os.Geteuid()))
}

// cachedBinaries lists the binaries in a cache root: sha256 dir -> path.
func cachedBinaries(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		p := filepath.Join(root, e.Name(), "threader-guard")
		if _, err := os.Stat(p); err == nil {
			out[e.Name()] = p
		}
	}
	return out
}

// assertPrivate checks a cache entry: the directory 0700 and the binary
// 0700, both owned by uid.
func assertPrivate(t *testing.T, binary string, uid uint32) {
	t.Helper()
	for _, p := range []string{filepath.Dir(filepath.Dir(binary)), filepath.Dir(binary), binary} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uid {
			t.Errorf("%s: mode %v uid %d, want 0700 owned by %d", p, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid, uid)
		}
	}
}

// assertNoSecretUnder fails if any file under the dirs holds secret.
func assertNoSecretUnder(t *testing.T, secret string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), secret) {
				t.Errorf("%s holds the no_log secret", path)
			}
			return nil
		})
	}
}

// assertEmptyDir fails unless dir is missing or empty: Ansible's remote
// temporary directories are gone after the play.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left in %s: %s", dir, e.Name())
	}
}

const everyModuleTasks = `
    - name: lock
      threader.guard.qos_guard: {state: locked, path: "{{ work }}/guard", minutes: 5, reason: rollback}
      no_log: true
    - name: status
      threader.guard.qos_guard: {state: status, path: "{{ work }}/guard"}
    - name: retry
      threader.guard.retry_command: {argv: [sh, -c, "echo retried"], attempts: 2}
    - name: slo
      threader.guard.slo_check:
        prometheus_url: "{{ prometheus_url }}"
        prometheus_bearer_token: "{{ secret }}"
        default_checks: false
        checks:
          - {name: always one, query: "vector(1)", min: 1}
    - name: unlock
      threader.guard.qos_guard: {state: unlocked, path: "{{ work }}/guard"}
`

func everyModulePlay(work, prometheusURL, secret string) string {
	return fmt.Sprintf(`---
- name: every module, no Python on the target
  hosts: target
  gather_facts: false
  vars:
    work: %s
    prometheus_url: %s
    secret: %s
  tasks:
%s`, work, prometheusURL, secret, everyModuleTasks)
}

func assertEveryModuleRan(t *testing.T, run *testenv.PlaybookRun) {
	t.Helper()
	mustSucceed(t, run)
	if lock := run.Task(t, "lock"); lock.Result["censored"] == nil {
		t.Errorf("task no_log must censor the result: %v", lock.Result)
	}
	if st := run.Task(t, "status"); st.Result["locked"] != true {
		t.Errorf("status after lock: %v", st.Result)
	}
	if r := run.Task(t, "retry"); r.Result["stdout"] != "retried" {
		t.Errorf("retry_command: %v", r.Result)
	}
	slo := run.Task(t, "slo")
	if slo.Status != "ok" {
		t.Errorf("slo_check: %s %v", slo.Status, slo.Result)
	}
	if u := run.Task(t, "unlock"); u.Result["changed"] != true {
		t.Errorf("unlock: %v", u.Result)
	}
}

// Over ssh to a host without Python, every module runs; the binary crosses
// the wire once per host and version, not once per task or per play; the
// arguments (a no_log secret among them) are left nowhere on the target.
func TestActionPluginOverSSHWithoutPythonSendsTheBinaryOnce(t *testing.T) {
	e := newPluginEnv(t)
	sshd := testenv.StartSSHD(t)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	cache := filepath.Join(e.dir, "cache")
	work := t.TempDir()
	secret := "s3cret-over-ssh-4f1c"
	inventory := fmt.Sprintf("target %s ansible_python_interpreter=/nonexistent/python3 threader_guard_cache_dir=%s\n", sshd.HostVars(), cache)
	playbook := everyModulePlay(work, prom.URL, secret)

	first := e.play(t, inventory, playbook, nil)
	assertEveryModuleRan(t, first)
	if n := strings.Count(first.Output, sentMarker); n != 1 {
		t.Errorf("first play sent the binary %d times, want once:\n%s", n, first.Output)
	}
	amd64 := e.sums(t)["amd64"]
	cached := cachedBinaries(t, ownCache(cache))
	if len(cached) != 1 || cached[amd64] == "" {
		t.Fatalf("cache %s holds %v, want only the amd64 binary %s", cache, cached, amd64)
	}
	if got := fileSHA256(t, cached[amd64]); got != amd64 {
		t.Errorf("cached binary sha256 %s, want %s", got, amd64)
	}
	assertPrivate(t, cached[amd64], 0)
	before := inode(t, cached[amd64])

	second := e.play(t, inventory, playbook, nil)
	assertEveryModuleRan(t, second)
	if n := strings.Count(second.Output, sentMarker); n != 0 {
		t.Errorf("second play sent the binary %d times, want none:\n%s", n, second.Output)
	}
	if after := inode(t, cached[amd64]); after != before {
		t.Errorf("cached binary was replaced (inode %d -> %d)", before, after)
	}
	assertEmptyDir(t, e.remoteTmp())
	assertNoSecretUnder(t, secret, e.remoteTmp(), cache)
	for _, run := range []*testenv.PlaybookRun{first, second} {
		if strings.Contains(run.Output, secret) {
			t.Errorf("the secret shows in the output:\n%s", run.Output)
		}
	}
}

// Over the local connection, with no Python for modules either.
func TestActionPluginLocalWithoutPython(t *testing.T) {
	e := newPluginEnv(t)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	cache := filepath.Join(e.dir, "cache")
	secret := "s3cret-local-77aa"
	inventory := fmt.Sprintf("target ansible_connection=local ansible_python_interpreter=/nonexistent/python3 threader_guard_cache_dir=%s\n", cache)
	run := e.play(t, inventory, everyModulePlay(t.TempDir(), prom.URL, secret), nil)
	assertEveryModuleRan(t, run)
	if n := strings.Count(run.Output, sentMarker); n != 1 {
		t.Errorf("sent the binary %d times, want once", n)
	}
	assertEmptyDir(t, e.remoteTmp())
	assertNoSecretUnder(t, secret, e.remoteTmp(), cache)
}

// Option-level no_log: the module masks the secret in its own result, also
// when it fails, through the action plugin.
func TestActionPluginOptionNoLog(t *testing.T) {
	e := newPluginEnv(t)
	secret := "tok-option-nolog-9d2e"
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", filepath.Join(e.dir, "cache"))
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: unreachable prometheus
      threader.guard.slo_check:
        prometheus_url: http://127.0.0.1:1
        prometheus_bearer_token: %s
        request_retries: 0
        default_checks: false
        checks: [{name: x, query: "vector(1)", min: 1}]
      ignore_errors: true
`, secret), nil)
	tr := run.Task(t, "unreachable prometheus")
	if tr.Status != "ignored" {
		t.Errorf("want a failure against a closed port: %s %v", tr.Status, tr.Result)
	}
	if strings.Contains(fmt.Sprint(tr.Result), secret) || strings.Contains(run.Output, secret) {
		t.Errorf("no_log option value leaked: %v", tr.Result)
	}
}

// fakeUname writes a uname that answers `uname -sm` with system and machine,
// and returns a PATH with it first.
func fakeUname(t *testing.T, system, machine string) string {
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in -s) echo %[1]s;; -m) echo %[2]s;; *) echo %[1]s %[2]s;; esac\n", system, machine)
	if err := os.WriteFile(filepath.Join(dir, "uname"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + ":" + os.Getenv("PATH")
}

// An aarch64 target gets the arm64 binary: it is sent, verified and cached
// under its own SHA-256, it is an AArch64 ELF, and it runs the module (under
// qemu-aarch64, since this machine is not arm64).
func TestActionPluginSelectsArm64ForAarch64(t *testing.T) {
	qemu := testenv.RequireBinary(t, "qemu-aarch64", "qemu-user")
	e := newPluginEnv(t)
	cache := filepath.Join(e.dir, "cache")
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", cache)
	guard := filepath.Join(t.TempDir(), "guard")
	playbook := fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: on aarch64
      threader.guard.qos_guard: {state: status, path: %s}
      ignore_errors: true
`, guard)
	env := []string{fakeUname(t, "Linux", "aarch64")}
	run := e.play(t, inventory, playbook, env)
	if !strings.Contains(run.Output, sentMarker+"threader-guard_linux_arm64") {
		t.Fatalf("the arm64 binary was not sent:\n%s", run.Output)
	}
	arm64 := e.sums(t)["arm64"]
	cached := cachedBinaries(t, ownCache(cache))
	if len(cached) != 1 || cached[arm64] == "" {
		t.Fatalf("cache holds %v, want only the arm64 binary %s", cached, arm64)
	}
	if got := fileSHA256(t, cached[arm64]); got != arm64 {
		t.Errorf("cached sha256 %s, want %s", got, arm64)
	}
	f, err := elf.Open(cached[arm64])
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("cached binary is %v %v, want AArch64 ELF64", f.Machine, f.Class)
	}
	f.Close()
	cmd := exec.Command(qemu, cached[arm64], "qos_guard", "--ansible-args-stdin")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`{"state": "status", "path": %q, "_ansible_check_mode": false}`, guard))
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"locked":false`) {
		t.Errorf("the cached arm64 binary under qemu: %v %s", err, out)
	}
	// Verified once: a second play finds it and sends nothing.
	again := e.play(t, inventory, playbook, env)
	if strings.Contains(again.Output, sentMarker) {
		t.Errorf("the arm64 binary was sent again:\n%s", again.Output)
	}
}

// Any other OS or CPU fails with a message naming it and what is supported.
func TestActionPluginUnsupportedPlatform(t *testing.T) {
	e := newPluginEnv(t)
	cache := filepath.Join(e.dir, "cache")
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", cache)
	playbook := `---
- hosts: target
  gather_facts: false
  tasks:
    - name: elsewhere
      threader.guard.qos_guard: {state: status, path: /tmp/unused.guard}
`
	for _, p := range [][2]string{{"Linux", "riscv64"}, {"FreeBSD", "amd64"}, {"Linux", "sparc64"}} {
		run := e.play(t, inventory, playbook, []string{fakeUname(t, p[0], p[1])})
		tr := run.Task(t, "elsewhere")
		msg, _ := tr.Result["msg"].(string)
		want := "the target runs " + p[0] + " " + p[1] + "; threader.guard ships its compiled modules for Linux x86_64 (amd64), Linux aarch64 (arm64) only"
		if tr.Status != "failed" || !strings.Contains(msg, want) {
			t.Errorf("%v: status %s msg %q, want failure containing %q", p, tr.Status, msg, want)
		}
		if strings.Contains(run.Output, sentMarker) {
			t.Errorf("%v: a binary was sent to an unsupported target", p)
		}
	}
	if c := cachedBinaries(t, ownCache(cache)); len(c) != 0 {
		t.Errorf("cache filled for unsupported targets: %v", c)
	}
}

// A damaged cached binary is noticed before use, sent again and replaced.
func TestActionPluginReplacesDamagedBinary(t *testing.T) {
	e := newPluginEnv(t)
	cache := filepath.Join(e.dir, "cache")
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", cache)
	playbook := fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: status
      threader.guard.qos_guard: {state: status, path: %s}
`, filepath.Join(t.TempDir(), "guard"))
	mustSucceed(t, e.play(t, inventory, playbook, nil))
	amd64 := e.sums(t)["amd64"]
	bin := cachedBinaries(t, ownCache(cache))[amd64]
	// Same size, same mtime, different bytes: only the ctime (and content) tell.
	data, _ := os.ReadFile(bin)
	fi, _ := os.Stat(bin)
	data[len(data)/2] ^= 0xff
	os.WriteFile(bin, data, 0o700)
	os.Chtimes(bin, fi.ModTime(), fi.ModTime())
	run := e.play(t, inventory, playbook, nil)
	mustSucceed(t, run)
	if n := strings.Count(run.Output, sentMarker); n != 1 {
		t.Errorf("damaged binary: sent %d times, want once", n)
	}
	if got := fileSHA256(t, bin); got != amd64 {
		t.Errorf("damaged binary not replaced: sha256 %s", got)
	}
}

// testUser is an unprivileged account with a home directory, for become.
// Each ansible-core line of the matrix has its own user: the runs go side by
// side, and one run's test empties the become user's cache that another
// run's test is about to assert on.
func testUser(t *testing.T) *user.User {
	t.Helper()
	name := "threader-guard-test"
	if bin := os.Getenv(testenv.AnsibleBinEnv); bin != "" {
		name = fmt.Sprintf("threader-guard-t%08x", crc32.ChecksumIEEE([]byte(bin)))
	}
	if u, err := user.Lookup(name); err == nil {
		return u
	}
	if os.Geteuid() != 0 {
		t.Fatalf("the become tests need root to create the user %s (or create it: useradd -m -s /bin/sh %s)", name, name)
	}
	useradd := testenv.RequireBinary(t, "useradd", "passwd")
	out, code := testenv.Run(t, nil, useradd, "-m", "-s", "/bin/sh", name)
	testenv.Must(t, out, code, "useradd")
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// With become, the cache belongs to the become user, in that user's home,
// and the module runs as that user; with arguments on stdin and in a file.
func TestActionPluginBecomeUsesTheBecomeUsersCache(t *testing.T) {
	u := testUser(t)
	e := newPluginEnv(t)
	work := t.TempDir()
	os.Chmod(work, 0o777|os.ModeSticky) // sticky: the guard refuses a directory anyone may write otherwise
	os.Chmod(filepath.Dir(work), 0o755)
	root := filepath.Join(u.HomeDir, ".cache", "threader.guard")
	os.RemoveAll(root)
	secret := "s3cret-become-31e0"
	inventory := "target ansible_connection=local\n"
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  become: true
  become_method: su
  become_user: %s
  tasks:
    - name: lock as the become user
      threader.guard.qos_guard: {state: locked, path: %s/guard, reason: %s}
      no_log: true
    - name: status through an args file
      threader.guard.qos_guard: {state: status, path: %s/guard}
      vars: {threader_guard_args_on_stdin: false}
`, u.Username, work, secret, work), nil)
	mustSucceed(t, run)
	if st := run.Task(t, "status through an args file"); st.Result["owner"] != u.Username || st.Result["locked"] != true {
		t.Errorf("status: %v", st.Result)
	}
	cached := cachedBinaries(t, root)
	bin := cached[e.sums(t)["amd64"]]
	if len(cached) != 1 || bin == "" {
		t.Fatalf("%s holds %v, want the amd64 binary", root, cached)
	}
	var uid uint32
	fmt.Sscan(u.Uid, &uid)
	assertPrivate(t, bin, uid)
	if n := strings.Count(run.Output, sentMarker); n != 1 {
		t.Errorf("sent %d times, want once", n)
	}
	assertEmptyDir(t, e.remoteTmp())
	// An unprivileged become user's temp dirs go to /var/tmp.
	varTmp, _ := filepath.Glob("/var/tmp/ansible-tmp-*")
	assertNoSecretUnder(t, secret, append(varTmp, e.remoteTmp(), root)...)
}

// delegate_to runs the module over the delegated host's connection, with
// that host's variables.
func TestActionPluginDelegateTo(t *testing.T) {
	e := newPluginEnv(t)
	here := filepath.Join(e.dir, "delegate-cache")
	inventory := fmt.Sprintf(`faraway ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh threader_guard_cache_dir=%s/never
helper ansible_connection=local threader_guard_cache_dir=%s
`, e.dir, here)
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: faraway
  gather_facts: false
  tasks:
    - name: delegated
      threader.guard.qos_guard: {state: locked, path: %s/guard, minutes: 3}
      delegate_to: helper
`, e.dir), nil)
	mustSucceed(t, run)
	if d := run.Task(t, "delegated"); d.Result["locked"] != true || d.Host != "faraway" {
		t.Errorf("delegated: %+v", d)
	}
	if len(cachedBinaries(t, ownCache(here))) != 1 {
		t.Errorf("the delegated host's cache dir was not used")
	}
}

// async (which needs Python on the target, for async_wrapper) runs the
// module from the cache too, polled and fire-and-forget.
func TestActionPluginAsync(t *testing.T) {
	e := newPluginEnv(t)
	cache := filepath.Join(e.dir, "cache")
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", cache)
	secret := "s3cret-async-0b7d"
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: polled
      threader.guard.qos_guard: {state: locked, path: %[1]s/guard, minutes: 4, reason: %[2]s}
      async: 60
      poll: 1
    - name: fired
      threader.guard.retry_command: {argv: [sh, -c, "echo fired"]}
      async: 60
      poll: 0
      register: job
    - name: collected
      ansible.builtin.async_status: {jid: "{{ job.ansible_job_id }}"}
      register: done
      until: done.finished
      retries: 30
      delay: 1
`, e.dir, secret), nil)
	mustSucceed(t, run)
	if p := run.Task(t, "polled"); p.Result["locked"] != true || p.Result["reason"] != secret {
		t.Errorf("polled async: %v", p.Result)
	}
	if c := run.Task(t, "collected"); c.Result["stdout"] != "fired" {
		t.Errorf("async_status: %v", c.Result)
	}
	if n := strings.Count(run.Output, sentMarker); n != 1 {
		t.Errorf("sent %d times, want once", n)
	}
	assertNoSecretUnder(t, secret, e.remoteTmp(), cache)
}

// Check mode and diff go through the plugin to the module.
func TestActionPluginCheckModeAndDiffOverSSH(t *testing.T) {
	e := newPluginEnv(t)
	sshd := testenv.StartSSHD(t)
	guard := filepath.Join(e.dir, "guard")
	inventory := fmt.Sprintf("target %s ansible_python_interpreter=/nonexistent/python3 threader_guard_cache_dir=%s/cache\n", sshd.HostVars(), e.dir)
	run := e.play(t, inventory, fmt.Sprintf(`---
- hosts: target
  gather_facts: false
  tasks:
    - name: would lock
      threader.guard.qos_guard: {state: locked, path: %s, reason: check}
`, guard), nil, "--check", "--diff")
	mustSucceed(t, run)
	tr := run.Task(t, "would lock")
	diff, _ := tr.Result["diff"].(map[string]any)
	if tr.Result["changed"] != true || diff == nil {
		t.Errorf("check+diff: %v", tr.Result)
	}
	if _, err := os.Stat(guard); !os.IsNotExist(err) {
		t.Errorf("check mode wrote %s", guard)
	}
}

// The built collection: under Galaxy's 20 MB, one binary per architecture,
// and for every documented module a stub, an action plugin and a program in
// the binary.
func TestCollectionTarballShipsEveryModuleForBothArchitectures(t *testing.T) {
	tarball := testenv.Tarball(t)
	fi, err := os.Stat(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 20*1000*1000 {
		t.Errorf("%s is %d bytes; Galaxy rejects 20 MB and more", tarball, fi.Size())
	}
	e := newPluginEnv(t)
	root := filepath.Join(e.c.Path, "ansible_collections", "threader", "guard")
	// Build outputs and sources stay out (build/ holds victoria-logs and
	// virtual environments, 20 MB and more).
	for _, dir := range []string{"build", "bin", "dist", "internal", "tests", "demo"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			t.Errorf("the collection ships %s/; galaxy.yml's build_ignore should leave it out", dir)
		}
	}
	sums := e.sums(t)
	for _, arch := range []string{"amd64", "arm64"} {
		bin := filepath.Join(root, "files", "bin", "threader-guard_linux_"+arch)
		if got := fileSHA256(t, bin); got != sums[arch] {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", bin, got, sums[arch])
		}
	}
	docs, _ := filepath.Glob(filepath.Join(root, "plugins", "modules", "*.yml"))
	if len(docs) < 3 {
		t.Errorf("want the docs of qos_guard, retry_command and slo_check, found %v", docs)
	}
	amd64 := filepath.Join(root, "files", "bin", "threader-guard_linux_amd64")
	for _, doc := range docs {
		name := strings.TrimSuffix(filepath.Base(doc), ".yml")
		for _, p := range []string{filepath.Join(root, "plugins", "modules", name), filepath.Join(root, "plugins", "action", name+".py")} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("module %s: %v", name, err)
			}
		}
		// The binary knows the module: with no options it answers with a
		// module result, not a usage error.
		cmd := exec.Command(amd64, name, "--ansible-args-stdin")
		cmd.Stdin = strings.NewReader(`{"_ansible_check_mode": true}`)
		out, _ := cmd.Output()
		if !strings.HasPrefix(strings.TrimSpace(string(out)), "{") {
			t.Errorf("threader-guard does not link module %s: %q", name, out)
		}
	}
	// ansible-doc still finds every module through its stub.
	for _, doc := range docs {
		name := strings.TrimSuffix(filepath.Base(doc), ".yml")
		if out := e.c.Doc(t, "threader.guard."+name); !strings.Contains(out, "EXAMPLES") {
			t.Errorf("ansible-doc threader.guard.%s: %s", name, firstLines(out, 5))
		}
	}
}

func firstLines(s string, n int) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() && len(out) < n {
		out = append(out, sc.Text())
	}
	return strings.Join(out, "\n")
}

// The task's environment keyword reaches the module (and what it runs), as
// it does for ansible-core's own modules.
func TestActionPluginTaskEnvironment(t *testing.T) {
	e := newPluginEnv(t)
	inventory := fmt.Sprintf("target ansible_connection=local threader_guard_cache_dir=%s\n", filepath.Join(e.dir, "cache"))
	run := e.play(t, inventory, `---
- hosts: target
  gather_facts: false
  tasks:
    - name: with environment
      threader.guard.retry_command: {argv: [sh, -c, 'echo "$GREETING"']}
      environment: {GREETING: "hello from the task"}
`, nil)
	mustSucceed(t, run)
	if r := run.Task(t, "with environment"); r.Result["stdout"] != "hello from the task" {
		t.Errorf("environment not passed: %v", r.Result)
	}
}

// Hosts that share one cache (aliases of one machine and user) install the
// binary at the same moment: every task succeeds and the cache ends with one
// verified binary and no temporary files.
func TestActionPluginConcurrentInstallsShareOneCache(t *testing.T) {
	e := newPluginEnv(t)
	cache := filepath.Join(e.dir, "cache")
	var inventory strings.Builder
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&inventory, "alias%d ansible_connection=local threader_guard_cache_dir=%s\n", i, cache)
	}
	run := e.play(t, inventory.String(), fmt.Sprintf(`---
- hosts: all
  gather_facts: false
  tasks:
    - name: status
      threader.guard.qos_guard: {state: status, path: %s/guard}
`, e.dir), nil, "--forks", "6")
	mustSucceed(t, run)
	amd64 := e.sums(t)["amd64"]
	if got := fileSHA256(t, filepath.Join(ownCache(cache), amd64, "threader-guard")); got != amd64 {
		t.Errorf("cached binary sha256 %s, want %s", got, amd64)
	}
	entries, _ := os.ReadDir(filepath.Join(ownCache(cache), amd64))
	for _, en := range entries {
		if en.Name() != "threader-guard" && en.Name() != "threader-guard.ok" {
			t.Errorf("left in the cache: %s", en.Name())
		}
	}
}
