package slocheck

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// statusAPI is a JSON API on loopback, as a status page or an SLO service
// would serve: /slo answers {"data": {...}}, /moved redirects to another
// origin, /down answers 503. It counts requests and records the last
// Authorization header.
type statusAPI struct {
	*httptest.Server
	hits atomic.Int32
	auth atomic.Value
}

func startStatusAPI(t *testing.T) *statusAPI {
	t.Helper()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other origin got a request: %s", r.URL)
	}))
	t.Cleanup(other.Close)
	api := &statusAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.hits.Add(1)
		api.auth.Store(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/slo":
			io.WriteString(w, `{"data": {"error_ratio": 0.002, "bad_ratio": 0.3, "healthy": true, "state": "ok", "nan": null}}`)
		case "/moved":
			http.Redirect(w, r, other.URL+"/slo", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

func webCheck(api *statusAPI, path, jsonPath, extra string) []string {
	return []string{"--default-checks=false", "--loki-url", "", "--prometheus-url", "http://127.0.0.1:1",
		"--checks", `{name: web, source: web, url: "` + api.URL + path + `", json_path: "` + jsonPath + `"` + extra + `}`}
}

func TestWebSource(t *testing.T) {
	api := startStatusAPI(t)
	for _, tc := range []struct {
		name, path, jsonPath, extra, phase, reason string
	}{
		{"a number within the bound", "/slo?key=k-secret-9", "$.data.error_ratio", ", max: 0.01", "passed", "0.002 <= 0.01"},
		{"a number beyond it", "/slo", "$.data.bad_ratio", ", max: 0.01", "failed", "0.3 > 0.01"},
		{"a boolean is 1 or 0", "/slo", "$.data.healthy", ", success_condition: 'result[0] == 1'", "passed", "result [1]"},
		{"a string is an error", "/slo", "$.data.state", ", max: 1", "error", `json_path $.data.state is a string ("ok")`},
		{"null is an error", "/slo", "$.data.nan", ", max: 1", "error", "is null"},
		{"a missing key is an error", "/slo", "$.data.p99", ", max: 1", "error", `$['data'] has no member "p99"`},
		{"a 503 is an error", "/down", "$.v", ", max: 1", "error", "answered 503 Service Unavailable"},
		{"a redirect to another origin is an error", "/moved", "$.v", ", max: 1", "error", "redirect"},
	} {
		res, r := jsonResult(t, nil, webCheck(api, tc.path, tc.jsonPath, tc.extra)...)
		c := checkByName(t, res, "web")
		if c["phase"] != tc.phase || !strings.Contains(c["reason"].(string), tc.reason) || c["source"] != "web" {
			t.Errorf("%s: phase %v, reason %q\n%s", tc.name, c["phase"], c["reason"], r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "k-secret-9") {
			t.Errorf("%s: the URL's query string is shown:\n%s%s", tc.name, r.stdout, r.stderr)
		}
	}
	args := webCheck(api, "/slo?key=k", "$.data.error_ratio", ", max: 0.01, method: POST, body: '{}'")
	args[len(args)-1] = checksFile(t, args[len(args)-1])
	res, _ := jsonResult(t, nil, args...)
	if q := checkByName(t, res, "web")["query"]; q != "POST "+api.URL+"/slo $.data.error_ratio" {
		t.Errorf("query %v", q)
	}
}

// Headers and a body on the command line would be visible to every user
// in ps: the CLI takes them only from a checks file.
func TestWebSourceSecretsStayOffTheCommandLine(t *testing.T) {
	api := startStatusAPI(t)
	// The refusal never repeats the value: the flag package used to quote
	// the whole --checks argument, secrets included, in its error.
	for _, tc := range []struct {
		extra, want string
	}{
		{", headers: {Authorization: 'Bearer tok-3c9e'}", "headers and body may hold secrets"},
		{", method: POST, body: '{\"key\": \"tok-3c9e\"}'", "headers and body may hold secrets"},
		{", typo: 1, headers: {X-Api-Key: tok-3c9e}", `unknown key "typo"`},
		{", header: {X-Api-Key: tok-3c9e}", `unknown key "header"`},
		{", Headers: {Authorization: Bearer tok-3c9e}", `unknown key "Headers"`},
		{", headers: {X-Api-Key: [tok-3c9e", "not JSON or YAML"},
		{"}\n---\n{headers: {X-Api-Key: tok-3c9e}", "holds more than one YAML document"},
	} {
		r := invokeCLI(t, nil, webCheck(api, "/slo", "$.data.error_ratio", ", max: 0.01"+tc.extra)...)
		if r.code != exitUsage || strings.Contains(r.stderr, "tok-3c9e") || !strings.Contains(r.stderr, "slo_check: --checks: ") ||
			!strings.Contains(r.stderr, tc.want) || api.hits.Load() != 0 {
			t.Errorf("%s: exit %d, %d requests, want %q:\n%s", tc.extra, r.code, api.hits.Load(), tc.want, r.stderr)
		}
		if strings.Contains(tc.want, "may hold secrets") && !strings.Contains(r.stderr, "--checks @FILE") {
			t.Errorf("%s: the refusal does not say where the check goes:\n%s", tc.extra, r.stderr)
		}
	}
}

// Header values and the body are no_log everywhere in the result. Before,
// invocation showed the body and any header value shorter than 4 bytes
// (only longer ones were masked result-wide).
func TestWebSourceModuleMasksHeadersAndBody(t *testing.T) {
	api := startStatusAPI(t)
	res, code, stdout := invoke(t, map[string]any{"default_checks": false, "loki_url": "", "checks": []any{map[string]any{
		"name": "web", "source": "web", "url": api.URL + "/slo", "json_path": "$.data.error_ratio", "max": 0.01,
		"method": "POST", "body": `{"key": "body-key-77d1"}`,
		"headers": map[string]any{"Authorization": "Bearer web-token-5f1c", "X-Pin": "k9z"}}}})
	if code != 0 || res["passed"] != true || api.auth.Load() != "Bearer web-token-5f1c" {
		t.Fatalf("exit %d %v", code, res)
	}
	for _, secret := range []string{"web-token-5f1c", `"k9z"`, "body-key-77d1"} {
		if strings.Contains(stdout, secret) {
			t.Errorf("%s is in the result:\n%s", secret, stdout)
		}
	}
	check := res["invocation"].(map[string]any)["module_args"].(map[string]any)["checks"].([]any)[0].(map[string]any)
	if check["body"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" || check["headers"].(map[string]any)["X-Pin"] != "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" {
		t.Errorf("invocation shows %v", check)
	}
}

func TestWebSourceOptionErrors(t *testing.T) {
	for want, check := range map[string]string{
		`check 1 ("w"): url must be an absolute http:// or https:// URL`: `{name: w, source: web, url: "ftp://x", json_path: $, max: 1}`,
		`check 1 ("w"): json_path "data.x" must start with $`:            `{name: w, source: web, url: "http://127.0.0.1:1", json_path: data.x, max: 1}`,
		`check 1 ("w"): json_path "$..x"`:                                `{name: w, source: web, url: "http://127.0.0.1:1", json_path: "$..x", max: 1}`,
		`check 1 ("w"): method must be GET or POST, got "PUT"`:           `{name: w, source: web, url: "http://127.0.0.1:1", method: PUT, json_path: $, max: 1}`,
		`check 1 ("w"): body needs method POST`:                          `{name: w, source: web, url: "http://127.0.0.1:1", body: x, json_path: $, max: 1}`,
		`check 1 ("w"): query is not used by source web`:                 `{name: w, source: web, url: "http://127.0.0.1:1", query: up, json_path: $, max: 1}`,
		`check 1 ("w"): url is only for source web, not prometheus`:      `{name: w, url: "http://127.0.0.1:1", query: up, max: 1}`,
		`check 1 ("w"): timeout_seconds must be greater than 0`:          `{name: w, source: web, url: "http://127.0.0.1:1", json_path: $, max: 1, timeout_seconds: 0}`,
		`check 1 ("w"): source must be one of`:                           `{name: w, source: graphite, query: up, max: 1}`,
	} {
		r := invokeCLI(t, nil, "--default-checks=false", "--loki-url", "", "--checks", checksFile(t, check))
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, want %q:\n%s", check, r.code, want, r.stderr)
		}
	}
}

// startMutualTLSAPI serves /slo over TLS with a certificate of pki's CA and
// requires a client certificate signed by it.
func startMutualTLSAPI(t *testing.T, pki *testenv.EtcdTLS) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(pki.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data": {"error_ratio": 0.002}}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// checksFile writes checks (YAML) to a file and returns --checks @FILE.
func checksFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checks.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return "@" + path
}

// The web source's TLS options are the other backends': a CA file, a
// client certificate and key, validate_certs. Each fails closed without
// the piece the server needs.
func TestWebSourceTLS(t *testing.T) {
	pki := testenv.NewEtcdTLS(t, filepath.Join(t.TempDir(), "pki"))
	url := startMutualTLSAPI(t, pki)
	web := func(extra string) []string {
		return []string{"--default-checks=false", "--loki-url", "", "--request-retries", "0", "--checks",
			checksFile(t, `{name: web, source: web, url: "`+url+`/slo", json_path: $.data.error_ratio, max: 0.01`+extra+`}`)}
	}
	for _, tc := range []struct{ name, extra, phase, reason string }{
		{"CA and client certificate", `, ca_path: "` + pki.CACert + `", client_cert: "` + pki.ClientCert + `", client_key: "` + pki.ClientKey + `"`,
			"passed", "0.002 <= 0.01"},
		{"no CA: the server is not trusted", `, client_cert: "` + pki.ClientCert + `", client_key: "` + pki.ClientKey + `"`,
			"error", "certificate signed by unknown authority"},
		{"another CA", `, ca_path: "` + pki.OtherCACert + `", client_cert: "` + pki.ClientCert + `", client_key: "` + pki.ClientKey + `"`,
			"error", "certificate signed by unknown authority"},
		{"no client certificate", `, ca_path: "` + pki.CACert + `"`, "error", "web: "},
		{"validate_certs false", `, validate_certs: false, client_cert: "` + pki.ClientCert + `", client_key: "` + pki.ClientKey + `"`,
			"passed", "0.002 <= 0.01"},
	} {
		res, r := jsonResult(t, nil, web(tc.extra)...)
		c := checkByName(t, res, "web")
		if c["phase"] != tc.phase || !strings.Contains(c["reason"].(string), tc.reason) {
			t.Errorf("%s: phase %v, reason %q\n%s", tc.name, c["phase"], c["reason"], r.stderr)
		}
	}
	for want, extra := range map[string]string{
		`check 1 ("web"): client_key is required with a client certificate`:            `, client_cert: "` + pki.ClientCert + `"`,
		`check 1 ("web"): client_cert is required with a client key`:                   `, client_key: "` + pki.ClientKey + `"`,
		`check 1 ("web"): ca_path ` + pki.ServerKey + ` holds no PEM certificate`:      `, ca_path: "` + pki.ServerKey + `"`,
		`check 1 ("web"): ca_path open /nonexistent/ca.pem: no such file or directory`: `, ca_path: /nonexistent/ca.pem`,
		`check 1 ("w"): ca_path is only for source web, not prometheus`:                "", // below
	} {
		args := web(extra)
		if extra == "" {
			args = []string{"--default-checks=false", "--loki-url", "", "--checks", `{name: w, query: up, max: 1, ca_path: /x}`}
		}
		r := invokeCLI(t, nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, want %q:\n%s", r.code, want, r.stderr)
		}
	}
}

// A checks file given by process substitution (--checks @<(...), a way to
// keep a header's secret off the disk) is a pipe: it is read, while a
// watcher's --checks-file, re-read later, must be a regular file.
func TestChecksFromAPipe(t *testing.T) {
	api := startStatusAPI(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		fmt.Fprintf(w, "{name: web, source: web, url: %q, json_path: $.data.error_ratio, max: 0.01, headers: {X-Pin: p-1}}\n", api.URL+"/slo")
		w.Close()
	}()
	res, run := jsonResult(t, nil, "--default-checks=false", "--loki-url", "", "--prometheus-url", "http://127.0.0.1:1",
		"--checks", fmt.Sprintf("@/proc/self/fd/%d", r.Fd()))
	if run.code != 0 || checkByName(t, res, "web")["phase"] != "passed" {
		t.Errorf("exit %d: %v\n%s", run.code, res, run.stderr)
	}
	if _, err := readChecksFile(fmt.Sprintf("/proc/self/fd/%d", r.Fd()), false); err == nil || !strings.Contains(err.Error(), "is not a regular file (a FIFO)") {
		t.Errorf("a watcher's checks file that is a pipe: %v", err)
	}
}
