package observe

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
)

func syslogSocket(t *testing.T) (string, *net.UnixConn) {
	t.Helper()
	dir, err := os.MkdirTemp("", "obs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return path, conn
}

func readLine(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 8192)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only bounds a broken test
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestRunRecordsLogsAndPublishes(t *testing.T) {
	sock, conn := syslogSocket(t)
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	obs, err := Start(Config{Module: "retry_command", Name: "migrate", Textfile: textfile,
		SyslogSocket: sock, Instance: "h", Clock: clock.NewFake(time.Unix(1700000000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	obs.Log.RetryAttempt(logging.RetryAttempt{Attempt: 1, ExitCode: 1, Retry: true, NextDelay: time.Second})
	obs.Metrics.RecordRetry(metrics.RetryRun{Attempts: 2, Outcome: metrics.OutcomeSuccess})
	if err := obs.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, conn); !strings.Contains(line, " ansible-retry_command[") || !strings.Contains(line, "event=retry_attempt module=retry_command name=migrate attempt=1") {
		t.Errorf("log line %q", line)
	}
	data, err := os.ReadFile(textfile)
	if err != nil || !strings.Contains(string(data), `threader_guard_retry_attempts{name="migrate"} 2`) {
		t.Errorf("textfile: %v\n%s", err, data)
	}
}

func TestCheckModePublishesNothing(t *testing.T) {
	textfile := filepath.Join(t.TempDir(), "threader.prom")
	obs, err := Start(Config{Module: "qos_guard", Textfile: textfile, CheckMode: true, NoSyslog: true})
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
		cfg  Config
		want string
	}{
		{Config{Module: "m", Textfile: filepath.Join(dir, "m.txt")}, "metrics_textfile: "},
		{Config{Module: "m", Textfile: filepath.Join(dir, "m.txt"), CLI: true}, "--metrics-textfile: "},
		{Config{Module: "m", PushgatewayURL: "ftp://x"}, "pushgateway_url: "},
		{Config{Module: "m", PushgatewayURL: "ftp://x", CLI: true}, "--pushgateway-url: "},
		{Config{Module: "m", Name: strings.Repeat("n", 300)}, "metrics: name "},
	} {
		if _, err := Start(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want an error starting %q", tc.cfg, err, tc.want)
		}
	}
}

func TestFinishCLIWarnsAndNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	textfile := filepath.Join(dir, "sub", "m.prom")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	var f Flags
	fs := flag.NewFlagSet("retry_command", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--metrics-textfile", textfile, "--no-syslog"}); err != nil {
		t.Fatal(err)
	}
	obs, err := Start(f.Config("retry_command", "x"))
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
	opts := WithOptions(map[string]ansiblemod.Option{"state": {Type: ansiblemod.Str}})
	if _, ok := opts[OptionTextfile]; !ok {
		t.Error("no metrics_textfile")
	}
	if _, ok := opts[OptionPushgateway]; !ok {
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
		if got := ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckNameAllowsEmptyAndNamesTheOption(t *testing.T) {
	if err := CheckName("--name", ""); err != nil {
		t.Errorf(`CheckName("") = %v; "" means the module name`, err)
	}
	if err := CheckName("--name", "web-1"); err != nil {
		t.Errorf("CheckName(web-1) = %v", err)
	}
	for _, tc := range []struct {
		check         func(option, value string) error
		option, value string
		want          string
	}{
		{CheckName, "value of name", "a\nb", `value of name "a\nb" contains control characters`},
		{CheckName, "--name", " ", "--name must not be empty"},
		{CheckName, "--name", strings.Repeat("x", 200), "--name "},
		{CheckLabel, "checks[2].name", "", "checks[2].name must not be empty"},
		{CheckLabel, "checks[0].name", "a\tb", `checks[0].name "a\tb" contains control characters`},
	} {
		err := tc.check(tc.option, tc.value)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "metrics: ") {
			t.Errorf("%s %q: %v, want an error starting %q (without the package prefix)", tc.option, tc.value, err, tc.want)
		}
	}
}
