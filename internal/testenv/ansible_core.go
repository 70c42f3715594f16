package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// AnsibleBinEnv names the variable that points the tests at another
// ansible-core than the system's: the bin directory of a virtual environment
// (make test sets it to build/ansible-<line>/bin for each line of the support
// matrix; a relative path is relative to the repository). Unset, the tests use the ansible-core on PATH (Debian's).
const AnsibleBinEnv = "THREADER_ANSIBLE_BIN"

// UseAnsibleCore puts $THREADER_ANSIBLE_BIN first on PATH, so every ansible-*
// program the tests start, and the scripts they start, comes from that
// ansible-core. A directory without a working ansible-playbook is an error:
// a matrix run must never fall back to the system's ansible-core unnoticed.
// It returns the `ansible-playbook --version` line it checked ("" if unset).
func UseAnsibleCore() (string, error) {
	dir := os.Getenv(AnsibleBinEnv)
	if dir == "" {
		return "", nil
	}
	if !filepath.IsAbs(dir) { // go test runs in the package's directory
		dir = filepath.Join(RepoRoot(), dir)
	}
	out, err := exec.Command(filepath.Join(dir, "ansible-playbook"), "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s=%s: ansible-playbook --version: %v\n%s", AnsibleBinEnv, dir, err, out)
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	first, _, _ := strings.Cut(string(out), "\n")
	return first, nil
}
