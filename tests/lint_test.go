package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The linters of make test, with the Debian packages' programs: ansible-lint
// (production profile, offline) on what users run and include, yamllint on
// every YAML file of those and of the CI examples, shellcheck on every shell
// script of the repository. Configuration: .ansible-lint and .yamllint. The
// newest ansible-lint from PyPI (build/galaxy-importer, pinned in
// tests/requirements/galaxy-importer.txt) lints the same content too; the
// violations the collection keeps on purpose, each with its reason, are in
// .config/ansible-lint-ignore.txt, which only that one reads.

// ansibleContent is what ansible-lint checks: the collection's playbooks and
// roles (with their molecule scenarios), the playbooks those scenarios share
// (tests/molecule) and the demo's playbooks.
var ansibleContent = []string{"playbooks", "roles", "tests/molecule", "demo/playbooks"}

// yamlContent is what yamllint checks besides ansibleContent.
var yamlContent = []string{".ansible-lint", ".yamllint", "docs/ci", "demo/prometheus", "demo/canary_analysis.yml"}

func TestAnsibleLintProductionProfile(t *testing.T) {
	t.Parallel()
	lint := testenv.RequireBinary(t, "ansible-lint", "ansible-lint")
	c := testenv.InstallCollection(t)
	out, code := ansibleLint(t, lint, c, testenv.RepoRoot(), ansibleContent...)
	if code != 0 {
		t.Fatalf("ansible-lint --profile production exited %d:\n%s", code, out)
	}
	m := regexp.MustCompile(`Passed with production profile: 0 failure\(s\), 0 warning\(s\) on (\d+) files`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ansible-lint did not report a pass with the production profile:\n%s", out)
	}
	// Every YAML file of the content must have been linted, none skipped.
	if n, _ := strconv.Atoi(m[1]); n < countYAML(t, ansibleContent...) {
		t.Errorf("ansible-lint checked %d files, but there are %d YAML files in %v:\n%s", n, countYAML(t, ansibleContent...), ansibleContent, out)
	}
}

// TestAnsibleLintNewestProductionProfile runs the newest ansible-lint (PyPI)
// with the production profile on the content Debian's lints.
func TestAnsibleLintNewestProductionProfile(t *testing.T) {
	t.Parallel()
	lint := newestAnsibleLint(t)
	c := testenv.InstallCollection(t)
	out, code := ansibleLint(t, lint, c, testenv.RepoRoot(), ansibleContent...)
	if code != 0 {
		t.Fatalf("%s --profile production exited %d:\n%s", lint, code, out)
	}
	m := regexp.MustCompile(`Passed: 0 failure\(s\), 0 warning\(s\) in (\d+) files processed of \d+ encountered\. Profile 'production' was required, and it passed\.`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the newest ansible-lint did not report a pass with the production profile:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < countYAML(t, ansibleContent...) {
		t.Errorf("ansible-lint checked %d files, but there are %d YAML files in %v:\n%s", n, countYAML(t, ansibleContent...), ansibleContent, out)
	}
}

// newestAnsibleLint is the newest ansible-lint's path (make venvs).
func newestAnsibleLint(t *testing.T) string {
	t.Helper()
	lint := filepath.Join(testenv.RepoRoot(), "build", "galaxy-importer", "bin", "ansible-lint")
	if _, err := os.Stat(lint); err != nil {
		t.Fatalf("the newest ansible-lint is needed: make venvs installs it into build/galaxy-importer (%v)", err)
	}
	return lint
}

// TestAnsibleLintCatchesViolations proves the configuration leaves the
// production rules on, for Debian's ansible-lint and the newest: a role with
// a short module name and a play without a name fail.
func TestAnsibleLintCatchesViolations(t *testing.T) {
	t.Parallel()
	linters := map[string]string{"debian": testenv.RequireBinary(t, "ansible-lint", "ansible-lint"), "newest": newestAnsibleLint(t)}
	for name, lint := range linters {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ansibleLintCatchesViolations(t, lint)
		})
	}
}

func ansibleLintCatchesViolations(t *testing.T, lint string) {
	c := testenv.InstallCollection(t)
	dir := t.TempDir()
	for _, f := range []string{".ansible-lint", ".yamllint", ".config/ansible-lint-ignore.txt"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	writeFiles(t, filepath.Join(dir, "playbooks"), map[string]string{"bad.yml": `---
- hosts: localhost
  gather_facts: false
  tasks:
    - name: lowercase name with a short module name
      command: echo hello
`})
	out, code := ansibleLint(t, lint, c, dir, "playbooks")
	if code == 0 {
		t.Fatalf("ansible-lint passed a bad playbook:\n%s", out)
	}
	for _, rule := range []string{"fqcn", "name[play]", "name[casing]", "no-changed-when"} {
		if !strings.Contains(out, rule) {
			t.Errorf("ansible-lint did not report %s:\n%s", rule, out)
		}
	}
}

func ansibleLint(t *testing.T, lint string, c *testenv.Collection, dir string, paths ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(lint, append([]string{"--offline", "--profile=production", "--strict", "--nocolor"}, paths...)...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), c.Env(t, filepath.Join(t.TempDir(), "results.jsonl"))...)
	// ansible-lint keeps a cache (ansible-compat) under XDG_CACHE_HOME.
	cmd.Env = append(cmd.Env, "XDG_CACHE_HOME="+t.TempDir(), "NO_COLOR=1", "ANSIBLE_CALLBACKS_ENABLED=")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return buf.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("ansible-lint: %v", err)
	}
	return buf.String(), 0
}

func TestYamllint(t *testing.T) {
	t.Parallel()
	yamllint := testenv.RequireBinary(t, "yamllint", "yamllint")
	var paths []string
	for _, p := range append(append([]string{}, ansibleContent...), yamlContent...) {
		if _, err := os.Stat(filepath.Join(testenv.RepoRoot(), p)); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		paths = append(paths, p)
	}
	cmd := exec.Command(yamllint, append([]string{"--strict", "--format", "parsable"}, paths...)...)
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("yamllint --strict %s: %v\n%s", strings.Join(paths, " "), err, out)
	}
}

func TestShellcheck(t *testing.T) {
	t.Parallel()
	shellcheck := testenv.RequireBinary(t, "shellcheck", "shellcheck")
	scripts := shellScripts(t)
	for _, want := range []string{"demo/run.sh", "demo/rollback.sh", "scripts/test-matrix.sh"} {
		if !slices.Contains(scripts, want) {
			t.Errorf("%s not among the shell scripts found: %v", want, scripts)
		}
	}
	cmd := exec.Command(shellcheck, append([]string{"--external-sources"}, scripts...)...)
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// shellScripts lists the repository's shell scripts (git's view: tracked and
// new files, not ignored ones): *.sh and files whose #! line runs sh or bash.
func shellScripts(t *testing.T) []string {
	t.Helper()
	git := testenv.RequireBinary(t, "git", "git")
	cmd := exec.Command(git, "-c", "safe.directory="+testenv.RepoRoot(), "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	shebang := regexp.MustCompile(`^#!\s*(/usr)?/bin/(env\s+)?(ba|da)?sh\b`)
	var scripts []string
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		fi, err := os.Stat(filepath.Join(testenv.RepoRoot(), f))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree
		}
		if strings.HasSuffix(f, ".sh") {
			scripts = append(scripts, f)
			continue
		}
		head := make([]byte, 64)
		if fh, err := os.Open(filepath.Join(testenv.RepoRoot(), f)); err == nil {
			n, _ := fh.Read(head)
			fh.Close()
			if shebang.Match(head[:n]) {
				scripts = append(scripts, f)
			}
		}
	}
	return scripts
}

// countYAML counts the .yml and .yaml files under the paths.
func countYAML(t *testing.T, paths ...string) int {
	t.Helper()
	n := 0
	for _, p := range paths {
		filepath.Walk(filepath.Join(testenv.RepoRoot(), p), func(path string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
				n++
			}
			return nil
		})
	}
	return n
}
