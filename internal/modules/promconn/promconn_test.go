package promconn

import (
	"flag"
	"io"
	"strings"
	"testing"

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
	if err := fs.Parse([]string{"--prometheus-password", "flag-pw", "--prometheus-headers", "X-A: b"}); err != nil {
		t.Fatal(err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	testBackend.SecretsFromEnv(given, &c)
	if c.BearerToken != "env-token" || c.Password != "flag-pw" || c.Headers["X-A"] != "b" || c.URL != "http://p:9090" {
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
