package slocheck

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
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
	res, _ := jsonResult(t, nil, webCheck(api, "/slo?key=k", "$.data.error_ratio", ", max: 0.01, method: POST, body: '{}'")...)
	if q := checkByName(t, res, "web")["query"]; q != "POST "+api.URL+"/slo $.data.error_ratio" {
		t.Errorf("query %v", q)
	}
}

func TestWebSourceModuleMasksHeaders(t *testing.T) {
	api := startStatusAPI(t)
	res, code, stdout := invoke(t, map[string]any{"default_checks": false, "loki_url": "", "checks": []any{map[string]any{
		"name": "web", "source": "web", "url": api.URL + "/slo", "json_path": "$.data.error_ratio", "max": 0.01,
		"headers": map[string]any{"Authorization": "Bearer web-token-5f1c"}}}})
	if code != 0 || res["passed"] != true || api.auth.Load() != "Bearer web-token-5f1c" {
		t.Fatalf("exit %d %v", code, res)
	}
	if strings.Contains(stdout, "web-token-5f1c") {
		t.Errorf("the header value is in the result:\n%s", stdout)
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
		r := invokeCLI(t, nil, "--default-checks=false", "--loki-url", "", "--checks", check)
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, want %q:\n%s", check, r.code, want, r.stderr)
		}
	}
}
