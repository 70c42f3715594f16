package moduletest

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/metrics/observe"
)

// echo is a module that returns its name, the FQCN it was called by and
// $MODULETEST_ECHO, and fails when asked to.
var echo = ansiblemod.Program{
	Name: "echo",
	Spec: ansiblemod.Spec{Options: map[string]ansiblemod.Option{"fail": {Type: ansiblemod.Bool, Default: false}}},
	Handler: func(m *ansiblemod.Module) (ansiblemod.Result, error) {
		if m.Bool("fail") {
			return nil, fmt.Errorf("asked to fail")
		}
		return ansiblemod.Result{"called_as": m.Name, "env": os.Getenv("MODULETEST_ECHO")}, nil
	},
}

func TestMain(m *testing.M) { Main(m, echo) }

func TestSelfRunsTheModuleUnderItsFQCN(t *testing.T) {
	args := map[string]any{}
	r := Self(echo).Run(t, args, "MODULETEST_ECHO=hello")
	if r.Code != 0 || r.JSON["called_as"] != "threader.guard.echo" || r.JSON["env"] != "hello" || !strings.Contains(r.Stdout, `"hello"`) {
		t.Errorf("run: %+v", r)
	}
	if len(args) != 0 {
		t.Errorf("Run changed the caller's args: %v", args)
	}
	r = Self(echo).Run(t, map[string]any{"_ansible_module_name": "ansible.legacy.echo", "fail": true})
	if r.Code != 1 || r.JSON["failed"] != true || r.JSON["msg"] != "asked to fail" || r.JSON["called_as"] != nil {
		t.Errorf("failing run under another name: %+v", r)
	}
}

// recorder is a testing.TB that collects failures instead of failing, to
// test the checks themselves. Fatal ends the goroutine, as it does a test.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Errorf(f string, a ...any) { r.failures = append(r.failures, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatal(a ...any)            { r.Errorf("%s", fmt.Sprint(a...)); runtime.Goexit() }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }

// failures runs check and returns what it reported.
func failures(t *testing.T, check func(testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r.failures
}

const textfile = `# HELP threader_guard_slo_check_value x
threader_guard_slo_check_value{check="a",name="n"} 0.5
threader_guard_slo_check_value{check="b",name="n"} NaN
threader_guard_locked{name="n"} 1
`

func TestSampleTellsAbsentFromNaN(t *testing.T) {
	if s := Sample(textfile, `threader_guard_slo_check_value{check="b",name="n"}`); s != "NaN" {
		t.Errorf("NaN sample: %q", s)
	}
	if s := Sample(textfile, `threader_guard_slo_check_value{check="c",name="n"}`); s != "" {
		t.Errorf("absent series: %q", s)
	}
	if v := Value(textfile, `threader_guard_slo_check_value{check="a",name="n"}`); v != 0.5 {
		t.Errorf("Value = %v", v)
	}
	if v := Value(textfile, `threader_guard_locked{name="m"}`); !math.IsNaN(v) {
		t.Errorf("Value of an absent series = %v, want NaN", v)
	}
}

func TestWantSeries(t *testing.T) {
	got := failures(t, func(tb testing.TB) {
		WantSeries(tb, textfile, map[string]float64{
			`threader_guard_slo_check_value{check="a",name="n"}`: 0.5,
			`threader_guard_slo_check_value{check="b",name="n"}`: math.NaN(),
		})
	})
	if len(got) != 0 {
		t.Errorf("matching series reported: %q", got)
	}
	got = failures(t, func(tb testing.TB) {
		WantSeries(tb, textfile, map[string]float64{
			`threader_guard_locked{name="n"}`:                    0,
			`threader_guard_slo_check_value{check="c",name="n"}`: math.NaN(),
		})
	})
	if want := []string{`threader_guard_locked{name="n"} = 1, want 0`, `no threader_guard_slo_check_value{check="c",name="n"}, want NaN`}; !sameSet(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}

func TestFakePushgatewayRecordsPushes(t *testing.T) {
	pg := NewFakePushgateway(t)
	req, _ := newPush(pg.URL+"/metrics/name/web/job/qos_guard/instance/h1", "threader_guard_locked 1\n")
	req.SetBasicAuth("bot", "pw")
	if _, err := pg.Client().Do(req); err != nil {
		t.Fatal(err)
	}
	p := pg.Pushes()
	if len(p) != 1 || p[0].GroupingKey() != "POST instance=h1 job=qos_guard name=web" || p[0].User != "bot" || p[0].Password != "pw" {
		t.Errorf("pushes %+v", p)
	}
	if sent := pg.Sent(); !strings.Contains(sent, "threader_guard_locked 1") || strings.Contains(sent, "pw") {
		t.Errorf("Sent() = %q: want the body, not the credentials", sent)
	}
}

func TestSyslogReceivesLines(t *testing.T) {
	s := NewSyslog(t)
	if s.Env() != observe.SyslogSocketEnv+"="+s.Path {
		t.Errorf("Env() = %q", s.Env())
	}
	for _, line := range []string{"one", "two"} {
		if err := sendDatagram(s.Path, line); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Lines(t, 2); got[0] != "one" || got[1] != "two" {
		t.Errorf("lines %q", got)
	}
	if got := failures(t, func(tb testing.TB) { WantInLine(tb, "event=x name=y", "name=y", "name=z") }); len(got) != 1 || !strings.Contains(got[0], `lacks "name=z"`) {
		t.Errorf("WantInLine reported %q", got)
	}
}

// demoSpec has a plain option with a default and choices, and a list of
// dicts with suboptions, besides the observability options.
var demoSpec = ansiblemod.Spec{Options: observe.WithOptions(map[string]ansiblemod.Option{
	"state": {Default: "on", Choices: []any{"on", "off"}},
	"items": {Type: ansiblemod.List, Elements: ansiblemod.Dict, Options: map[string]ansiblemod.Option{
		"n": {Type: ansiblemod.Int, Required: true},
	}},
})}

const goodDoc = `DOCUMENTATION:
  module: demo
  extends_documentation_fragment: [threader.guard.observability]
  options:
    state: {description: [What to do.], type: str, default: "on", choices: ["on", "off"]}
    items:
      description: [Things.]
      type: list
      elements: dict
      suboptions:
        n: {description: [A number.], type: int, required: true}
EXAMPLES: |
  - name: Demo
    threader.guard.demo: {state: "off"}
RETURN:
  msg: {description: What happened., type: str, returned: always}
`

func TestCheckSidecarDocFindsEachDifference(t *testing.T) {
	prog := ansiblemod.Program{Name: "demo", Spec: demoSpec}
	check := func(doc string) []string {
		path := filepath.Join(t.TempDir(), "demo.yml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return failures(t, func(tb testing.TB) { CheckSidecarDoc(tb, prog, path, "msg") })
	}
	if got := check(goodDoc); len(got) != 0 {
		t.Fatalf("a matching doc reported %q", got)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"module: demo", "module: other", `module "other", want "demo"`},
		{"[threader.guard.observability]", "[]", "lacks threader.guard.observability"},
		{`default: "on"`, `default: "off"`, "state: documented default off, spec on"},
		{`choices: ["on", "off"]`, `choices: ["on"]`, "state: documented choices [on], spec [on off]"},
		{"description: [What to do.], ", "", "state: no description"},
		{"n: {description: [A number.], type: int", "n: {description: [A number.], type: str", "items.n: documented type str"},
		{"    state:", "    stat:", "documented options [items metrics_textfile pushgateway_url stat]"},
		{"  msg:", "  message:", "RETURN lacks msg"},
		{"  - name: Demo\n    threader.guard.demo: {state: \"off\"}", "  just text", "EXAMPLES is not a YAML list of tasks"},
	} {
		doc := strings.Replace(goodDoc, tc.from, tc.to, 1)
		if doc == goodDoc {
			t.Fatalf("%q is not in the doc", tc.from)
		}
		if got := check(doc); len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("%q -> %q: reported %q, want one failure with %q", tc.from, tc.to, got, tc.want)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// newPush is a push as the metrics package sends it.
func newPush(url, body string) (*http.Request, error) {
	return http.NewRequest(http.MethodPost, url, strings.NewReader(body))
}

// sendDatagram sends line to the unixgram socket at path, as a logger does.
func sendDatagram(path, line string) error {
	conn, err := net.Dial("unixgram", path)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(line))
	return err
}
