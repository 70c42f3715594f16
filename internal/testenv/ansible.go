package testenv

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Collection is the built threader.guard collection installed with
// ansible-galaxy into a temporary collections path, as users install it.
type Collection struct {
	Path string // the collections path (ANSIBLE_COLLECTIONS_PATH)
}

// Tarball finds the built collection: $THREADER_GUARD_TARBALL, or the one
// dist/threader-guard-*.tar.gz that `make collection` leaves.
func Tarball(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("THREADER_GUARD_TARBALL"); p != "" {
		return p
	}
	matches, _ := filepath.Glob(filepath.Join(RepoRoot(), "dist", "threader-guard-*.tar.gz"))
	if len(matches) != 1 {
		t.Fatalf("want exactly one dist/threader-guard-*.tar.gz, found %d: run make collection first (make test does)", len(matches))
	}
	return matches[0]
}

// InstallCollection installs the built tarball into a fresh collections path.
func InstallCollection(t testing.TB) *Collection {
	t.Helper()
	galaxy := RequireBinary(t, "ansible-galaxy", "ansible-core")
	dir := t.TempDir()
	out, code := Run(t, nil, galaxy, "collection", "install", "--force", "-p", dir, Tarball(t))
	Must(t, out, code, "ansible-galaxy collection install")
	return &Collection{Path: dir}
}

// TaskResult is one task's outcome as the result_log callback records it.
type TaskResult struct {
	Host   string         `json:"host"`
	Task   string         `json:"task"`
	Action string         `json:"action"`
	Status string         `json:"status"` // ok, failed, ignored, skipped, unreachable
	Result map[string]any `json:"result"`
}

// PlaybookRun is a finished ansible-playbook run.
type PlaybookRun struct {
	Output   string
	ExitCode int
	Tasks    []TaskResult
}

// Task returns the first result of the task with this name, or fails.
func (r *PlaybookRun) Task(t testing.TB, name string) TaskResult {
	t.Helper()
	for _, tr := range r.Tasks {
		if tr.Task == name {
			return tr
		}
	}
	t.Fatalf("no result for task %q; output:\n%s", name, r.Output)
	return TaskResult{}
}

// Env is the environment a playbook runs with: the test collection, the
// result_log callback, temp dirs inside the test's own temp dir.
func (c *Collection) Env(t testing.TB, resultsFile string) []string {
	tmp := t.TempDir()
	return []string{
		"ANSIBLE_COLLECTIONS_PATH=" + c.Path,
		"ANSIBLE_CALLBACK_PLUGINS=" + filepath.Join(RepoRoot(), "tests", "callback"),
		"ANSIBLE_CALLBACKS_ENABLED=result_log",
		"THREADER_TEST_RESULTS=" + resultsFile,
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(tmp, "local"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(tmp, "remote"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_HOST_KEY_CHECKING=0",
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
		"ANSIBLE_CONFIG=" + filepath.Join(tmp, "none.cfg"),
		"ANSIBLE_LOCALHOST_WARNING=0",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=0",
	}
}

// Playbook writes playbook (YAML text) to a file and runs it against
// localhost over the local connection, with extra ansible-playbook args.
func (c *Collection) Playbook(t testing.TB, playbook string, args ...string) *PlaybookRun {
	t.Helper()
	path := filepath.Join(t.TempDir(), "playbook.yml")
	if err := os.WriteFile(path, []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	return c.RunPlaybook(t, nil, append([]string{"-i", "localhost,", "-c", "local", path}, args...)...)
}

// RunPlaybook runs ansible-playbook with args (inventory and playbook
// included) and extra environment, and collects every task result.
func (c *Collection) RunPlaybook(t testing.TB, env []string, args ...string) *PlaybookRun {
	t.Helper()
	return c.RunPlaybookWith(t, exec.Command, env, args...)
}

// RunPlaybookWith is RunPlaybook with ansible-playbook started by command,
// such as Systemd.Command (inside systemd's namespace).
func (c *Collection) RunPlaybookWith(t testing.TB, command func(name string, args ...string) *exec.Cmd, env []string, args ...string) *PlaybookRun {
	t.Helper()
	bin := RequireBinary(t, "ansible-playbook", "ansible-core")
	results := filepath.Join(t.TempDir(), "results.jsonl")
	cmd := command(bin, args...)
	cmd.Env = append(append(os.Environ(), c.Env(t, results)...), env...)
	out, err := cmd.CombinedOutput()
	run := &PlaybookRun{Output: string(out), ExitCode: ExitCode(t, err)}
	run.Tasks = readResults(t, results)
	return run
}

func readResults(t testing.TB, path string) []TaskResult {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []TaskResult
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var tr TaskResult
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatalf("bad result line %q: %v", sc.Text(), err)
		}
		out = append(out, tr)
	}
	return out
}

// Doc runs ansible-doc for a module of the installed collection.
func (c *Collection) Doc(t testing.TB, args ...string) string {
	t.Helper()
	bin := RequireBinary(t, "ansible-doc", "ansible-core")
	out, code := Run(t, []string{"ANSIBLE_COLLECTIONS_PATH=" + c.Path, "ANSIBLE_NOCOLOR=1", "ANSIBLE_CONFIG=" + filepath.Join(t.TempDir(), "none.cfg")}, bin, args...)
	return Must(t, out, code, "ansible-doc "+strings.Join(args, " "))
}
