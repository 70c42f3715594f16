package observability

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/testenv"
)

const e2eInstance = "e2e-host" // the Pushgateway grouping key's instance

// publishScenario writes, through internal/metrics, what a deployment that
// went wrong leaves behind: a guard-window locked 3 hours ago, a command
// that needed 5 attempts, an SLO check that failed inside the window and a
// rollback that failed, and a canary judged to fail. Each run goes to the
// textfile and the Pushgateway.
func publishScenario(t *testing.T, textfile, pushgatewayURL string, now time.Time) {
	t.Helper()
	publish := func(module, name string, record func(*metrics.Recorder)) {
		r, err := metrics.New(metrics.Options{Module: module, Name: name, Instance: e2eInstance, Clock: clock.NewFake(now)})
		if err != nil {
			t.Fatal(err)
		}
		record(r)
		if err := r.Publish(context.Background(), textfile, pushgatewayURL); err != nil {
			t.Fatalf("publish %s/%s: %v", module, name, err)
		}
	}
	publish("qos_guard", "deploy-window", func(r *metrics.Recorder) {
		r.RecordGuard(metrics.GuardState{Locked: true, LockedAt: now.Add(-3 * time.Hour), ExpiresAt: now.Add(time.Hour), Changed: true})
		r.RecordFreeze(true)
		r.RecordBreakGlassTotal(1) // first published above 0: ThreaderGuardBreakGlassUsed fires
	})
	publish("retry_command", "migrate-db", func(r *metrics.Recorder) {
		r.RecordRetry(metrics.RetryRun{Attempts: 5, MaxAttempts: 6, Outcome: metrics.OutcomeSuccess, ExitCode: 0,
			Delay: 14 * time.Second, Duration: 20 * time.Second})
	})
	publish("slo_check", "web", func(r *metrics.Recorder) {
		r.RecordSLOCheck("error_ratio", 0.05, 0.01, false)
		r.RecordSLOCheck("health", 1, 0.99, true)
		r.RecordRollback(metrics.OutcomeFailure, 12*time.Second)
	})
	publish("canary_judge", "web-canary", func(r *metrics.Recorder) {
		r.RecordCanaryJudgement(metrics.CanaryJudgement{Score: 50, Classification: "fail",
			Metrics: []metrics.CanaryMetric{{Name: "latency", Classification: "high"}, {Name: "errors", Classification: "pass"}}})
	})
}

// TestMetricsReachPrometheusAndDriveTheAlerts runs real node_exporter
// (textfile collector), Pushgateway and Prometheus: what internal/metrics
// writes shows up through both paths, node_exporter reads the file without
// error, the rules load and are healthy, each of the five alerts fires on
// the data, and every dashboard query runs and has data.
func TestMetricsReachPrometheusAndDriveTheAlerts(t *testing.T) {
	stack := testenv.StartObservabilityStack(t, alertRulesFile)
	prom := stack.Prometheus
	publishScenario(t, stack.TextfilePath("threader_guard.prom"), stack.Pushgateway.URL, time.Now())

	// Both paths: job="node" from the textfile, job=<module> from the push.
	prom.WaitQuery(t, `count by (job) ({__name__=~"threader_guard_.+"})`, "series from both paths",
		func(s []testenv.PromSample) bool { return len(s) == 5 }) // node, qos_guard, retry_command, slo_check, canary_judge
	got := prom.Query(t, `threader_guard_locked`)
	var where []string
	for _, s := range got {
		where = append(where, s.Metric["job"]+"/"+s.Metric["instance"]+"/"+s.Metric["name"]+"="+s.Value)
	}
	sort.Strings(where)
	want := []string{"node/" + stack.NodeExporter.Addr + "/deploy-window=1", "qos_guard/" + e2eInstance + "/deploy-window=1"}
	if strings.Join(where, " ") != strings.Join(want, " ") {
		t.Errorf("threader_guard_locked series %v, want %v", where, want)
	}
	// Every family the runs recorded arrived by both paths (the scenario
	// has no failed retry run and no successful rollback, so neither of
	// their timestamps).
	notRecorded := map[string]bool{metrics.RetryLastFailure: true, metrics.RollbackLastSuccess: true}
	paths := prom.Query(t, `count by (__name__) (group by (__name__, job) ({__name__=~"threader_guard_.+"}))`)
	arrived := map[string]string{}
	for _, s := range paths {
		arrived[s.Metric["__name__"]] = s.Value
	}
	for _, f := range metrics.Families() {
		if want := "2"; !notRecorded[f.Name] && arrived[f.Name] != want {
			t.Errorf("%s arrived by %q paths, want %s (textfile and Pushgateway)", f.Name, arrived[f.Name], want)
		}
	}
	if errs := prom.Query(t, `node_textfile_scrape_error`); len(errs) != 1 || errs[0].Value != "0" {
		t.Errorf("node_textfile_scrape_error = %v, want 0 (node_exporter could not read the textfile):\n%s", errs, stack.NodeExporter.Output())
	}

	// The five alerts fire, once per path.
	wantAlerts := map[string]int{"ThreaderGuardLockedTooLong": 2, "ThreaderGuardSLOViolationDuringGuardWindow": 2,
		"ThreaderGuardRollbackFailed": 2, "ThreaderGuardExcessiveRetries": 2, "ThreaderGuardBreakGlassUsed": 2}
	firing := prom.WaitQuery(t, `count by (alertname) (ALERTS{alertstate="firing", alertname=~"ThreaderGuard.*"})`, "the five alerts to fire",
		func(s []testenv.PromSample) bool {
			n := 0
			for _, a := range s {
				if a.Value == "2" {
					n++
				}
			}
			return n == len(wantAlerts)
		})
	for _, a := range firing {
		if wantAlerts[a.Metric["alertname"]] == 0 {
			t.Errorf("unexpected alert %v", a.Metric)
		}
	}
	for _, a := range prom.Alerts(t) {
		if a.Labels["alertname"] == "ThreaderGuardSLOViolationDuringGuardWindow" && a.Labels["check"] != "error_ratio" {
			t.Errorf("the passing check alerted: %v", a.Labels)
		}
		if !strings.Contains(a.Annotations["runbook_url"], "docs/runbooks.md#"+strings.ToLower(a.Labels["alertname"])) {
			t.Errorf("%s: runbook_url %q", a.Labels["alertname"], a.Annotations["runbook_url"])
		}
	}
	for _, r := range prom.Rules(t) {
		if r.Health != "ok" || r.LastError != "" {
			t.Errorf("rule %s/%s: health %q, error %q", r.Group, r.Name, r.Health, r.LastError)
		}
	}

	// Every dashboard query runs on the real server, and every panel has
	// data to show.
	d := loadDashboard(t)
	defined := definedVars(d)
	for _, q := range dashboardQueries(t, d) {
		expr, _ := expandGrafanaVars(q.Expr, defined)
		res := prom.Query(t, expr) // fails the test on a query error
		if q.MustReturnData && len(res) == 0 {
			t.Errorf("%s returns nothing on the scenario data: %s", q.Where, expr)
		}
	}
}

// TestTextfilePassesPromtoolLint runs `promtool check metrics` (the
// Prometheus naming and exposition lint) on a textfile holding every
// family of the set.
func TestTextfilePassesPromtoolLint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.prom")
	publishScenario(t, path, "", time.Now())
	r, err := metrics.New(metrics.Options{Module: "retry_command", Name: "failing"})
	if err != nil {
		t.Fatal(err)
	}
	r.RecordRetry(metrics.RetryRun{Attempts: 3, MaxAttempts: 3, Outcome: metrics.OutcomeFailure, ExitCode: 1})
	r.RecordRollback(metrics.OutcomeSuccess, time.Second)
	if err := r.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range metrics.Families() {
		if !strings.Contains(string(data), "# TYPE "+f.Name+" "+f.Type+"\n") {
			t.Errorf("the scenario did not write %s", f.Name)
		}
	}
	out, code := testenv.Run(t, nil, "sh", "-c", promtool(t)+" check metrics < "+path)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("promtool check metrics (exit %d):\n%s\nfile:\n%s", code, out, data)
	}
}
