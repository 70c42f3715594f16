package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// ansible-test runs from build/ansible-test (ansible-core 2.19 and pytest,
// pinned in tests/requirements/ansible-test.txt, made by make venvs), on the
// "origin" host: no --venv, --docker or --requirements, so it installs
// nothing into that environment. Its home is build/ansible-test-home: the
// sanity tests' own virtual environments (~/.ansible/test/venv, one per test,
// the tools pinned in ansible_test/_data/requirements/sanity.*.txt) are made
// there once from PyPI and reused by later runs.
//
// ansible-test puts pip into each of those environments with a bootstrap
// script it downloads from ci-files.testing.ansible.com, which this project's
// machines cannot reach, unless its cache has one: the tests put
// scripts/ansible-test-get-pip.py there (ensurepip, then pip from PyPI).
// ansibleTestPipVersion is the pip ansible-core 2.19 bootstraps
// (get_venv_packages in ansible_test/_internal/python_requirements.py).
const ansibleTestPipVersion = "24.2"

// ansibleTestPython is the Python ansible-test tests on: the system's, which
// build/ansible-test runs on (ansible-core 2.20 and later need 3.12).
const ansibleTestPython = "3.11"

// TestAnsibleTestSanity runs `ansible-test sanity` on the built collection,
// extracted as ansible_collections/threader/guard with the repository's
// tests/sanity (the ignore file: only rules that cannot apply to a compiled
// module, each with its reason) and tests/unit. Every sanity test of
// ansible-core 2.19 must pass; none may be skipped.
func TestAnsibleTestSanity(t *testing.T) {
	t.Parallel()
	out, err := ansibleTest(t, ansibleTestCheckout(t), "sanity", "--python", ansibleTestPython, "--color", "no")
	if err != nil {
		hint := ""
		if strings.Contains(out, "Download failed") && strings.Contains(out, "get_pip") {
			hint = "\n(ansible-test wants another pip bootstrap script than get_pip_" + ansibleTestPipVersion +
				".py: update ansibleTestPipVersion)"
		}
		if regexp.MustCompile(`plugins/modules/\w+:\d+:\d+: (module should not be executable|expected module shebang)`).MatchString(out) {
			hint += "\n(a new compiled module's stub needs the lines the others have in tests/sanity/ignore-2.19.txt)"
		}
		t.Fatalf("ansible-test sanity: %v\n%s%s", err, out, hint)
	}
	for _, name := range []string{"validate-modules", "ansible-doc", "pylint", "pep8", "yamllint", "import",
		"compile", "runtime-metadata", "action-plugin-docs", "shebang", "shellcheck"} {
		if !regexp.MustCompile(`Running sanity test "` + name + `"`).MatchString(out) {
			t.Errorf("ansible-test sanity did not run %s:\n%s", name, out)
		}
	}
	if m := regexp.MustCompile(`(?m)^WARNING: Skipping .*$`).FindAllString(out, -1); len(m) > 0 {
		t.Errorf("ansible-test sanity skipped tests:\n%s", strings.Join(m, "\n"))
	}
}

// TestAnsibleTestUnits runs the action plugins' Python unit tests
// (tests/unit/plugins: their remote shell scripts run for real with /bin/sh
// against cache directories planted by another user, and checked with sh -n
// and shellcheck) with `ansible-test units`, which runs pytest with the
// collection loader. They act as other users, so they need root, as make
// test has.
func TestAnsibleTestUnits(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("the action plugins' unit tests act as other users (nobody, an attacker uid): run them as root")
	}
	out, err := ansibleTest(t, ansibleTestCheckout(t), "units", "--python", ansibleTestPython, "--color", "no")
	if err != nil {
		t.Fatalf("ansible-test units: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`(?m)^=+ (\d+) passed`).FindStringSubmatch(out); m == nil {
		t.Errorf("ansible-test units reported no passed tests:\n%s", out)
	}
}

// ansibleTestCheckout extracts the built collection into a fresh
// ansible_collections/threader/guard, where ansible-test must run, and adds
// the repository's tests/sanity and tests/unit (not shipped in the tarball).
func ansibleTestCheckout(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ansible_collections", "threader", "guard")
	if err := os.MkdirAll(filepath.Join(dir, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xzf", testenv.Tarball(t), "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("extracting the collection: %v\n%s", err, out)
	}
	for _, sub := range []string{"sanity", "unit"} {
		if out, err := exec.Command("cp", "-R", filepath.Join(testenv.RepoRoot(), "tests", sub), filepath.Join(dir, "tests")).CombinedOutput(); err != nil {
			t.Fatalf("copying tests/%s: %v\n%s", sub, err, out)
		}
	}
	return dir
}

// ansibleTest runs build/ansible-test's ansible-test in dir, that
// environment first on PATH (ansible-test finds python3.11 there), and
// returns its combined output.
func ansibleTest(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	venv := filepath.Join(testenv.RepoRoot(), "build", "ansible-test", "bin")
	if _, err := os.Stat(filepath.Join(venv, "ansible-test")); err != nil {
		t.Fatalf("ansible-test is needed: make venvs installs it into build/ansible-test (%v)", err)
	}
	home := filepath.Join(testenv.RepoRoot(), "build", "ansible-test-home")
	cache := filepath.Join(home, ".ansible", "test", "cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	getPip, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "scripts", "ansible-test-get-pip.py"))
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(cache, "get_pip_"+strings.ReplaceAll(ansibleTestPipVersion, ".", "_")+".py")
	installBootstrap(t, bootstrap, getPip)
	cmd := exec.Command(filepath.Join(venv, "ansible-test"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+home, "PATH="+venv+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var bootstrapMu sync.Mutex

// installBootstrap writes ansible-test's pip bootstrap script unless it is
// there already, atomically: the sanity and unit tests run side by side, and
// one must never run the script while the other writes it.
func installBootstrap(t *testing.T, path string, script []byte) {
	t.Helper()
	bootstrapMu.Lock()
	defer bootstrapMu.Unlock()
	if have, _ := os.ReadFile(path); string(have) == string(script) {
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
