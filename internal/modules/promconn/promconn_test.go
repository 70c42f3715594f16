package promconn

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/promapi"
)

var testBackend = Backend{Prefix: "prometheus", Title: "Prometheus", Env: "TEST_PROMCONN_PROMETHEUS_", DefaultURL: "http://p:9090"}

func TestClientErrorsNameTheOptionInTheCallersSpelling(t *testing.T) {
	c := testBackend.Default()
	c.ClientCert = "/nonexistent/cert.pem"
	flagName := func(o string) string { return "--" + strings.ReplaceAll(o, "_", "-") }
	_, err := testBackend.Client(promapi.Prometheus, c, Request{}, flagName)
	if err == nil || !strings.HasPrefix(err.Error(), "--prometheus-client-key: is required with --prometheus-client-cert") {
		t.Errorf("err = %v", err)
	}
	c = testBackend.Default()
	_, err = testBackend.Client(promapi.Prometheus, c, Request{Retries: -1}, func(o string) string { return o })
	if err == nil || !strings.HasPrefix(err.Error(), "request_retries: ") {
		t.Errorf("err = %v", err)
	}
}

func TestSecretsComeFromTheEnvironmentUnlessTheFlagIsGiven(t *testing.T) {
	t.Setenv("TEST_PROMCONN_PROMETHEUS_BEARER_TOKEN", "env-token")
	t.Setenv("TEST_PROMCONN_PROMETHEUS_PASSWORD", "env-pw")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := testBackend.Default()
	testBackend.RegisterFlags(fs, &c)
	if err := fs.Parse([]string{"--prometheus-password-file", "/dev/null", "--prometheus-headers", "X-A: b"}); err != nil {
		t.Fatal(err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	testBackend.SecretsFromEnv(given, &c)
	if c.BearerToken != "env-token" || c.Password != "" || c.Headers["X-A"] != "b" || c.URL != "http://p:9090" {
		t.Errorf("config = %+v", c)
	}
}

func TestOptionsDeclareEveryConnectionOption(t *testing.T) {
	o := testBackend.Options()
	for _, k := range []string{"url", "validate_certs", "ca_path", "client_cert", "client_key", "bearer_token", "username",
		"password", "headers", "tenant"} {
		if _, ok := o["prometheus_"+k]; !ok {
			t.Errorf("no prometheus_%s", k)
		}
	}
	if !o["prometheus_password"].NoLog || !o["prometheus_bearer_token"].NoLog {
		t.Error("secrets are not no_log")
	}
	vl := Backend{Prefix: "vl", AccountTenant: true}.Options()
	if _, ok := vl["vl_tenant"]; ok || vl["vl_account_id"].Type == "" {
		t.Errorf("account tenant options: %v", vl)
	}
}

// Secrets never travel on the command line: the flags that would carry
// them are refused, saying where they go instead; files and the
// environment carry them.
func TestSecretFlagsAreRefusedAndFilesCarryThem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var output strings.Builder // what the flag package prints
	parse := func(args ...string) (Config, error) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		output.Reset()
		fs.SetOutput(&output)
		c := testBackend.Default()
		testBackend.RegisterFlags(fs, &c)
		err := Parse(fs, args)
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		testBackend.SecretsFromEnv(given, &c)
		return c, err
	}
	for _, args := range [][]string{
		{"--prometheus-password", "hunter2-pw"},
		{"-prometheus-password=hunter2-pw"},
		{"--prometheus-url", "http://x", "--prometheus-headers=Authorization: hunter2-hdr"},
		{"--prometheus-bearer-token", "hunter2-tok"},
		{"--prometheus-headers", "Authorization: Bearer hunter2-hdr"},
		{"--prometheus-headers", "cookie: s=hunter2-ck"},
		// Mistyped credential headers: the flag package used to quote them
		// ("invalid value \"Authorization Bearer ...\" for flag").
		{"--prometheus-headers", "Authorization Bearer hunter2-hdr"},
		{"--prometheus-headers=Authorization=Bearer hunter2-hdr"},
		{"--prometheus-headers", " proxy-authorization\tBasic hunter2-hdr"},
		// A flag's forgotten value: the secret flag became --prometheus-username's
		// value (a --name's value is shown in metrics and logs).
		{"--prometheus-username", "--prometheus-password=hunter2-pw"},
		{"--prometheus-username", "-prometheus-bearer-token", "hunter2-tok"},
	} {
		_, err := parse(args...)
		if err == nil || strings.Contains(err.Error()+output.String(), "hunter2") || !strings.Contains(err.Error(), "every local user") {
			t.Errorf("%q: err = %v, output %q, want a refusal that does not repeat the secret", args, err, output.String())
		}
	}
	// The secret given in place of its file: refused unquoted.
	for _, args := range [][]string{{"--prometheus-password-file", "hunter2-pw"}, {"--prometheus-bearer-token-file=hunter2 tok"}} {
		_, err := parse(args...)
		if err == nil || strings.Contains(err.Error()+output.String(), "hunter2") || !strings.Contains(err.Error(), "cannot be read: no such file or directory") {
			t.Errorf("%q: err = %v, output %q, want a refusal that does not repeat the argument", args, err, output.String())
		}
	}
	// A header that is not 'Name: value' may be any credential: refused
	// without quoting it.
	for _, arg := range []string{"X-Api-Key hunter2-key", "X-Api-Key=hunter2-key", ": hunter2-key"} {
		_, err := parse("--prometheus-headers", arg)
		if err == nil || strings.Contains(err.Error()+output.String(), "hunter2") || !strings.Contains(err.Error(), "want 'Name: value'") {
			t.Errorf("%q: err = %v, output %q, want a refusal that does not repeat the argument", arg, err, output.String())
		}
	}
	c, err := parse("--prometheus-password-file", write("pw", "file-pw\n"), "--prometheus-username", "u",
		"--prometheus-headers", "@"+write("h", "# secret headers\nAuthorization: Bearer t\n\nX-Api-Key: k\n"))
	if err != nil || c.Password != "file-pw" || c.Headers["Authorization"] != "Bearer t" || c.Headers["X-Api-Key"] != "k" {
		t.Errorf("from files: %+v, %v", c, err)
	}
	t.Setenv("TEST_PROMCONN_PROMETHEUS_BEARER_TOKEN", "env-token")
	if c, _ := parse("--prometheus-bearer-token-file", write("tok", "file-token")); c.BearerToken != "file-token" {
		t.Errorf("the file should win over the environment: %q", c.BearerToken)
	}
	if _, err := parse("--prometheus-headers", "@"+write("bad", "X-Ok: 1\nAuthorization Bearer hunter2-line\n")); err == nil ||
		strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad header file: %v, want line 2 named and the line not quoted", err)
	}
	if !testBackend.Options()["prometheus_headers"].NoLogValues {
		t.Error("prometheus_headers values are not masked")
	}
}

// A secret file that is a FIFO: one that nothing writes blocked the open
// (and SIGTERM) forever; a pipe that is written, as process substitution
// gives, is read to its end.
func TestSecretFileFIFOs(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pw")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var c Config
	done := make(chan error, 1)
	go func() { done <- secretFile{&c.Password}.Set(fifo) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a FIFO that nothing writes") {
			t.Errorf("unwritten FIFO: %v", err)
		}
	case <-time.After(time.Minute): // a hang, not a slow machine
		t.Fatal("reading a FIFO that nothing writes blocked")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() { w.Write([]byte("piped-pw\n")); w.Close() }()
	if err := (secretFile{&c.Password}).Set(fmt.Sprintf("/proc/self/fd/%d", r.Fd())); err != nil || c.Password != "piped-pw" {
		t.Errorf("a written pipe: %q, %v", c.Password, err)
	}
	if err := (secretFile{&c.Password}).Set("/dev/zero"); err == nil || !strings.Contains(err.Error(), "is larger than") {
		t.Errorf("/dev/zero: %v", err)
	}
}

// After "--" a secret flag is a leftover argument: refused like the flag,
// not quoted as an unexpected argument.
func TestNoArgsNeverQuotesASecretFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := testBackend.Default()
	testBackend.RegisterFlags(fs, &c)
	if err := Parse(fs, []string{"--", "--prometheus-password=hunter2"}); err != nil {
		t.Fatal(err)
	}
	if err := NoArgs(fs); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "every local user") {
		t.Errorf("NoArgs = %v, want the refusal without the secret", err)
	}
	fs.Parse([]string{"extra"})
	if err := NoArgs(fs); err == nil || err.Error() != `unexpected argument "extra" (every option is a flag)` {
		t.Errorf("NoArgs(extra) = %v", err)
	}
}
