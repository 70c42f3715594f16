package observability

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
)

// TestMetricsDocMatchesTheCode keeps docs/metrics.md in step with the
// metric set (each family in a table row with its labels), the alerts, the
// log events and the dashboard file.
func TestMetricsDocMatchesTheCode(t *testing.T) {
	data, err := os.ReadFile(metricsDocFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, f := range metrics.Families() {
		labels := make([]string, len(f.Labels))
		for i, l := range f.Labels {
			labels[i] = "`" + l + "`"
		}
		row := fmt.Sprintf("| `%s` | %s |", f.Name, strings.Join(labels, ", "))
		if !strings.Contains(doc, row) {
			t.Errorf("docs/metrics.md has no row starting %q", row)
		}
	}
	for _, a := range alertNames(t) {
		if !strings.Contains(doc, "| `"+a+"` |") {
			t.Errorf("docs/metrics.md does not list alert %s", a)
		}
	}
	for _, e := range []string{logging.EventRetryAttempt, logging.EventRetryFinished, logging.EventGuardChange, logging.EventSLOEvaluation, logging.EventRollback,
		logging.EventCanaryMetric, logging.EventCanaryVerdict} {
		if !strings.Contains(doc, "| `"+e+"` |") {
			t.Errorf("docs/metrics.md does not list log event %s", e)
		}
	}
	for _, path := range []string{"files/grafana/threader-guard-dashboard.json", "files/prometheus/threader_guard.rules.yml", "files/prometheus/tests/threader_guard_test.yml"} {
		if !strings.Contains(doc, path) {
			t.Errorf("docs/metrics.md does not mention %s", path)
		}
	}
	for _, m := range []string{"threader_guard:lock_held_seconds"} {
		if !strings.Contains(doc, m) {
			t.Errorf("docs/metrics.md does not describe the recording rule %s", m)
		}
	}
}
