package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// TestChangelog lints the changelog fragments and changelogs/changelog.yaml
// with antsibull-changelog (PyPI, build/tools via make venvs), and checks
// that CHANGELOG.md, which `antsibull-changelog release` generates, has the
// version galaxy.yml declares.
func TestChangelog(t *testing.T) {
	t.Parallel()
	tool := filepath.Join(testenv.RepoRoot(), "build", "tools", "bin", "antsibull-changelog")
	if _, err := os.Stat(tool); err != nil {
		t.Fatalf("antsibull-changelog is needed: make venvs installs it into build/tools (%v)", err)
	}
	for _, args := range [][]string{{"lint"}, {"lint-changelog-yaml", "changelogs/changelog.yaml"}} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = testenv.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("antsibull-changelog %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	galaxy, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "galaxy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version: *(\S+)`).FindSubmatch(galaxy)
	if m == nil {
		t.Fatal("galaxy.yml has no version")
	}
	changelog, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := "## v" + strings.ReplaceAll(string(m[1]), ".", `\.`)
	if !strings.Contains(string(changelog), want) {
		t.Errorf("CHANGELOG.md has no section %q for galaxy.yml's version: run antsibull-changelog release", want)
	}
}
