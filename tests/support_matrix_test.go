package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// TestReadmeSupportMatrix keeps the README's support tables ("Supported
// ansible-core versions") true to what make test runs: requires_ansible as
// meta/runtime.yml declares it, and each version pinned in tests/requirements
// that the tables name.
func TestReadmeSupportMatrix(t *testing.T) {
	t.Parallel()
	readme := readRepoFile(t, "README.md")
	start := strings.Index(readme, "### Supported ansible-core versions")
	end := strings.Index(readme, "## How the modules are shipped")
	if start < 0 || end < start {
		t.Fatal("README.md has no section \"Supported ansible-core versions\" before \"How the modules are shipped\"")
	}
	section := readme[start:end]
	runtime := regexp.MustCompile(`(?m)^requires_ansible: *(".*")`).FindStringSubmatch(readRepoFile(t, "meta/runtime.yml"))
	if runtime == nil {
		t.Fatal("meta/runtime.yml has no requires_ansible")
	}
	if !strings.Contains(section, "`requires_ansible: "+runtime[1]+"`") {
		t.Errorf("the README's support section does not state meta/runtime.yml's requires_ansible: %s", runtime[1])
	}
	pins := []struct{ file, pkg string }{
		{"ansible-core-2.18.txt", "ansible-core"},
		{"ansible-core-2.19.txt", "ansible-core"},
		{"ansible-test.txt", "ansible-core"},
		{"ansible-test.txt", "pytest"},
		{"molecule.txt", "molecule"},
		{"galaxy-importer.txt", "ansible-lint"},
		{"galaxy-importer.txt", "galaxy_importer"},
		{"tools.txt", "antsibull-changelog"},
	}
	for _, p := range pins {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p.pkg) + `==(\S+)$`).FindStringSubmatch(readRepoFile(t, filepath.Join("tests", "requirements", p.file)))
		if m == nil {
			t.Errorf("tests/requirements/%s pins no %s", p.file, p.pkg)
			continue
		}
		version := m[1]
		if p.pkg == "pytest" { // the table names major.minor
			version = strings.Join(strings.SplitN(version, ".", 3)[:2], ".")
		}
		if !strings.Contains(section, version) {
			t.Errorf("the README's support tables do not name %s %s (tests/requirements/%s)", p.pkg, version, p.file)
		}
	}
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
