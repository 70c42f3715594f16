package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prometheus is a real Prometheus server (Debian package prometheus) started
// for a test, on a free loopback port, with its data in the test's temp dir.
type Prometheus struct {
	URL  string
	Dir  string // data directory
	args []string
	bin  string
	proc *Process
}

// PrometheusOptions says what the server starts with.
type PrometheusOptions struct {
	// Series are backfilled before the start with `promtool tsdb
	// create-blocks-from openmetrics`, so queries see exactly these samples.
	// Samples may lie in the future: blocks are only read.
	Series []MetricSeries
	// RuleFiles are loaded with rule_files (default: none).
	RuleFiles []string
	// BackfillRulesFrom/To, when set, run `promtool tsdb create-blocks-from
	// rules` for RuleFiles over that range against the running server,
	// then restart it so the recorded series can be queried. They must lie
	// in the past.
	BackfillRulesFrom, BackfillRulesTo time.Time
}

// RecordingRulesFile is the rules file the collection ships for slo_check's
// default checks.
func RecordingRulesFile() string {
	return filepath.Join(RepoRoot(), "files", "prometheus", "recording.rules.yml")
}

// StartPrometheus starts Prometheus and waits until it is ready. The test
// fails if prometheus or promtool is not installed.
func StartPrometheus(t testing.TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := RequireBinary(t, "prometheus", "prometheus")
	promtool := RequireBinary(t, "promtool", "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if len(opts.Series) > 0 {
		src := filepath.Join(dir, "series.om")
		if err := os.WriteFile(src, OpenMetrics(opts.Series), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := Run(t, nil, promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", src, data)
		Must(t, out, code, "promtool tsdb create-blocks-from openmetrics")
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(prometheusConfig(opts.RuleFiles)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	p := &Prometheus{
		URL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Dir: data,
		bin: bin,
		args: []string{
			"--config.file=" + config,
			"--storage.tsdb.path=" + data,
			"--web.listen-address=" + fmt.Sprintf("127.0.0.1:%d", port),
			"--log.level=warn",
		},
	}
	p.start(t, dir)
	if !opts.BackfillRulesFrom.IsZero() {
		p.backfillRules(t, promtool, dir, opts)
	}
	return p
}

func (p *Prometheus) start(t testing.TB, dir string) {
	t.Helper()
	p.proc = Start(t, dir, p.bin, p.args...)
	p.proc.WaitHTTP(t, p.URL+"/-/ready")
}

// backfillRules evaluates the rule files over the given range against the
// running server, then restarts it with the new blocks in place.
func (p *Prometheus) backfillRules(t testing.TB, promtool, dir string, opts PrometheusOptions) {
	t.Helper()
	if len(opts.RuleFiles) == 0 {
		t.Fatal("BackfillRulesFrom needs RuleFiles")
	}
	out := filepath.Join(dir, "rule-blocks")
	args := []string{"tsdb", "create-blocks-from", "rules", "--quiet",
		"--url=" + p.URL, "--output-dir=" + out,
		"--start=" + strconv.FormatInt(opts.BackfillRulesFrom.Unix(), 10),
		"--end=" + strconv.FormatInt(opts.BackfillRulesTo.Unix(), 10)}
	o, code := Run(t, nil, promtool, append(args, opts.RuleFiles...)...)
	Must(t, o, code, "promtool tsdb create-blocks-from rules")
	p.proc.Stop()
	blocks, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatalf("promtool create-blocks-from rules made no blocks:\n%s", o)
	}
	for _, b := range blocks {
		if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(p.Dir, b.Name())); err != nil {
			t.Fatal(err)
		}
	}
	p.start(t, dir)
}

// Stop ends the server (the URL then refuses connections).
func (p *Prometheus) Stop() { p.proc.Stop() }

// Output returns what the server logged.
func (p *Prometheus) Output() string { return p.proc.Output() }

func prometheusConfig(ruleFiles []string) string {
	var b strings.Builder
	b.WriteString("global:\n  evaluation_interval: 1m\n")
	if len(ruleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range ruleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	return b.String()
}
