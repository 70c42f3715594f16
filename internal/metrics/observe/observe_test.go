package observe_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/moduletest"
)

func TestRunRecordsLogsAndPublishes(t *testing.T) {
	sock := moduletest.NewSyslog(t)
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	obs, err := observe.Start(observe.Config{Module: "retry_command", Name: "migrate", Textfile: textfile,
		SyslogSocket: sock.Path, Instance: "h", Clock: clock.NewFake(time.Unix(1700000000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	obs.Log.RetryAttempt(logging.RetryAttempt{Attempt: 1, ExitCode: 1, Retry: true, NextDelay: time.Second})
	obs.Metrics.RecordRetry(metrics.RetryRun{Attempts: 2, Outcome: metrics.OutcomeSuccess})
	if err := obs.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if line := sock.Next(t); !strings.Contains(line, " ansible-retry_command[") || !strings.Contains(line, "event=retry_attempt module=retry_command name=migrate attempt=1") {
		t.Errorf("log line %q", line)
	}
	data, err := os.ReadFile(textfile)
	if err != nil || !strings.Contains(string(data), `threader_guard_retry_attempts{name="migrate"} 2`) {
		t.Errorf("textfile: %v\n%s", err, data)
	}
}

func TestCheckModePublishesNothing(t *testing.T) {
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	obs, err := observe.Start(observe.Config{Module: "qos_guard", Textfile: textfile, CheckMode: true, NoSyslog: true})
	if err != nil {
		t.Fatal(err)
	}
	obs.Metrics.RecordGuard(metrics.GuardState{Locked: true})
	if obs.Publishing() {
		t.Error("Publishing() in check mode")
	}
	if err := obs.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(textfile); !os.IsNotExist(err) {
		t.Errorf("check mode wrote the textfile: %v", err)
	}
}

func TestStartErrorsNameTheOptionOrFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  observe.Config
		want string
	}{
		{observe.Config{Module: "m", Textfile: filepath.Join(dir, "m.txt")}, "metrics_textfile: "},
		{observe.Config{Module: "m", Textfile: filepath.Join(dir, "m.txt"), CLI: true}, "--metrics-textfile: "},
		{observe.Config{Module: "m", PushgatewayURL: "ftp://x"}, "pushgateway_url: "},
		{observe.Config{Module: "m", PushgatewayURL: "ftp://x", CLI: true}, "--pushgateway-url: "},
		{observe.Config{Module: "m", Name: strings.Repeat("n", 300)}, "metrics: name "},
	} {
		if _, err := observe.Start(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("observe.Start(%+v) = %v, want an error starting %q", tc.cfg, err, tc.want)
		}
	}
}

func TestFinishCLIWarnsAndNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	textfile := filepath.Join(dir, "sub", "m.prom")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var f observe.Flags
	fs := flag.NewFlagSet("retry_command", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--metrics-textfile", textfile, "--no-syslog"}); err != nil {
		t.Fatal(err)
	}
	obs, err := observe.Start(f.Config("retry_command", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Log.Active() {
		t.Error("--no-syslog logger is active")
	}
	obs.Metrics.RecordRetry(metrics.RetryRun{Outcome: metrics.OutcomeSuccess})
	os.RemoveAll(filepath.Join(dir, "sub")) // the directory vanishes before the run ends
	var stderr bytes.Buffer
	obs.FinishCLI(&stderr)
	if got := stderr.String(); !strings.HasPrefix(got, "retry_command: warning: metrics not published: --metrics-textfile") {
		t.Errorf("stderr %q", got)
	}
}

func TestWithOptionsAddsBothOptions(t *testing.T) {
	opts := observe.WithOptions(map[string]ansiblemod.Option{"state": {Type: ansiblemod.Str}})
	if _, ok := opts[observe.OptionTextfile]; !ok {
		t.Error("no metrics_textfile")
	}
	if _, ok := opts[observe.OptionPushgateway]; !ok {
		t.Error("no pushgateway_url")
	}
	if _, ok := opts["state"]; !ok {
		t.Error("existing option dropped")
	}
}

func TestShortNameDropsTheCollection(t *testing.T) {
	for in, want := range map[string]string{
		"threader.guard.slo_check": "slo_check", "ansible.legacy.qos_guard": "qos_guard", "retry_command": "retry_command", "": "",
	} {
		if got := observe.ShortName(in); got != want {
			t.Errorf("observe.ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckNameAllowsEmptyAndNamesTheOption(t *testing.T) {
	if err := observe.CheckName("--name", ""); err != nil {
		t.Errorf(`observe.CheckName("") = %v; "" means the module name`, err)
	}
	if err := observe.CheckName("--name", "web-1"); err != nil {
		t.Errorf("observe.CheckName(web-1) = %v", err)
	}
	for _, tc := range []struct {
		check         func(option, value string) error
		option, value string
		want          string
	}{
		{observe.CheckName, "value of name", "a\nb", `value of name "a\nb" contains control characters`},
		{observe.CheckName, "--name", " ", "--name must not be empty"},
		{observe.CheckName, "--name", strings.Repeat("x", 200), "--name "},
		{observe.CheckLabel, "checks[2].name", "", "checks[2].name must not be empty"},
		{observe.CheckLabel, "checks[0].name", "a\tb", `checks[0].name "a\tb" contains control characters`},
	} {
		err := tc.check(tc.option, tc.value)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "metrics: ") {
			t.Errorf("%s %q: %v, want an error starting %q (without the package prefix)", tc.option, tc.value, err, tc.want)
		}
	}
}
