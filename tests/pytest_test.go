package tests

import (
	"os"
	"os/exec"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The Python tests (tests/unit, pytest): the action plugins' remote shell
// scripts run with /bin/sh against cache directories planted by another
// user, and checked with sh -n and shellcheck. Debian's python3, which
// imports Debian's ansible-core, runs them.
func TestPytestUnit(t *testing.T) {
	python := testenv.RequireBinary(t, "/usr/bin/python3", "python3")
	if out, err := exec.Command(python, "-c", "import pytest").CombinedOutput(); err != nil {
		t.Fatalf("pytest is needed: apt-get install python3-pytest (%v: %s)", err, out)
	}
	cmd := exec.Command(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1") // leave no __pycache__ in the tree
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pytest tests/unit: %v\n%s", err, out)
	}
}
