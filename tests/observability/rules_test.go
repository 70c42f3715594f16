// Package observability checks the collection's Prometheus rules, Grafana
// dashboard and metric docs with the real tools (promtool, Prometheus,
// node_exporter, Pushgateway), and that what internal/metrics writes reaches
// a real Prometheus and drives the alerts.
package observability

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/testenv"
)

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot()}, parts...)...)
}

// Files this package owns and checks.
var (
	alertRulesFile = repoPath("files", "prometheus", "threader_guard.rules.yml")
	alertTestsFile = repoPath("files", "prometheus", "tests", "threader_guard_test.yml")
	dashboardFile  = repoPath("files", "grafana", "threader-guard-dashboard.json")
	runbooksFile   = repoPath("docs", "runbooks.md")
	metricsDocFile = repoPath("docs", "metrics.md")
)

func promtool(t *testing.T) string {
	return testenv.RequireBinary(t, "promtool", "prometheus")
}

// TestPromtoolCheckRules checks every rules file the collection ships
// (others' too, since rule files are loaded together in one Prometheus).
func TestPromtoolCheckRules(t *testing.T) {
	files, err := filepath.Glob(repoPath("files", "prometheus", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules files in files/prometheus: %v", err)
	}
	out, code := testenv.Run(t, nil, promtool(t), append([]string{"check", "rules"}, files...)...)
	testenv.Must(t, out, code, "promtool check rules")
}

// TestPromtoolTestRules runs the alert unit tests: each alert fires on
// synthetic series and stays silent where it must.
func TestPromtoolTestRules(t *testing.T) {
	cmd := promtool(t)
	// promtool resolves rule_files relative to the test file's directory.
	out, code := testenv.Run(t, nil, cmd, "test", "rules", alertTestsFile)
	testenv.Must(t, out, code, "promtool test rules "+alertTestsFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules did not report SUCCESS:\n%s", out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// alertNames returns the alerts of the rules file, sorted.
func alertNames(t *testing.T) []string {
	var rf ruleFile
	readYAML(t, alertRulesFile, &rf)
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	sort.Strings(names)
	return names
}

// runbookAnchors returns the GitHub anchors of the "## " headings of
// docs/runbooks.md ("## ThreaderGuardLockedTooLong" -> "threaderguardlockedtoolong").
func runbookAnchors(t *testing.T) map[string]bool {
	data, err := os.ReadFile(runbooksFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	nonWord := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(data), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			a := nonWord.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), "")
			anchors[strings.ReplaceAll(a, " ", "-")] = true
		}
	}
	return anchors
}

var metricNameRE = regexp.MustCompile(`\bthreader_guard(?::[a-z_]+|_[a-z_]+)\b`)

// knownMetric reports whether name is in the documented set or recorded
// by a rule of the rules file.
func knownMetrics(t *testing.T) map[string]bool {
	known := map[string]bool{}
	for _, f := range metrics.Families() {
		known[f.Name] = true
	}
	var rf ruleFile
	readYAML(t, alertRulesFile, &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				known[r.Record] = true
			}
		}
	}
	return known
}

// TestAlertsAreComplete checks what promtool does not: every alert has a
// severity, a summary, a description and a runbook link to an existing
// section of docs/runbooks.md, uses only documented metrics, and has a unit
// test where it fires and one where it does not.
func TestAlertsAreComplete(t *testing.T) {
	var rf ruleFile
	readYAML(t, alertRulesFile, &rf)
	anchors := runbookAnchors(t)
	known := knownMetrics(t)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, alertTestsFile, &tests)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	var alerts int
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			for _, m := range metricNameRE.FindAllString(r.Expr, -1) {
				if !known[m] {
					t.Errorf("rule %s%s uses %s, which is neither in metrics.Families() nor recorded here", r.Alert, r.Record, m)
				}
			}
			if r.Alert == "" {
				continue
			}
			alerts++
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs summary and description annotations", r.Alert)
			}
			url := r.Annotations["runbook_url"]
			_, anchor, _ := strings.Cut(url, "docs/runbooks.md#")
			if anchor == "" || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q does not point at a section of docs/runbooks.md (sections: %v)", r.Alert, url, anchors)
			}
			if !fires[r.Alert] || !silent[r.Alert] {
				t.Errorf("%s: the promtool tests need a case where it fires (%v) and one where it does not (%v)", r.Alert, fires[r.Alert], silent[r.Alert])
			}
		}
	}
	if alerts != 5 {
		t.Errorf("%d alerts, want the 4 of the observability issue and ThreaderGuardBreakGlassUsed (issue 14)", alerts)
	}
}
