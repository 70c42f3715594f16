package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// TestMoleculeScenarios runs every role's molecule scenarios
// (roles/*/molecule/*/molecule.yml) the way `molecule test` would: syntax, converge,
// idempotence (a second converge must change nothing), verify and cleanup,
// through tests/molecule/run.sh with real ansible-playbook, because molecule
// itself cannot be installed here (not in Debian; PyPI out of reach). The
// slo_gate scenario reads Prometheus from PROMETHEUS_URL and the job from
// THREADER_JOB, the role's fallbacks, as a user's CI would set them.
func TestMoleculeScenarios(t *testing.T) {
	t.Parallel()
	bash := testenv.RequireBinary(t, "bash", "bash")
	c := testenv.InstallCollection(t)
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	scenarios, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "roles", "*", "molecule", "*", "molecule.yml"))
	if len(scenarios) < 5 {
		t.Fatalf("want a molecule scenario per role, found %d: %v", len(scenarios), scenarios)
	}
	for _, file := range scenarios {
		dir := filepath.Dir(file)
		name := filepath.Base(dir)
		role := filepath.Base(filepath.Dir(filepath.Dir(dir)))
		t.Run(role+"/"+name, func(t *testing.T) {
			t.Parallel()
			// As `molecule test` runs in the role's directory.
			cmd := exec.Command(bash, filepath.Join(testenv.RepoRoot(), "tests", "molecule", "run.sh"), filepath.Join("molecule", name))
			cmd.Dir = filepath.Join(testenv.RepoRoot(), "roles", role)
			cmd.Env = append(cmd.Environ(), c.Env(t, filepath.Join(t.TempDir(), "results.jsonl"))...)
			cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir(), "PROMETHEUS_URL="+prom.URL, "THREADER_JOB=stable", "LOKI_URL=")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("tests/molecule/run.sh roles/%s/molecule/%s: %v\n%s", role, name, err, out)
			}
			for _, want := range []string{"--> " + name + ": converge", "--> " + name + ": idempotence ok",
				"--> " + name + ": verify", "--> " + name + ": all done"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestMoleculeIdempotenceCatchesChanges makes sure the script's idempotence
// step fails when a converge changes something every time.
func TestMoleculeIdempotenceCatchesChanges(t *testing.T) {
	t.Parallel()
	bash := testenv.RequireBinary(t, "bash", "bash")
	c := testenv.InstallCollection(t)
	dir := filepath.Join(t.TempDir(), "always_changes")
	writeFiles(t, dir, map[string]string{
		"molecule.yml": `---
platforms:
  - name: localhost
provisioner:
  name: ansible
  inventory:
    host_vars:
      localhost:
        ansible_connection: local
  env:
    GREETING: ${GREETING_FROM_TEST:-unset}
scenario:
  test_sequence: [syntax, converge, idempotence, verify]
`,
		"converge.yml": `---
- name: Converge
  hosts: all
  gather_facts: false
  tasks:
    - name: Change something every time
      ansible.builtin.command: /bin/true
      changed_when: lookup('ansible.builtin.env', 'GREETING') == 'hello'
`,
		"verify.yml": "---\n- name: Verify\n  hosts: all\n  gather_facts: false\n  tasks: []\n",
	})
	cmd := exec.Command(bash, filepath.Join(testenv.RepoRoot(), "tests", "molecule", "run.sh"), dir)
	cmd.Env = append(cmd.Environ(), c.Env(t, filepath.Join(t.TempDir(), "results.jsonl"))...)
	cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir(), "GREETING_FROM_TEST=hello")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("idempotence passed a converge that always changes:\n%s", out)
	}
	if !strings.Contains(string(out), "idempotence FAILED") || strings.Contains(string(out), "--> always_changes: verify") {
		t.Errorf("want idempotence FAILED and no verify:\n%s", out)
	}
}

// writeFiles creates dir and the files in it.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
