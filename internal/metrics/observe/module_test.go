package observe_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/moduletest"
)

var testSpec = ansiblemod.Spec{
	Options: observe.WithOptions(map[string]ansiblemod.Option{
		"name":  {Type: ansiblemod.Str, Default: "demo"},
		"token": {Type: ansiblemod.Str, NoLog: true},
	}),
	SupportsCheckMode: true,
}

// demoHandler is the wiring a real module does: start, record, log, finish.
func demoHandler(m *ansiblemod.Module) (ansiblemod.Result, error) {
	obs, err := observe.Begin(m)
	if err != nil {
		return nil, err
	}
	defer obs.FinishModule(m)
	obs.Metrics.RecordSLOCheck("probe", 1, 1, true)
	obs.Log.SLOEvaluation(logging.SLOEvaluation{Check: "probe", Value: 1, Threshold: 1, Passed: true,
		Err: errUsingToken(m.Str("token"))})
	return ansiblemod.Result{"changed": false}, nil
}

type tokenErr string

func (e tokenErr) Error() string { return "request with token " + string(e) }

func errUsingToken(tok string) error {
	if tok == "" {
		return nil
	}
	return tokenErr(tok)
}

// demo is demoHandler as a module named slo_check, run by this test
// binary (TestMain) as Ansible runs it.
var (
	demoProgram = ansiblemod.Program{Name: "slo_check", Spec: testSpec, Handler: demoHandler}
	demo        = moduletest.Self(demoProgram)
)

func TestMain(m *testing.M) { moduletest.Main(m, demoProgram) }

func TestModuleWiringPublishesLogsAndMasks(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	pgw := moduletest.NewFakePushgateway(t)
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	// Tasks call the module by its FQCN; job, syslog tag and module= are
	// the short name all the same.
	run := demo.Run(t, map[string]any{
		"_ansible_module_name": "threader.guard.slo_check",
		"name":                 "web", "token": "tok-123", "metrics_textfile": textfile,
		"pushgateway_url": strings.Replace(pgw.URL, "http://", "http://bot:pgw-pass@", 1),
	}, sock.Env())
	res := run.JSON
	if res["failed"] == true || res["warnings"] != nil {
		t.Fatalf("module result: %v", res)
	}
	if strings.Contains(run.Stdout, "pgw-pass") || strings.Contains(run.Stdout, "tok-123") {
		t.Errorf("a secret is in the result: %s", run.Stdout)
	}
	data, err := os.ReadFile(textfile)
	if err != nil || !strings.Contains(string(data), `threader_guard_slo_check_passed{check="probe",name="web"} 1`) {
		t.Errorf("textfile: %v\n%s", err, data)
	}
	if p := pgw.Pushes(); len(p) != 1 || !strings.HasPrefix(p[0].Path, "/metrics/job/slo_check/") || p[0].User != "bot" || p[0].Password != "pgw-pass" {
		t.Errorf("pushes: %+v, want one to job slo_check with the URL's basic auth", p)
	}
	line := sock.Next(t)
	if !strings.Contains(line, "ansible-slo_check[") || !strings.Contains(line, "event=slo_evaluation module=slo_check name=web check=probe") {
		t.Errorf("log line %q", line)
	}
	if strings.Contains(line, "tok-123") || !strings.Contains(line, "********") {
		t.Errorf("no_log value not masked in the log: %q", line)
	}
}

func TestModuleWiringUnderNoLogAndCheckMode(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	res := demo.Run(t, map[string]any{"name": "quiet", "metrics_textfile": textfile, "_ansible_no_log": true, "_ansible_check_mode": true}, sock.Env()).JSON
	if res["failed"] == true {
		t.Fatalf("module result: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published metrics: %v", err)
	}
	// A second run without no_log: the first line on the socket is its.
	demo.Run(t, map[string]any{"name": "loud"}, sock.Env())
	if line := sock.Next(t); !strings.Contains(line, "name=loud") {
		t.Errorf("a no_log task logged: %q", line)
	}
}

func TestModuleWiringReportsBadOptionsAndPublishFailures(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"metrics_textfile": "/nonexistent-dir/x.prom"}, "metrics_textfile: "},
		{map[string]any{"name": "a\tb"}, `value of name "a\tb" contains control characters`},
		{map[string]any{"name": "  "}, "value of name must not be empty"},
	} {
		res := demo.Run(t, tc.args, sock.Env()).JSON
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: result %v, want a failure starting %q", tc.args, res, tc.want)
		}
	}
	res := demo.Run(t, map[string]any{"pushgateway_url": moduletest.ClosedURL()}, sock.Env()).JSON
	warnings, _ := res["warnings"].([]any)
	if res["failed"] == true || len(warnings) != 1 || !strings.Contains(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want success with one warning, got %v", res)
	}
}
