package httpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a server that records every request it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	srv  *httptest.Server
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		r.mu.Unlock()
		h(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func get(t *testing.T, c *Client, rawURL string, header http.Header) (*Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.Do(req)
}

var secretHeaders = http.Header{"Authorization": {"Bearer tok-1"}, "X-Api-Key": {"key-2"}, "X-Scope-Orgid": {"team-a"}}

// The attacker's server must receive nothing, for every redirect status and
// for absolute and scheme-relative targets; the error names the target.
func TestRedirectToAnotherOriginIsRefusedAndTheOtherHostGetsNothing(t *testing.T) {
	other := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"status":"success"}`)
	})
	otherURL := mustParse(t, other.srv.URL)
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, target := range []string{other.srv.URL + "/api/v1/query", "//" + otherURL.Host + "/api/v1/query"} {
			configured := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, status)
			})
			c, err := New(mustParse(t, configured.srv.URL), Options{Retries: 2, RetryWaitMin: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			res, err := get(t, c, configured.srv.URL+"/api/v1/query?query=up", secretHeaders)
			var re *RedirectError
			if res != nil || !errors.As(err, &re) || re.Status != status || re.To != other.srv.URL+"/api/v1/query" {
				t.Errorf("%d to %s: got %v, %v", status, target, res, err)
				continue
			}
			want := fmt.Sprintf("redirect (%d) to %s/api/v1/query refused: only redirects within %s are followed",
				status, other.srv.URL, OriginOf(mustParse(t, configured.srv.URL)))
			if err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			if n := len(configured.requests()); n != 1 {
				t.Errorf("%d: the refused redirect was retried: %d requests", status, n)
			}
		}
	}
	if got := other.requests(); len(got) != 0 {
		t.Fatalf("the other origin received %d requests, first with headers %v", len(got), got[0].Header)
	}
}

// Same host, other port, and same host and port, other scheme, are other origins.
func TestOriginIsSchemeHostAndPort(t *testing.T) {
	for a, b := range map[string]string{
		"http://Example.COM/x":        "http://example.com:80/y",
		"https://example.com":         "https://example.com:443",
		"http://[::1]:9090/prefix":    "http://[::1]:9090",
		"http://127.0.0.1:9090/a?b=c": "http://127.0.0.1:9090/",
	} {
		if OriginOf(mustParse(t, a)) != OriginOf(mustParse(t, b)) {
			t.Errorf("%s and %s should be one origin", a, b)
		}
	}
	for a, b := range map[string]string{
		"http://example.com":      "https://example.com",
		"https://example.com":     "http://example.com:443",
		"http://example.com:9090": "http://example.com:9091",
		"http://example.com:80":   "http://example.com.evil",
		"http://127.0.0.1":        "http://localhost",
	} {
		if OriginOf(mustParse(t, a)) == OriginOf(mustParse(t, b)) {
			t.Errorf("%s and %s should be different origins", a, b)
		}
	}
}

func TestSameOriginRedirectIsFollowedWithItsHeaders(t *testing.T) {
	var srv *recorder
	srv = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old/api" {
			http.Redirect(w, r, "/new/api?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
			return
		}
		io.WriteString(w, "moved here")
	})
	c, _ := New(mustParse(t, srv.srv.URL), Options{})
	res, err := get(t, c, srv.srv.URL+"/old/api?q=1", secretHeaders)
	if err != nil || string(res.Body) != "moved here" {
		t.Fatalf("%v %v", res, err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 || reqs[1].URL.String() != "/new/api?q=1" || reqs[1].Header.Get("X-Api-Key") != "key-2" ||
		reqs[1].Header.Get("Authorization") != "Bearer tok-1" {
		t.Fatalf("redirected request: %d requests, last %v %v", len(reqs), reqs[len(reqs)-1].URL, reqs[len(reqs)-1].Header)
	}
}

func TestEndlessSameOriginRedirectsStopAndAreNotRetried(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	c, _ := New(mustParse(t, srv.srv.URL), Options{Retries: 3, RetryWaitMin: time.Millisecond})
	_, err := get(t, c, srv.srv.URL+"/loop", nil)
	if err == nil || err.Error() != "stopped after 5 redirects" {
		t.Fatalf("got %v", err)
	}
	if n := len(srv.requests()); n != MaxRedirects+1 {
		t.Errorf("%d requests, want %d", n, MaxRedirects+1)
	}
}

func TestRequestForAnotherOriginIsNeverSent(t *testing.T) {
	other := newRecorder(t, func(http.ResponseWriter, *http.Request) {})
	c, _ := New(mustParse(t, "http://127.0.0.1:1"), Options{})
	_, err := get(t, c, other.srv.URL+"/x", secretHeaders)
	var oe *OriginError
	if !errors.As(err, &oe) || len(other.requests()) != 0 {
		t.Fatalf("got %v, %d requests", err, len(other.requests()))
	}
	// The transport refuses too, whoever built the request.
	_, err = c.http.Get(other.srv.URL)
	if !errors.As(err, &oe) || len(other.requests()) != 0 {
		t.Fatalf("transport: %v, %d requests", err, len(other.requests()))
	}
}

func TestBodyLargerThanTheLimitIsAnError(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Repeat("x", 101))
	})
	c, _ := New(mustParse(t, srv.srv.URL), Options{MaxBodyBytes: 100})
	_, err := get(t, c, srv.srv.URL, nil)
	var tl *TooLargeError
	if !errors.As(err, &tl) || err.Error() != "answer is larger than 100 bytes" {
		t.Fatalf("got %v", err)
	}
	c, _ = New(mustParse(t, srv.srv.URL), Options{MaxBodyBytes: 101})
	if res, err := get(t, c, srv.srv.URL, nil); err != nil || len(res.Body) != 101 {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestServerErrorsAreRetriedAndTheLastAnswerReturned(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	c, _ := New(mustParse(t, srv.srv.URL), Options{Retries: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	res, err := get(t, c, srv.srv.URL, nil)
	if err != nil || res.StatusCode != 503 || res.Attempts != 3 || strings.TrimSpace(string(res.Body)) != "busy" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestDoerServesLibraries(t *testing.T) {
	other := newRecorder(t, func(http.ResponseWriter, *http.Request) {})
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.Redirect(w, r, other.srv.URL+"/metrics", http.StatusPermanentRedirect)
			return
		}
		io.WriteString(w, "ok")
	})
	c, _ := New(mustParse(t, srv.srv.URL), Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.srv.URL+"/metrics/job/x", strings.NewReader("m 1\n"))
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	if _, err := c.Doer().Do(req); err == nil || !strings.Contains(err.Error(), "redirect (308) to "+other.srv.URL+"/metrics refused") {
		t.Fatalf("POST redirected elsewhere: %v", err)
	}
	if len(other.requests()) != 0 {
		t.Fatal("the other origin received the push")
	}
	req, _ = http.NewRequest(http.MethodGet, srv.srv.URL, nil)
	resp, err := c.Doer().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

func TestRetryAfterAsHTTPDate(t *testing.T) {
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:30 GMT"}}}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	if d, ok := parseRetryAfter(resp, now); !ok || d != 30*time.Second {
		t.Errorf("%v %v", d, ok)
	}
	resp.StatusCode = 500
	if _, ok := parseRetryAfter(resp, now); ok {
		t.Error("Retry-After used on a 500")
	}
}
