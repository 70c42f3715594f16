package main

import (
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestService(t *testing.T) (*service, *httptest.Server) {
	t.Helper()
	s := newService(0.3, log.New(io.Discard, "", 0))
	srv := httptest.NewServer(s.routes())
	t.Cleanup(srv.Close)
	return s, srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func post(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEveryCodeSeriesExistsFromTheStart(t *testing.T) {
	_, srv := newTestService(t)
	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d", code)
	}
	for _, want := range []string{`http_requests_total{code="200"} 0`, `http_requests_total{code="500"} 0`,
		`http_requests_total{code="503"} 0`, "threader_health_ok 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func TestErrorShareIsExactOverTime(t *testing.T) {
	s, _ := newTestService(t)
	var ok, failed float64
	for range 100 {
		o, f := s.trafficTick(5) // 50 requests/s in 100ms ticks
		ok, failed = ok+o, failed+f
	}
	if ok != 500 || failed != 0 {
		t.Fatalf("healthy: ok %v failed %v, want 500 and 0", ok, failed)
	}
	s.set(true, modeErrors)
	ok, failed = 0, 0
	for range 100 {
		o, f := s.trafficTick(5)
		ok, failed = ok+o, failed+f
	}
	if ok != 350 || failed != 150 {
		t.Fatalf("failing at 0.3: ok %v failed %v, want 350 and 150", ok, failed)
	}
}

func TestFractionalRatesAddUp(t *testing.T) {
	s, _ := newTestService(t)
	var total float64
	for range 30 {
		o, f := s.trafficTick(0.1) // 1 request/s
		total += o + f
	}
	if total != 3 {
		t.Fatalf("30 ticks of 0.1 requests counted %v, want 3", total)
	}
}

func TestSwitch(t *testing.T) {
	s, srv := newTestService(t)
	if code, _ := get(t, srv.URL+"/"); code != http.StatusOK {
		t.Fatalf("healthy / answered %d", code)
	}
	if code := post(t, srv.URL+"/fail"); code != http.StatusOK {
		t.Fatalf("POST /fail answered %d", code)
	}
	if code, _ := get(t, srv.URL+"/"); code != http.StatusInternalServerError {
		t.Errorf("failing / answered %d, want 500", code)
	}
	if _, body := get(t, srv.URL+"/metrics"); !strings.Contains(body, "threader_health_ok 0") ||
		!strings.Contains(body, `http_requests_total{code="500"} 1`) {
		t.Errorf("failing metrics:\n%s", body)
	}
	if _, body := get(t, srv.URL+"/state"); !strings.Contains(body, `"failing":true`) || !strings.Contains(body, `"mode":"errors"`) {
		t.Errorf("state while failing: %s", body)
	}

	post(t, srv.URL+"/fail?mode=down")
	if code, _ := get(t, srv.URL+"/metrics"); code != http.StatusServiceUnavailable {
		t.Errorf("down: /metrics answered %d, want 503 (so that up == 0)", code)
	}
	if code := post(t, srv.URL+"/fail?mode=sideways"); code != http.StatusBadRequest {
		t.Errorf("unknown mode answered %d, want 400", code)
	}

	post(t, srv.URL+"/recover")
	if failing, _ := s.state(); failing {
		t.Error("still failing after /recover")
	}
	if code, body := get(t, srv.URL+"/metrics"); code != http.StatusOK || !strings.Contains(body, "threader_health_ok 1") {
		t.Errorf("recovered metrics (%d):\n%s", code, body)
	}
	if code, _ := get(t, srv.URL+"/fail"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /fail answered %d, want 405", code)
	}
}

// meanLatency is the mean of n simulated request latencies, in seconds,
// checking that each lies within the noise of want.
func meanLatency(t *testing.T, s *service, n int, want float64) float64 {
	t.Helper()
	var sum float64
	for range n {
		l := s.requestLatency()
		if l < want*0.95-1e-12 || l > want*1.05+1e-12 {
			t.Fatalf("a request took %v s, want within 5%% of %v", l, want)
		}
		sum += l
	}
	return sum / float64(n)
}

func TestLatencyFactor(t *testing.T) {
	s, srv := newTestService(t)
	if m := meanLatency(t, s, 1000, 0.1); math.Abs(m-0.1) > 0.001 {
		t.Errorf("mean latency %v, want about 0.1", m)
	}
	if code := post(t, srv.URL+"/latency?factor=1.5"); code != http.StatusOK {
		t.Fatalf("POST /latency?factor=1.5 answered %d", code)
	}
	if m := meanLatency(t, s, 1000, 0.15); math.Abs(m-0.15) > 0.0015 {
		t.Errorf("mean latency at factor 1.5: %v, want about 0.15", m)
	}
	if _, body := get(t, srv.URL+"/state"); !strings.Contains(body, `"latency_factor":1.5`) {
		t.Errorf("state at factor 1.5: %s", body)
	}
	for _, bad := range []string{"", "0", "-1", "slow", "NaN", "Inf"} {
		if code := post(t, srv.URL+"/latency?factor="+bad); code != http.StatusBadRequest {
			t.Errorf("factor %q answered %d, want 400", bad, code)
		}
	}
	get(t, srv.URL+"/") // a real request is observed too
	if _, body := get(t, srv.URL+"/metrics"); !strings.Contains(body, "http_request_duration_seconds_count 1") {
		t.Errorf("the request to / was not observed:\n%s", body)
	}
}

func TestLatencyNoiseIsReproducible(t *testing.T) {
	a, _ := newTestService(t)
	b, _ := newTestService(t)
	for i := range 100 {
		if la, lb := a.requestLatency(), b.requestLatency(); la != lb {
			t.Fatalf("request %d: %v and %v with the same seed", i, la, lb)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-rps", "0"}, {"-error-ratio", "1.5"}, {"-listen", "256.0.0.1:1"},
		{"-latency", "0s"}, {"-latency-noise", "2"}} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
