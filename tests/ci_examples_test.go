package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/testenv"
)

// The CI examples in docs/ci run here as their CI would run them: every
// command is read from the example file (GitHub Actions `run:` steps, GitLab
// CI `before_script:`/`script:`), so the test cannot drift from the docs.
// Only the site settings at the top of each example (env: / variables:) are
// pointed at local things: a real Prometheus with the SLO scenario data, a
// temporary guard-window file and tools directory, the built tarball, no
// become. The repository the pipeline deploys from is a temporary directory
// with an inventory of localhost, a deploy.yml that fails and the
// ci/guard-vars.yml the examples read.
//
// The story, in both: a push deploys, the deploy fails, the rollback runs
// through `retry_command 3 5 -- ansible-playbook ...` and locks the guard;
// the next push is refused by `qos_guard status` and deploys nothing; the
// manual release unlocks the guard (the SLOs are stable); the manual
// promotion promotes and locks it again.

// ciSite is the pipeline's world: the repository it deploys from and the
// settings that replace the example's site settings.
type ciSite struct {
	repo      string
	overrides map[string]string
	plumbing  []string // test-only environment (ansible temp dirs and config)
	guard     string
	tools     string
	markers   string
}

func newCISite(t *testing.T, prom *testenv.Prometheus) *ciSite {
	t.Helper()
	dir := t.TempDir()
	s := &ciSite{repo: filepath.Join(dir, "repo"), guard: filepath.Join(dir, "qos.guard"),
		tools: filepath.Join(dir, "sbin"), markers: filepath.Join(dir, "markers")}
	for _, d := range []string{s.tools, s.markers, filepath.Join(s.repo, "ci")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, s.repo, map[string]string{
		"inventory.ini": "[threader]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
		"deploy.yml": fmt.Sprintf(`---
- name: Deploy build 42 (it breaks)
  hosts: threader
  gather_facts: false
  tasks:
    - name: Record that the deploy ran
      ansible.builtin.file: {path: %s/deployed, state: touch, mode: "0644"}
    - name: Fail like a broken build
      ansible.builtin.fail: {msg: build 42 does not start}
`, s.markers),
	})
	writeFiles(t, filepath.Join(s.repo, "ci"), map[string]string{"guard-vars.yml": fmt.Sprintf(`---
rollback_command: ["touch", "%[1]s/rolled-back"]
promote_command: ["touch", "%[1]s/promoted"]
slo_interval_seconds: 1
slo_consecutive: 2
slo_timeout_seconds: 30
`, s.markers)})
	s.overrides = map[string]string{
		"PROMETHEUS_URL":         prom.URL,
		"LOKI_URL":               "", // no Loki here: the log check is off
		"THREADER_JOB":           "stable",
		"QOS_GUARD_PATH":         s.guard,
		"THREADER_GUARD_TARBALL": testenv.Tarball(t),
		"CLI_TOOLS_DIR":          s.tools,
		"ANSIBLE_BECOME":         "false",
	}
	s.plumbing = []string{
		"ANSIBLE_COLLECTIONS_PATH=" + filepath.Join(dir, "collections"),
		"ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "ansible-local"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(dir, "ansible-remote"),
		"ANSIBLE_CONFIG=" + filepath.Join(dir, "none.cfg"),
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_LOCALHOST_WARNING=0",
		"ANSIBLE_RETRY_FILES_ENABLED=0",
		"HOME=" + dir,
	}
	return s
}

// env is the environment of a step: the example's settings with the site
// overrides applied. Every override must replace a setting the example has.
func (s *ciSite) env(t *testing.T, settings map[string]string, extra ...string) []string {
	t.Helper()
	for k := range s.overrides {
		if _, ok := settings[k]; !ok {
			t.Fatalf("the example does not set %s; the test would run it with settings it does not have", k)
		}
	}
	env := append(os.Environ(), s.plumbing...)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := settings[k]
		if o, ok := s.overrides[k]; ok {
			v = o
		}
		env = append(env, k+"="+v)
	}
	return append(env, extra...)
}

// runScript runs script with bash as the CI runners do (-e, pipefail).
func (s *ciSite) runScript(t *testing.T, env []string, script string) (string, bool) {
	t.Helper()
	bash := testenv.RequireBinary(t, "bash", "bash")
	file := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", file)
	cmd.Dir, cmd.Env = s.repo, env
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func (s *ciSite) guardLocked(t *testing.T) bool {
	t.Helper()
	err := exec.Command(filepath.Join(s.tools, "qos_guard"), "--path", s.guard, "status").Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return true
	}
	if err != nil {
		t.Fatalf("qos_guard status: %v", err)
	}
	return false
}

func (s *ciSite) marker(name string) bool {
	_, err := os.Stat(filepath.Join(s.markers, name))
	return err == nil
}

// commandsIn lists the example's commands that the story must exercise.
func requireCommands(t *testing.T, text string) {
	t.Helper()
	for _, want := range []string{"qos_guard status", "retry_command 3 5 -- ansible-playbook",
		"threader.guard.install_cli_tools", "threader.guard.auto_rollback_on_failure",
		"threader.guard.qos_guard_release", "threader.guard.promo_with_guards"} {
		if !strings.Contains(text, want) {
			t.Errorf("the example has no %q", want)
		}
	}
}

func TestCIExamples(t *testing.T) {
	t.Parallel()
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})

	t.Run("github actions", func(t *testing.T) {
		t.Parallel()
		wf := readGitHubWorkflow(t, filepath.Join(testenv.RepoRoot(), "docs", "ci", "github-actions.yml"))
		s := newCISite(t, prom)

		steps := wf.run(t, s, "deploy")
		if want := []string{"skipped", "success", "success", "failure", "success"}; !slices.Equal(steps, want) {
			t.Fatalf("first push: step outcomes %v, want %v", steps, want)
		}
		if !s.marker("deployed") || !s.marker("rolled-back") || !s.guardLocked(t) {
			t.Fatal("first push: want the deploy, the rollback and the guard locked")
		}

		os.Remove(filepath.Join(s.markers, "deployed"))
		steps = wf.run(t, s, "deploy")
		if want := []string{"skipped", "success", "failure", "skipped", "skipped"}; !slices.Equal(steps, want) {
			t.Fatalf("second push: step outcomes %v, want %v (refused by the guard)", steps, want)
		}
		if s.marker("deployed") {
			t.Error("second push deployed while the guard was locked")
		}

		if steps = wf.run(t, s, "release"); slices.Contains(steps, "failure") || s.guardLocked(t) {
			t.Fatalf("release: %v, locked %v", steps, s.guardLocked(t))
		}
		if steps = wf.run(t, s, "promote"); slices.Contains(steps, "failure") || !s.marker("promoted") || !s.guardLocked(t) {
			t.Fatalf("promote: %v; want promoted and locked", steps)
		}
	})

	t.Run("gitlab ci", func(t *testing.T) {
		t.Parallel()
		ci := readGitLabCI(t, filepath.Join(testenv.RepoRoot(), "docs", "ci", "gitlab-ci.yml"))
		s := newCISite(t, prom)

		jobs := ci.pipeline(t, s)
		if want := map[string]string{"guard": "success", "deploy": "failed", "rollback": "success"}; !mapsEqual(jobs, want) {
			t.Fatalf("first pipeline: %v, want %v", jobs, want)
		}
		if !s.marker("deployed") || !s.marker("rolled-back") || !s.guardLocked(t) {
			t.Fatal("first pipeline: want the deploy, the rollback and the guard locked")
		}

		os.Remove(filepath.Join(s.markers, "deployed"))
		jobs = ci.pipeline(t, s)
		if want := map[string]string{"guard": "failed", "deploy": "skipped", "rollback": "skipped"}; !mapsEqual(jobs, want) {
			t.Fatalf("second pipeline: %v, want %v (refused by the guard)", jobs, want)
		}
		if s.marker("deployed") {
			t.Error("second pipeline deployed while the guard was locked")
		}

		if st := ci.manual(t, s, "release"); st != "success" || s.guardLocked(t) {
			t.Fatalf("release: %s, locked %v", st, s.guardLocked(t))
		}
		if st := ci.manual(t, s, "promote"); st != "success" || !s.marker("promoted") || !s.guardLocked(t) {
			t.Fatalf("promote: %s; want promoted and locked", st)
		}
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// --- GitHub Actions ---

type ghStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Run  string            `yaml:"run"`
	Uses string            `yaml:"uses"`
	Env  map[string]string `yaml:"env"`
}

type ghWorkflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []ghStep          `yaml:"steps"`
	} `yaml:"jobs"`
}

func readGitHubWorkflow(t *testing.T, path string) *ghWorkflow {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	requireCommands(t, string(text))
	var wf ghWorkflow
	if err := yaml.Unmarshal(text, &wf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &wf
}

// run runs a job's steps as the runner would and returns each step's
// outcome: success, failure or skipped. `uses:` steps (checkout) are skipped:
// the site's repository is the checkout.
func (wf *ghWorkflow) run(t *testing.T, s *ciSite, name string) []string {
	t.Helper()
	job, ok := wf.Jobs[name]
	if !ok {
		t.Fatalf("no job %s in the workflow", name)
	}
	githubPath := filepath.Join(t.TempDir(), "github_path")
	os.WriteFile(githubPath, nil, 0o644)
	var outcomes []string
	outcome := map[string]string{}
	failed := false
	for i, step := range job.Steps {
		result := "skipped"
		if step.Run != "" && ghCondition(t, step.If, failed, outcome) {
			settings := merge(wf.Env, job.Env, step.Env)
			env := s.env(t, settings, "GITHUB_PATH="+githubPath, "GITHUB_WORKSPACE="+s.repo, "CI=true")
			env = withGitHubPath(t, env, githubPath)
			out, ok := s.runScript(t, env, step.Run)
			result = "success"
			if !ok {
				result, failed = "failure", true
			}
			t.Logf("job %s, step %d %q: %s\n%s", name, i, step.Name, result, out)
		}
		if step.ID != "" {
			outcome[step.ID] = result
		}
		outcomes = append(outcomes, result)
	}
	return outcomes
}

// ghCondition evaluates the step conditions the example uses: success(),
// failure(), always() and steps.ID.outcome == 'VALUE', joined with &&.
// Anything else fails the test, so the example cannot outgrow the test.
func ghCondition(t *testing.T, cond string, failed bool, outcome map[string]string) bool {
	t.Helper()
	cond = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cond), "${{"), "}}"))
	if cond == "" {
		return !failed
	}
	stepOutcome := regexp.MustCompile(`^steps\.(\w+)\.outcome == '(\w+)'$`)
	statusCheck := false
	result := true
	for _, part := range strings.Split(cond, "&&") {
		part = strings.TrimSpace(part)
		switch {
		case part == "success()":
			statusCheck, result = true, result && !failed
		case part == "failure()":
			statusCheck, result = true, result && failed
		case part == "always()":
			statusCheck = true
		case stepOutcome.MatchString(part):
			m := stepOutcome.FindStringSubmatch(part)
			result = result && outcome[m[1]] == m[2]
		default:
			t.Fatalf("the test does not understand the step condition %q", part)
		}
	}
	if !statusCheck { // GitHub adds success() to conditions without a status check
		result = result && !failed
	}
	return result
}

// withGitHubPath puts the directories earlier steps added to $GITHUB_PATH in
// front of PATH, as the runner does.
func withGitHubPath(t *testing.T, env []string, githubPath string) []string {
	t.Helper()
	data, _ := os.ReadFile(githubPath)
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line != "" {
			dirs = append([]string{line}, dirs...)
		}
	}
	if len(dirs) == 0 {
		return env
	}
	path := os.Getenv("PATH")
	return append(env, "PATH="+strings.Join(dirs, ":")+":"+path)
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// --- GitLab CI ---

type glJob struct {
	Stage        string            `yaml:"stage"`
	Needs        *[]string         `yaml:"needs"`
	When         string            `yaml:"when"`
	BeforeScript []string          `yaml:"before_script"`
	Script       []string          `yaml:"script"`
	Variables    map[string]string `yaml:"variables"`
}

type gitlabCI struct {
	Stages    []string
	Variables map[string]string
	Default   glJob
	Jobs      map[string]glJob
}

func readGitLabCI(t *testing.T, path string) *gitlabCI {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	requireCommands(t, string(text))
	var raw map[string]yaml.Node
	if err := yaml.Unmarshal(text, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	ci := &gitlabCI{Jobs: map[string]glJob{}}
	for key, node := range raw {
		var err error
		switch key {
		case "stages":
			err = node.Decode(&ci.Stages)
		case "variables":
			err = node.Decode(&ci.Variables)
		case "default":
			err = node.Decode(&ci.Default)
		default:
			var job glJob
			err = node.Decode(&job)
			ci.Jobs[key] = job
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", path, key, err)
		}
	}
	return ci
}

// pipeline runs a push pipeline: every job that is not manual, stage by
// stage, with GitLab's when: on_success / on_failure / always over the jobs
// it needs (or, without needs, every earlier job). It returns each job's
// status: success, failed or skipped.
func (ci *gitlabCI) pipeline(t *testing.T, s *ciSite) map[string]string {
	t.Helper()
	status := map[string]string{}
	var earlier []string
	for _, stage := range ci.Stages {
		var names []string
		for name, job := range ci.Jobs {
			if job.Stage == stage && job.When != "manual" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			job := ci.Jobs[name]
			deps := earlier
			if job.Needs != nil {
				deps = *job.Needs
			}
			anyFailed, allSucceeded := false, true
			for _, d := range deps {
				anyFailed = anyFailed || status[d] == "failed"
				allSucceeded = allSucceeded && status[d] == "success"
			}
			run := false
			switch job.When {
			case "", "on_success":
				run = allSucceeded
			case "on_failure":
				run = anyFailed
			case "always":
				run = true
			default:
				t.Fatalf("job %s: the test does not understand when: %s", name, job.When)
			}
			status[name] = "skipped"
			if run {
				status[name] = ci.runJob(t, s, name)
			}
		}
		earlier = append(earlier, names...)
	}
	return status
}

// manual runs one manual job, as pressing its play button does.
func (ci *gitlabCI) manual(t *testing.T, s *ciSite, name string) string {
	t.Helper()
	if job, ok := ci.Jobs[name]; !ok || job.When != "manual" {
		t.Fatalf("no manual job %s", name)
	}
	return ci.runJob(t, s, name)
}

// runJob runs before_script and script in one shell, as the shell executor does.
func (ci *gitlabCI) runJob(t *testing.T, s *ciSite, name string) string {
	t.Helper()
	job := ci.Jobs[name]
	before := ci.Default.BeforeScript
	if job.BeforeScript != nil {
		before = job.BeforeScript
	}
	script := strings.Join(append(append([]string{}, before...), job.Script...), "\n") + "\n"
	env := s.env(t, merge(ci.Variables, job.Variables), "CI=true", "CI_PROJECT_DIR="+s.repo, "CI_JOB_NAME="+name)
	out, ok := s.runScript(t, env, script)
	status := "success"
	if !ok {
		status = "failed"
	}
	t.Logf("job %s: %s\n%s", name, status, out)
	return status
}
