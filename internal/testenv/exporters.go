package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NodeExporter is a real prometheus-node-exporter (Debian package
// prometheus-node-exporter) with only its textfile collector, reading
// TextfileDir, on a free loopback port.
type NodeExporter struct {
	Addr        string // host:port, the scrape target
	TextfileDir string // what --collector.textfile.directory points at
	proc        *Process
}

// StartNodeExporter starts node_exporter and waits until /metrics answers.
// All default collectors are off: the tests need only the textfile one, and
// the others would read the build machine's /proc and /sys.
func StartNodeExporter(t testing.TB) *NodeExporter {
	t.Helper()
	bin := RequireBinary(t, "prometheus-node-exporter", "prometheus-node-exporter")
	ne := &NodeExporter{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), TextfileDir: t.TempDir()}
	ne.proc = Start(t, t.TempDir(), bin,
		"--web.listen-address="+ne.Addr,
		"--collector.disable-defaults",
		"--collector.textfile",
		"--collector.textfile.directory="+ne.TextfileDir,
		"--log.level=warn")
	ne.proc.WaitHTTP(t, "http://"+ne.Addr+"/metrics")
	return ne
}

// Metrics returns node_exporter's current /metrics text.
func (ne *NodeExporter) Metrics(t testing.TB) string {
	t.Helper()
	return obsGet(t, "http://"+ne.Addr+"/metrics")
}

// Output returns what node_exporter logged.
func (ne *NodeExporter) Output() string { return ne.proc.Output() }

// Pushgateway is a real prometheus-pushgateway (Debian package
// prometheus-pushgateway) without persistence, on a free loopback port.
type Pushgateway struct {
	Addr string // host:port, the scrape target
	URL  string // base URL to push to
	proc *Process
}

// StartPushgateway starts the Pushgateway and waits until it is ready.
//
// Persistence is off (an empty --persistence.file): Debian builds the
// Pushgateway with /var/lib/prometheus/pushgateway.data as the default, so
// every test's Pushgateway would load the groups earlier tests pushed and
// save its own on exit, and tests would see each other's data.
func StartPushgateway(t testing.TB) *Pushgateway {
	t.Helper()
	bin := RequireBinary(t, "prometheus-pushgateway", "prometheus-pushgateway")
	pg := &Pushgateway{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	pg.URL = "http://" + pg.Addr
	pg.proc = Start(t, t.TempDir(), bin, "--web.listen-address="+pg.Addr, "--persistence.file=", "--log.level=warn")
	pg.proc.WaitHTTP(t, pg.URL+"/-/ready")
	return pg
}

// Metrics returns the Pushgateway's current /metrics text.
func (pg *Pushgateway) Metrics(t testing.TB) string {
	t.Helper()
	return obsGet(t, pg.URL+"/metrics")
}

// Output returns what the Pushgateway logged.
func (pg *Pushgateway) Output() string { return pg.proc.Output() }

// Stop ends the Pushgateway (the URL then refuses connections).
func (pg *Pushgateway) Stop() { pg.proc.Stop() }

// ScrapeTarget is one scrape job of a ScrapingPrometheus.
type ScrapeTarget struct {
	Job  string
	Addr string // host:port
	// HonorLabels keeps the job and instance labels the target exposes, as
	// a Pushgateway scrape job must (the pushed grouping key wins).
	HonorLabels bool
}

// ScrapingPrometheus is a real Prometheus that scrapes targets every
// second and evaluates rule files every second, so tests see fresh samples
// and alert states within a few seconds. (StartPrometheus in prometheus.go
// serves backfilled data and scrapes nothing.)
type ScrapingPrometheus struct {
	URL  string
	proc *Process
}

// StartScrapingPrometheus starts Prometheus scraping targets with ruleFiles
// loaded and waits until it is ready.
func StartScrapingPrometheus(t testing.TB, targets []ScrapeTarget, ruleFiles ...string) *ScrapingPrometheus {
	t.Helper()
	bin := RequireBinary(t, "prometheus", "prometheus")
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(obsScrapeConfig(targets, ruleFiles)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := &ScrapingPrometheus{URL: "http://" + addr}
	p.proc = Start(t, dir, bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	p.proc.WaitHTTP(t, p.URL+"/-/ready")
	return p
}

func obsScrapeConfig(targets []ScrapeTarget, ruleFiles []string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
	if len(ruleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range ruleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	b.WriteString("scrape_configs:\n")
	for _, tg := range targets {
		fmt.Fprintf(&b, "  - job_name: %q\n    honor_labels: %t\n    static_configs:\n      - targets: [%q]\n", tg.Job, tg.HonorLabels, tg.Addr)
	}
	return b.String()
}

// Output returns what Prometheus logged.
func (p *ScrapingPrometheus) Output() string { return p.proc.Output() }

// PromSample is one series of an instant vector.
type PromSample struct {
	Metric map[string]string
	Value  string // as Prometheus sent it: "1", "NaN", "+Inf"
}

// PromResponse is the /api/v1 envelope.
type PromResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
	Warnings  []string        `json:"warnings"`
}

// API GETs /api/v1/<path> with params and returns the envelope; HTTP errors
// with a JSON envelope (a bad query is a 400) are returned, not fatal.
func (p *ScrapingPrometheus) API(t testing.TB, path string, params url.Values) PromResponse {
	t.Helper()
	u := p.URL + "/api/v1/" + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	body := obsGetAny(t, u)
	var r PromResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("GET %s: not a Prometheus API response: %v\n%s", u, err, body)
	}
	return r
}

// Query runs an instant query and returns the vector; a query error or a
// non-vector result fails the test.
func (p *ScrapingPrometheus) Query(t testing.TB, expr string) []PromSample {
	t.Helper()
	r := p.API(t, "query", url.Values{"query": {expr}})
	if r.Status != "success" {
		t.Fatalf("query %s: %s: %s", expr, r.ErrorType, r.Error)
	}
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil || data.ResultType != "vector" {
		t.Fatalf("query %s: want a vector, got %s (%v)", expr, r.Data, err)
	}
	out := make([]PromSample, 0, len(data.Result))
	for _, s := range data.Result {
		v, _ := s.Value[1].(string)
		out = append(out, PromSample{Metric: s.Metric, Value: v})
	}
	return out
}

// WaitQuery polls expr until ok accepts the result, the server dies, or
// 120 s pass (scrapes and rule evaluations run every second, but a loaded
// machine delays them). The deadline
// only bounds a broken test; nothing is asserted about time.
func (p *ScrapingPrometheus) WaitQuery(t testing.TB, expr string, what string, ok func([]PromSample) bool) []PromSample {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var last []PromSample
	for time.Now().Before(deadline) {
		if p.proc.Exited() {
			t.Fatalf("prometheus exited:\n%s", tail(p.Output()))
		}
		last = p.Query(t, expr)
		if ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: query %s still returns %v after 120s", what, expr, last)
	return nil
}

// RuleHealth is one loaded rule as /api/v1/rules reports it.
type RuleHealth struct {
	Group, Name, Type, Health, LastError, State string
}

// Rules returns every loaded rule with its health.
func (p *ScrapingPrometheus) Rules(t testing.TB) []RuleHealth {
	t.Helper()
	r := p.API(t, "rules", nil)
	if r.Status != "success" {
		t.Fatalf("rules: %s", r.Error)
	}
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				State     string `json:"state"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatalf("rules: %v", err)
	}
	var out []RuleHealth
	for _, g := range data.Groups {
		for _, rule := range g.Rules {
			out = append(out, RuleHealth{g.Name, rule.Name, rule.Type, rule.Health, rule.LastError, rule.State})
		}
	}
	return out
}

// PromAlert is one active alert from /api/v1/alerts.
type PromAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending or firing
	Value       string            `json:"value"`
}

// Alerts returns the active (pending or firing) alerts.
func (p *ScrapingPrometheus) Alerts(t testing.TB) []PromAlert {
	t.Helper()
	r := p.API(t, "alerts", nil)
	if r.Status != "success" {
		t.Fatalf("alerts: %s", r.Error)
	}
	var data struct {
		Alerts []PromAlert `json:"alerts"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatalf("alerts: %v", err)
	}
	return data.Alerts
}

// ObservabilityStack is node_exporter (textfile collector) and a
// Pushgateway, both scraped by one Prometheus with rule files loaded: what
// the modules' metrics_textfile and pushgateway_url options feed.
type ObservabilityStack struct {
	NodeExporter *NodeExporter
	Pushgateway  *Pushgateway
	Prometheus   *ScrapingPrometheus
}

// Scrape job names of the stack.
const (
	NodeJob        = "node"
	PushgatewayJob = "pushgateway"
)

// TextfilePath is a .prom file in node_exporter's textfile directory.
func (s *ObservabilityStack) TextfilePath(name string) string {
	return filepath.Join(s.NodeExporter.TextfileDir, name)
}

// StartObservabilityStack starts the three servers. Series from the
// textfile get job="node" and instance=<node_exporter address>; pushed
// series keep their grouping key (job=<module>, instance, name).
func StartObservabilityStack(t testing.TB, ruleFiles ...string) *ObservabilityStack {
	t.Helper()
	s := &ObservabilityStack{NodeExporter: StartNodeExporter(t), Pushgateway: StartPushgateway(t)}
	s.Prometheus = StartScrapingPrometheus(t, []ScrapeTarget{
		{Job: NodeJob, Addr: s.NodeExporter.Addr},
		{Job: PushgatewayJob, Addr: s.Pushgateway.Addr, HonorLabels: true},
	}, ruleFiles...)
	return s
}

// obsGet returns the body of a 200 answer, failing the test otherwise.
func obsGet(t testing.TB, u string) string {
	t.Helper()
	body, code := obsFetch(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", u, code, body)
	}
	return body
}

// obsGetAny returns the body whatever the status (the API sends errors as
// JSON envelopes with 4xx/5xx codes).
func obsGetAny(t testing.TB, u string) string {
	t.Helper()
	body, _ := obsFetch(t, u)
	return body
}

func obsFetch(t testing.TB, u string) (string, int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return string(body), resp.StatusCode
}
