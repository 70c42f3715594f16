package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// TestMoleculeScenarios runs every role's molecule scenario
// (roles/*/molecule/*/molecule.yml) with real molecule (PyPI, pinned in
// tests/requirements/molecule.txt, installed into build/molecule by make
// venvs): `molecule test` in the role's directory, delegated driver against
// localhost: syntax, converge, idempotence, verify, cleanup. The playbooks
// run on the ansible-core the tests use (PATH: Debian's, or the matrix's
// THREADER_ANSIBLE_BIN). The slo_gate scenario reads Prometheus from
// PROMETHEUS_URL and the job from THREADER_JOB, the role's fallbacks, as a
// user's CI would set them. The ssh scenarios' target is a real sshd on the
// loopback that the test starts, named by THREADER_SSHD_* (molecule
// interpolates them into the scenario's inventory); each reuses its role's
// default converge, verify and cleanup, and verifies with
// tests/molecule/verify_over_ssh.yml that the target's shell is an ssh
// session of that sshd. Every path a scenario writes on the target (this
// machine) is in its run's MOLECULE_EPHEMERAL_DIRECTORY, so the main suite's
// and the matrix's runs of one scenario, side by side, cannot collide.
//
// Roles with an ssh scenario: those that work on the target (sshScenarioRoles).
// None for canary_analysis: canary_judge runs on the controller
// (canary_analysis_delegate_to: localhost), so over ssh nothing of the role
// would cross the connection. None for guard_watch: it needs systemd, and
// TestGuardWatchRoleUnderSystemd runs it under a real one.
func TestMoleculeScenarios(t *testing.T) {
	t.Parallel()
	molecule := filepath.Join(testenv.RepoRoot(), "build", "molecule", "bin", "molecule")
	if _, err := os.Stat(molecule); err != nil {
		t.Fatalf("molecule is needed: make venvs installs it into build/molecule (%v)", err)
	}
	c := testenv.InstallCollection(t)
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	// The canary scenarios are for canary_analysis's scenario.
	series := append(data.Series, testenv.NewCanaryScenarios(time.Now()).Series...)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: series, RuleFiles: []string{testenv.RecordingRulesFile()}})
	sshd := testenv.StartSSHD(t)
	sshdEnv := []string{"THREADER_SSHD_PORT=" + strconv.Itoa(sshd.Port), "THREADER_SSHD_USER=" + sshd.User,
		"THREADER_SSHD_KEY=" + sshd.ClientKey, "THREADER_SSHD_SSH_ARGS=" + strings.Join(sshd.SSHOptions(), " ")}
	scenarios, _ := filepath.Glob(filepath.Join(testenv.RepoRoot(), "roles", "*", "molecule", "*", "molecule.yml"))
	if len(scenarios) < 5 {
		t.Fatalf("want a molecule scenario per role, found %d: %v", len(scenarios), scenarios)
	}
	for _, role := range sshScenarioRoles {
		want := filepath.Join(testenv.RepoRoot(), "roles", role, "molecule", "ssh", "molecule.yml")
		if !slices.Contains(scenarios, want) {
			t.Errorf("want roles/%s/molecule/ssh, the role's scenario over ssh: found %v", role, scenarios)
		}
	}
	for _, file := range scenarios {
		dir := filepath.Dir(file)
		name := filepath.Base(dir)
		role := filepath.Base(filepath.Dir(filepath.Dir(dir)))
		t.Run(role+"/"+name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(molecule, "test", "--scenario-name", name)
			cmd.Dir = filepath.Join(testenv.RepoRoot(), "roles", role)
			cmd.Env = append(cmd.Environ(), c.Env(t, filepath.Join(t.TempDir(), "results.jsonl"))...)
			// molecule's ephemeral directory is private to this run: by default
			// it is ~/.ansible/tmp/molecule.HASH.SCENARIO, the same for every
			// run of a role, and the matrix runs the scenarios at the same time.
			cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir(), "MOLECULE_EPHEMERAL_DIRECTORY="+t.TempDir(), "NO_COLOR=1",
				"PROMETHEUS_URL="+prom.URL, "THREADER_JOB=stable", "LOKI_URL=")
			cmd.Env = append(cmd.Env, sshdEnv...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("molecule test in roles/%s (scenario %s): %v\n%s", role, name, err, out)
			}
			for _, step := range []string{"converge", "idempotence", "verify"} {
				if !regexp.MustCompile(name + `\s+\S+\s+` + step + `: Executed: Successful`).Match(out) {
					t.Errorf("molecule did not report %s successful:\n%s", step, out)
				}
			}
		})
	}
}

// sshScenarioRoles are the roles whose work happens on the target, each
// with a molecule scenario over ssh (TestMoleculeScenarios says why the
// others have none).
var sshScenarioRoles = []string{"guard_window", "rollback", "promotion", "cli_tools", "slo_gate"}

// TestMoleculeIdempotenceCatchesChanges makes sure the scenarios'
// idempotence step, as molecule.yml sets it up here (delegated driver,
// provisioner.env interpolated from the environment), fails when a converge
// changes something every time, and stops the sequence before verify.
func TestMoleculeIdempotenceCatchesChanges(t *testing.T) {
	t.Parallel()
	molecule := filepath.Join(testenv.RepoRoot(), "build", "molecule", "bin", "molecule")
	if _, err := os.Stat(molecule); err != nil {
		t.Fatalf("molecule is needed: make venvs installs it into build/molecule (%v)", err)
	}
	c := testenv.InstallCollection(t)
	project := t.TempDir()
	dir := filepath.Join(project, "molecule", "always_changes")
	writeFiles(t, dir, map[string]string{
		"molecule.yml": `---
prerun: false
driver:
  name: default
  options:
    managed: false
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
	cmd := exec.Command(molecule, "test", "--scenario-name", "always_changes")
	cmd.Dir = project
	cmd.Env = append(cmd.Environ(), c.Env(t, filepath.Join(t.TempDir(), "results.jsonl"))...)
	cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir(), "MOLECULE_EPHEMERAL_DIRECTORY="+t.TempDir(), "NO_COLOR=1", "GREETING_FROM_TEST=hello")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("idempotence passed a converge that always changes:\n%s", out)
	}
	if !regexp.MustCompile(`(?i)idempotence.*fail`).Match(out) || regexp.MustCompile(`verify: Executed: Successful`).Match(out) {
		t.Errorf("want idempotence failed and no verify:\n%s", out)
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
