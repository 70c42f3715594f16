package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// galaxyImporterAllowedWarnings are the warnings of galaxy-importer that the
// collection keeps on purpose, each with its reason.
var galaxyImporterAllowedWarnings = []*regexp.Regexp{
	// requires_ansible starts at 2.14, Debian 12's ansible-core, which make
	// test runs the whole suite on; upstream supports 2.15 and later only,
	// and ansible-lint asks for one of those.
	regexp.MustCompile(`^WARNING: meta/runtime\.yml:1: meta-runtime\[unsupported-version\]: 'requires_ansible' key must refer to a currently supported version`),
}

// TestGalaxyImporter runs galaxy-importer, Galaxy's own check of an uploaded
// collection (PyPI, build/galaxy-importer via make venvs, pinned in
// tests/requirements/galaxy-importer.txt), on the built tarball, its
// container and ansible-test steps off (tests/galaxy-importer.cfg): the
// metadata, ansible-doc on every plugin, role READMEs, the changelog, and the
// newest ansible-lint with Galaxy's production profile. It must succeed with
// no error and no warning but the ones galaxyImporterAllowedWarnings keeps.
func TestGalaxyImporter(t *testing.T) {
	t.Parallel()
	venv := filepath.Join(testenv.RepoRoot(), "build", "galaxy-importer", "bin")
	if _, err := os.Stat(filepath.Join(venv, "python")); err != nil {
		t.Fatalf("galaxy-importer is needed: make venvs installs it into build/galaxy-importer (%v)", err)
	}
	dir := t.TempDir() // galaxy-importer writes importer_result.json here
	cmd := exec.Command(filepath.Join(venv, "python"), "-m", "galaxy_importer.main", testenv.Tarball(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+venv+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GALAXY_IMPORTER_CONFIG="+filepath.Join(testenv.RepoRoot(), "tests", "galaxy-importer.cfg"),
		"GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="+t.TempDir(), "GALAXY_IMPORTER_TMP_ROOT_DIR="+t.TempDir(),
		"HOME="+t.TempDir(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if strings.Contains(string(out), "No role readme found") {
			for _, r := range rolesWithoutReadme(t) {
				hint += "\nroles/" + r + " has no README.md"
			}
		}
		t.Fatalf("galaxy-importer: %v\n%s%s", err, out, hint)
	}
	for _, want := range []string{"Getting doc strings via ansible-doc", "Linting collection via ansible-lint",
		"...ansible-lint run complete", "Importer processing completed successfully"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("galaxy-importer did not report %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "WARNING") && !strings.HasPrefix(line, "ERROR") {
			continue
		}
		if !slices.ContainsFunc(galaxyImporterAllowedWarnings, func(re *regexp.Regexp) bool { return re.MatchString(line) }) {
			t.Errorf("galaxy-importer: %s", line)
		}
	}
	checkImporterResult(t, filepath.Join(dir, "importer_result.json"))
}

// checkImporterResult checks what Galaxy would show: every module with its
// documentation, every role with its README.
func checkImporterResult(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var result struct {
		DocsBlob struct {
			Contents []struct {
				Name       string         `json:"content_name"`
				Type       string         `json:"content_type"`
				DocStrings map[string]any `json:"doc_strings"`
				ReadmeFile string         `json:"readme_file"`
			} `json:"contents"`
		} `json:"docs_blob"`
	}
	if err := json.Unmarshal(data, &result); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	modules, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "plugins", "modules", "*.yml"))
	roles, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "roles", "*", "meta", "argument_specs.yml"))
	found := map[string]bool{}
	for _, c := range result.DocsBlob.Contents {
		switch {
		case c.Type == "module" && c.DocStrings["doc"] != nil:
			found["module "+c.Name] = true
		case c.Type == "role" && c.ReadmeFile == "README.md":
			found["role "+c.Name] = true
		}
	}
	for _, m := range modules {
		if name := strings.TrimSuffix(filepath.Base(m), ".yml"); !found["module "+name] {
			t.Errorf("galaxy-importer found no documentation of module %s", name)
		}
	}
	for _, r := range roles {
		if name := filepath.Base(filepath.Dir(filepath.Dir(r))); !found["role "+name] {
			t.Errorf("galaxy-importer found no README of role %s", name)
		}
	}
	if len(modules) == 0 || len(roles) == 0 {
		t.Errorf("no modules (%d) or roles (%d) found in the repository", len(modules), len(roles))
	}
}

// rolesWithoutReadme names the roles that galaxy-importer refuses for want
// of a README.md (it does not say which).
func rolesWithoutReadme(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "roles", "*", "tasks"))
	var missing []string
	for _, d := range dirs {
		role := filepath.Dir(d)
		if _, err := os.Stat(filepath.Join(role, "README.md")); err != nil {
			missing = append(missing, filepath.Base(role))
		}
	}
	return missing
}
