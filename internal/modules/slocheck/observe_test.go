package slocheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/moduletest"
)

// fakePrometheus answers instant queries with answer(query), a vector of
// unlabelled values (none: no data), and counts the queries.
type fakePrometheus struct {
	*httptest.Server
	queries atomic.Int64
}

func newFakePrometheus(t *testing.T, answer func(query string) []float64) *fakePrometheus {
	t.Helper()
	fp := &fakePrometheus{}
	fp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fp.queries.Add(1)
		var samples []string
		for _, v := range answer(r.FormValue("query")) {
			samples = append(samples, fmt.Sprintf(`{"metric":{},"value":[%d,%q]}`, time.Now().Unix(), strconv.FormatFloat(v, 'g', -1, 64)))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[%s]}}`, strings.Join(samples, ","))
	}))
	t.Cleanup(fp.Close)
	return fp
}

// webAnswers: a 5xx ratio over its limit, a healthy health ratio, and no
// data for anything else.
func webAnswers(query string) []float64 {
	switch {
	case strings.Contains(query, "5xx"):
		return []float64{0.023}
	case strings.Contains(query, "health"):
		return []float64{0.999}
	}
	return nil
}

// webChecks are three checks: error_ratio fails (0.023 > 0.01), health
// passes, empty fails with no data.
func webChecks() []any {
	return []any{
		map[string]any{"name": "error_ratio", "query": `avg_over_time(job:http_5xx_ratio_1m{job="web"}[15m])`, "max": 0.01},
		map[string]any{"name": "health", "query": `avg_over_time(job:health_ok_ratio_1m{job="web"}[15m])`, "min": 0.995},
		map[string]any{"name": "empty", "query": `absent_everything`, "max": 1},
	}
}

// moduleArgs are the module options of a gate over prom with checks.
func moduleArgs(promURL string, checks []any, more ...any) map[string]any {
	a := map[string]any{"prometheus_url": promURL, "loki_url": "", "default_checks": false, "checks": checks,
		"request_timeout_seconds": 5, "request_retries": 0, "_ansible_module_name": "threader.guard.slo_check"}
	for i := 0; i+1 < len(more); i += 2 {
		a[more[i].(string)] = more[i+1]
	}
	return a
}

func TestModulePublishesAndLogsEachCheck(t *testing.T) {
	prom := newFakePrometheus(t, webAnswers)
	sock := moduletest.NewSyslog(t)
	pg := moduletest.NewFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	host, _ := os.Hostname()
	res, code, _ := invoke(t, moduleArgs(prom.URL, webChecks(), "name", "release-web", "metrics_textfile", textfile,
		"pushgateway_url", pg.URL), sock.Env())
	if code != 1 || res["passed"] != false || res["warnings"] != nil {
		t.Fatalf("exit %d: %v", code, res)
	}
	text := moduletest.ReadFile(t, textfile)
	moduletest.WantSeries(t, text, map[string]float64{
		`threader_guard_slo_check_value{check="error_ratio",name="release-web"}`:     0.023,
		`threader_guard_slo_check_threshold{check="error_ratio",name="release-web"}`: 0.01,
		`threader_guard_slo_check_passed{check="error_ratio",name="release-web"}`:    0,
		`threader_guard_slo_check_value{check="health",name="release-web"}`:          0.999,
		`threader_guard_slo_check_threshold{check="health",name="release-web"}`:      0.995,
		`threader_guard_slo_check_passed{check="health",name="release-web"}`:         1,
		`threader_guard_slo_check_value{check="empty",name="release-web"}`:           math.NaN(),
		`threader_guard_slo_check_threshold{check="empty",name="release-web"}`:       1,
		`threader_guard_slo_check_passed{check="empty",name="release-web"}`:          0,
	})
	if !(moduletest.Value(text, `threader_guard_slo_check_last_evaluation_timestamp_seconds{check="health",name="release-web"}`) > 0) {
		t.Errorf("no evaluation timestamp:\n%s", text)
	}
	if strings.Contains(text, "job:http_5xx_ratio_1m") || strings.Contains(text, prom.URL) {
		t.Errorf("a query or the URL was published:\n%s", text)
	}
	if pushes := pg.Pushes(); len(pushes) != 1 || pushes[0].GroupingKey() != "POST instance="+host+" job=slo_check name=release-web" {
		t.Errorf("pushes %v", pushes)
	}
	lines := sock.Lines(t, 3)
	moduletest.WantInLine(t, lines[0], " ansible-slo_check[", "<12>", `event=slo_evaluation module=slo_check name=release-web check=error_ratio value=0.023 comparison="<=" threshold=0.01 passed=false evaluation=1 samples=1`)
	moduletest.WantInLine(t, lines[1], "<14>", `check=health value=0.999 comparison=">=" threshold=0.995 passed=true evaluation=1 samples=1`)
	moduletest.WantInLine(t, lines[2], `check=empty value=NaN comparison="<=" threshold=1 passed=false evaluation=1 error="no data"`)
	for _, l := range lines {
		if strings.Contains(l, "query") || strings.Contains(l, "http_5xx") {
			t.Errorf("a query was logged: %q", l)
		}
	}
}

// While polling, every evaluation is logged; the metrics are the last one.
func TestModulePollingLogsEveryEvaluationAndPublishesTheLast(t *testing.T) {
	var calls atomic.Int64
	prom := newFakePrometheus(t, func(string) []float64 {
		if calls.Add(1) == 1 {
			return []float64{0.5}
		}
		return []float64{0.999}
	})
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	checks := []any{map[string]any{"name": "health", "query": "health", "min": 0.995}}
	res, code, _ := invoke(t, moduleArgs(prom.URL, checks, "interval_seconds", 0.05, "timeout_seconds", 30, "metrics_textfile", textfile), sock.Env())
	if code != 0 || res["passed"] != true || res["evaluations"] != 2.0 {
		t.Fatalf("exit %d: %v", code, res)
	}
	moduletest.WantSeries(t, moduletest.ReadFile(t, textfile), map[string]float64{
		`threader_guard_slo_check_value{check="health",name="slo_check"}`:  0.999,
		`threader_guard_slo_check_passed{check="health",name="slo_check"}`: 1,
	})
	lines := sock.Lines(t, 2)
	moduletest.WantInLine(t, lines[0], "event=slo_evaluation module=slo_check name=slo_check check=health value=0.5", "passed=false evaluation=1")
	moduletest.WantInLine(t, lines[1], "check=health value=0.999", "passed=true evaluation=2")
}

func TestModuleCheckModeLogsButPublishesNothingAndNoLogLogsNothing(t *testing.T) {
	prom := newFakePrometheus(t, webAnswers)
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	checks := webChecks()[1:2] // health
	res, code, _ := invoke(t, moduleArgs(prom.URL, checks, "name", "planned", "metrics_textfile", textfile, "_ansible_check_mode", true), sock.Env())
	if code != 0 || res["passed"] != true {
		t.Fatalf("check mode: exit %d: %v", code, res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published (stat: %v)", err)
	}
	if line := sock.Next(t); !strings.Contains(line, "name=planned check=health") {
		t.Errorf("check mode: log line %q", line)
	}
	invoke(t, moduleArgs(prom.URL, checks, "name", "quiet", "_ansible_no_log", true), sock.Env())
	invoke(t, moduleArgs(prom.URL, checks, "name", "loud"), sock.Env())
	if line := sock.Next(t); !strings.Contains(line, "name=loud") {
		t.Errorf("the no_log task logged: %q", line)
	}
}

// no_log values (the Prometheus password, the Pushgateway password, a check
// name holding one) reach neither the textfile, the push nor the log.
func TestModuleKeepsSecretsOutOfMetricsAndLogs(t *testing.T) {
	prom := newFakePrometheus(t, webAnswers)
	sock := moduletest.NewSyslog(t)
	pg := moduletest.NewFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	const promPass, pushPass = "prom-s3cret-81", "pgw-s3cret-27"
	checks := []any{map[string]any{"name": "health-" + promPass, "query": "health", "min": 0.995}}
	res, code, out := invoke(t, moduleArgs(prom.URL, checks, "name", "gate-"+pushPass, "prometheus_username", "bot", "prometheus_password", promPass,
		"metrics_textfile", textfile, "pushgateway_url", strings.Replace(pg.URL, "http://", "http://ci:"+pushPass+"@", 1)), sock.Env())
	if code != 0 || res["passed"] != true || res["warnings"] != nil {
		t.Fatalf("exit %d: %v", code, res)
	}
	logged := sock.Next(t)
	for where, text := range map[string]string{"result": out, "textfile": moduletest.ReadFile(t, textfile), "push": pg.Sent(), "log": logged} {
		for _, secret := range []string{promPass, pushPass} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds %q:\n%s", where, secret, text)
			}
		}
	}
	if !strings.Contains(moduletest.ReadFile(t, textfile), `{check="health-********",name="gate-********"}`) {
		t.Errorf("names not masked:\n%s", moduletest.ReadFile(t, textfile))
	}
}

func TestModuleNameCheckNameAndDestinationErrors(t *testing.T) {
	prom := newFakePrometheus(t, webAnswers)
	sock := moduletest.NewSyslog(t)
	dir := t.TempDir()
	bad := func(name string) []any {
		return append(webChecks()[:1], map[string]any{"name": name, "query": "health", "min": 0.995})
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{moduleArgs(prom.URL, webChecks(), "name", strings.Repeat("x", 129)), "value of name "},
		{moduleArgs(prom.URL, webChecks(), "name", "a\nb"), `value of name "a\nb" contains control characters`},
		{moduleArgs(prom.URL, bad("a\tb")), `checks[1].name "a\tb" contains control characters`},
		{moduleArgs(prom.URL, bad(strings.Repeat("c", 200))), `checks[1].name "cccc`},
		{moduleArgs(prom.URL, bad(" ")), "checks[1].name must not be empty"},
		{moduleArgs(prom.URL, webChecks(), "metrics_textfile", filepath.Join(dir, "nodir", "m.prom")), "metrics_textfile: "},
		{moduleArgs(prom.URL, webChecks(), "pushgateway_url", "ftp://x"), "pushgateway_url: "},
	} {
		res, code, _ := invoke(t, tc.args, sock.Env())
		if msg, _ := res["msg"].(string); code != 1 || res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("want a failure starting %q, got exit %d: %v", tc.want, code, res["msg"])
		}
	}
	if n := prom.queries.Load(); n != 0 {
		t.Errorf("Prometheus was queried %d times despite bad options", n)
	}
	res, code, _ := invoke(t, moduleArgs(prom.URL, webChecks()[1:2], "pushgateway_url", moduletest.ClosedURL()), sock.Env())
	warnings, _ := res["warnings"].([]any)
	if code != 0 || res["passed"] != true || len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want success with one warning, got exit %d: %v", code, res)
	}
}

func TestCLIPublishesAndLogs(t *testing.T) {
	prom := newFakePrometheus(t, webAnswers)
	sock := moduletest.NewSyslog(t)
	t.Setenv(observe.SyslogSocketEnv, sock.Path)
	textfile := filepath.Join(t.TempDir(), "threader_guard.prom")
	args := []string{"--prometheus-url", prom.URL, "--loki-url", "", "--job", "web", "--window", "15m", "--request-retries", "0",
		"--name", "ci-gate", "--metrics-textfile", textfile}
	r := invokeCLI(t, nil, args...)
	if r.code != exitFailed {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	moduletest.WantSeries(t, moduletest.ReadFile(t, textfile), map[string]float64{
		`threader_guard_slo_check_value{check="5xx_ratio",name="ci-gate"}`:     0.023,
		`threader_guard_slo_check_passed{check="5xx_ratio",name="ci-gate"}`:    0,
		`threader_guard_slo_check_passed{check="health_ratio",name="ci-gate"}`: 1,
	})
	lines := sock.Lines(t, 2)
	moduletest.WantInLine(t, lines[0], " slo_check[", "event=slo_evaluation module=slo_check name=ci-gate check=5xx_ratio value=0.023", "passed=false evaluation=1")
	moduletest.WantInLine(t, lines[1], "check=health_ratio value=0.999", "passed=true")
	if strings.Contains(lines[0], "ansible-") {
		t.Errorf("the CLI logs as slo_check, not as the module: %q", lines[0])
	}
	// --no-syslog logs nothing: the next line is the following run's.
	invokeCLI(t, nil, append(args, "--no-syslog", "--name", "silent")...)
	invokeCLI(t, nil, append(args, "--name", "after")...)
	if line := sock.Next(t); !strings.Contains(line, "name=after") {
		t.Errorf("--no-syslog logged: %q", line)
	}
}

func TestCLIFlagErrorsAndPublishWarnings(t *testing.T) {
	prom := newFakePrometheus(t, webAnswers)
	t.Setenv(observe.SyslogSocketEnv, filepath.Join(t.TempDir(), "none"))
	dir := t.TempDir()
	base := []string{"--prometheus-url", prom.URL, "--loki-url", "", "--request-retries", "0"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-textfile", filepath.Join(dir, "m.txt")}, "slo_check: --metrics-textfile: "},
		{[]string{"--metrics-textfile", "m.prom"}, `slo_check: --metrics-textfile: "m.prom" must be an absolute path`},
		{[]string{"--pushgateway-url", "ftp://x"}, "slo_check: --pushgateway-url: "},
		{[]string{"--name", strings.Repeat("x", 200)}, "slo_check: --name "},
		{[]string{"--checks", `{name: "a\tb", query: up, max: 1}`}, `check 1: name "a\tb" contains control characters`},
	} {
		r := invokeCLI(t, nil, append(base, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
	if n := prom.queries.Load(); n != 0 {
		t.Errorf("Prometheus was queried %d times despite bad flags", n)
	}
	var stderr bytes.Buffer
	code := cli(context.Background(), append(base, "--job", "web", "--max-5xx-ratio", "0.05", "--pushgateway-url", moduletest.ClosedURL()), io.Discard, &stderr, nil)
	if code != exitPassed || !strings.Contains(stderr.String(), "\nslo_check: warning: metrics not published: --pushgateway-url ") {
		t.Errorf("unreachable Pushgateway: exit %d, stderr %q; want 0 and a warning", code, stderr.String())
	}
}
