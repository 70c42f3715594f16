package observe

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/logging"
)

// moduleArgsEnv makes the test binary act as a small module (see TestMain):
// ansiblemod.Run takes over fd 1 for good, so a module run needs a process.
const moduleArgsEnv = "OBSERVE_TEST_MODULE_ARGS"

var testSpec = ansiblemod.Spec{
	Options: WithOptions(map[string]ansiblemod.Option{
		"name":  {Type: ansiblemod.Str, Default: "demo"},
		"token": {Type: ansiblemod.Str, NoLog: true},
	}),
	SupportsCheckMode: true,
}

// demoHandler is the wiring a real module does: start, record, log, finish.
func demoHandler(m *ansiblemod.Module) (ansiblemod.Result, error) {
	obs, err := Begin(m)
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

func TestMain(m *testing.M) {
	if args := os.Getenv(moduleArgsEnv); args != "" {
		os.Exit(ansiblemod.Run("slo_check", testSpec, demoHandler, []string{"AnsiballZ_slo_check", args}))
	}
	os.Exit(m.Run())
}

// runModule runs the test binary as the demo module with args, the system
// log at socket, and returns the module's JSON result.
func runModule(t *testing.T, socket string, args map[string]any) map[string]any {
	t.Helper()
	data, _ := json.Marshal(args)
	path := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), moduleArgsEnv+"="+path, SyslogSocketEnv+"="+socket)
	out, _ := cmd.Output()
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("no JSON result (%v): %s", err, out)
	}
	return res
}

func TestModuleWiringPublishesLogsAndMasks(t *testing.T) {
	sock, conn := syslogSocket(t)
	var mu sync.Mutex
	var pushedPaths []string
	pgw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pushedPaths = append(pushedPaths, r.URL.Path)
		mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "pgw-pass" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer pgw.Close()
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	// Tasks call the module by its FQCN; job, syslog tag and module= are
	// the short name all the same.
	res := runModule(t, sock, map[string]any{
		"_ansible_module_name": "threader.guard.slo_check",
		"name":                 "web", "token": "tok-123", "metrics_textfile": textfile,
		"pushgateway_url": strings.Replace(pgw.URL, "http://", "http://bot:pgw-pass@", 1),
	})
	if res["failed"] == true || res["warnings"] != nil {
		t.Fatalf("module result: %v", res)
	}
	out, _ := json.Marshal(res)
	if strings.Contains(string(out), "pgw-pass") || strings.Contains(string(out), "tok-123") {
		t.Errorf("a secret is in the result: %s", out)
	}
	data, err := os.ReadFile(textfile)
	if err != nil || !strings.Contains(string(data), `threader_guard_slo_check_passed{check="probe",name="web"} 1`) {
		t.Errorf("textfile: %v\n%s", err, data)
	}
	mu.Lock()
	if len(pushedPaths) != 1 || !strings.HasPrefix(pushedPaths[0], "/metrics/job/slo_check/") {
		t.Errorf("pushes: %v", pushedPaths)
	}
	mu.Unlock()
	line := readLine(t, conn)
	if !strings.Contains(line, "ansible-slo_check[") || !strings.Contains(line, "event=slo_evaluation module=slo_check name=web check=probe") {
		t.Errorf("log line %q", line)
	}
	if strings.Contains(line, "tok-123") || !strings.Contains(line, "********") {
		t.Errorf("no_log value not masked in the log: %q", line)
	}
}

func TestModuleWiringUnderNoLogAndCheckMode(t *testing.T) {
	sock, conn := syslogSocket(t)
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	res := runModule(t, sock, map[string]any{"name": "quiet", "metrics_textfile": textfile, "_ansible_no_log": true, "_ansible_check_mode": true})
	if res["failed"] == true {
		t.Fatalf("module result: %v", res)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode published metrics: %v", err)
	}
	// A second run without no_log: the first line on the socket is its.
	runModule(t, sock, map[string]any{"name": "loud"})
	if line := readLine(t, conn); !strings.Contains(line, "name=loud") {
		t.Errorf("a no_log task logged: %q", line)
	}
}

func TestModuleWiringReportsBadOptionsAndPublishFailures(t *testing.T) {
	sock, _ := syslogSocket(t)
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"metrics_textfile": "/nonexistent-dir/x.prom"}, "metrics_textfile: "},
		{map[string]any{"name": "a\tb"}, `value of name "a\tb" contains control characters`},
		{map[string]any{"name": "  "}, "value of name must not be empty"},
	} {
		res := runModule(t, sock, tc.args)
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: result %v, want a failure starting %q", tc.args, res, tc.want)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	res := runModule(t, sock, map[string]any{"pushgateway_url": url})
	warnings, _ := res["warnings"].([]any)
	if res["failed"] == true || len(warnings) != 1 || !strings.Contains(warnings[0].(string), "metrics not published: pushgateway_url") {
		t.Errorf("unreachable Pushgateway: want success with one warning, got %v", res)
	}
}
