package webmetric

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threader/guard/internal/fielderr"
)

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

func measure(t *testing.T, opts Options) (float64, error) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s.Measure(context.Background())
}

func TestValues(t *testing.T) {
	body := `{"data": {"ratio": 0.0125, "ok": true, "down": false, "name": "0.5", "none": null, "list": [3, 4], "big": 1e400}}`
	srv := serve(t, answer(body))
	for path, want := range map[string]float64{"$.data.ratio": 0.0125, "$.data.ok": 1, "$.data.down": 0, "$.data.list[1]": 4} {
		if v, err := measure(t, Options{URL: srv.URL, JSONPath: path}); err != nil || v != want {
			t.Errorf("%s: %v %v", path, v, err)
		}
	}
	for path, want := range map[string]string{
		"$.data.name":   `web: json_path $.data.name is a string ("0.5"), not a number or a boolean`,
		"$.data.none":   "is null, not a number",
		"$.data.list":   "is an object or an array",
		"$.data.big":    "1e400 is not a usable number",
		"$.data.ratio2": `has no member "ratio2"`,
	} {
		if _, err := measure(t, Options{URL: srv.URL, JSONPath: path}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestPostSendsBodyAndHeadersAndErrorsLeakNeither(t *testing.T) {
	var got struct{ method, body, key, ctype string }
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.body, got.key, got.ctype = r.Method, string(b), r.Header.Get("X-Api-Key"), r.Header.Get("Content-Type")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	opts := Options{URL: srv.URL + "/slo?token=q-secret-1", Method: "post", Body: `{"q": "b-secret-2"}`,
		Headers: map[string]string{"X-Api-Key": "h-secret-3"}, JSONPath: "$.v"}
	_, err := measure(t, opts)
	if got.method != "POST" || got.body != opts.Body || got.key != "h-secret-3" || got.ctype != "application/json" {
		t.Errorf("%+v", got)
	}
	if err == nil || !strings.Contains(err.Error(), "answered 503 Service Unavailable") {
		t.Fatalf("%v", err)
	}
	for _, secret := range []string{"q-secret-1", "b-secret-2", "h-secret-3"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error holds %s: %v", secret, err)
		}
	}
}

func TestRedirectToAnotherOriginIsRefusedAndSendsNothing(t *testing.T) {
	var hits atomic.Int32
	other := serve(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); answer(`{"v": 0}`)(w, r) })
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v", http.StatusFound)
	})
	_, err := measure(t, Options{URL: srv.URL, JSONPath: "$.v", Headers: map[string]string{"Authorization": "Bearer tok"}})
	if err == nil || !strings.Contains(err.Error(), "redirect") || hits.Load() != 0 {
		t.Errorf("%v, other origin hit %d times", err, hits.Load())
	}
	same := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		answer(`{"v": 7}`)(w, r)
	})
	if v, err := measure(t, Options{URL: same.URL + "/old", JSONPath: "$.v"}); err != nil || v != 7 {
		t.Errorf("same-origin redirect: %v %v", v, err)
	}
}

func TestUnusableAnswers(t *testing.T) {
	for body, want := range map[string]string{
		`{"v": 1, "v": 2}`:  "duplicate key",
		`{"v": 1} {"v": 2}`: "more than one value",
		`<html>`:            "not usable JSON",
		strings.Repeat(" ", MaxBodyBytes+1) + "1": "larger",
	} {
		srv := serve(t, answer(body))
		if _, err := measure(t, Options{URL: srv.URL, JSONPath: "$.v"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: %v", body, err)
		}
	}
}

func TestTimeoutBoundsTheMeasurement(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	_, err := measure(t, Options{URL: srv.URL, JSONPath: "$.v", Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "no answer from "+srv.URL+" within 200ms") {
		t.Errorf("%v", err)
	}
}

func TestOptionErrorsNameTheField(t *testing.T) {
	for want, opts := range map[string]Options{
		"URL must be an absolute":        {URL: "ftp://x", JSONPath: "$"},
		"URL has port 99999":             {URL: "http://127.0.0.1:99999", JSONPath: "$"},
		"URL must not hold credentials":  {URL: "http://u:p@h", JSONPath: "$"},
		"Method must be GET or POST":     {URL: "http://h", Method: "PUT", JSONPath: "$"},
		"Body needs method POST":         {URL: "http://h", Body: "x", JSONPath: "$"},
		"Headers \"a b\" is not a valid": {URL: "http://h", Headers: map[string]string{"a b": "1"}, JSONPath: "$"},
		"Headers the value of X":         {URL: "http://h", Headers: map[string]string{"X": "a\nb"}, JSONPath: "$"},
		"JSONPath \"data\" must start":   {URL: "http://h", JSONPath: "data"},
		"JSONPath \"\" must start":       {URL: "http://h"},
		"Timeout must be 0 or greater":   {URL: "http://h", JSONPath: "$", Timeout: -1},
	} {
		_, err := New(opts)
		if _, ok := fielderr.As(err); !ok || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

func TestDescribeOmitsTheQueryString(t *testing.T) {
	s, err := New(Options{URL: "https://status.example.com/api/slo?key=abc", JSONPath: "$.data.ratio"})
	if err != nil || s.Describe() != "GET https://status.example.com/api/slo $.data.ratio" {
		t.Errorf("%v %q", err, s.Describe())
	}
}
