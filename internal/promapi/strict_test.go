package promapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 10 item 16: encoding/json lets the last of two equal keys win and
// matches keys case-insensitively, so each of these answers decoded as a
// success with the attacker's (or the broken proxy's) second value. Each
// must now be refused as ambiguous.
func TestAmbiguousEnvelopesAreRefused(t *testing.T) {
	const good = `{"resultType":"vector","result":[{"metric":{},"value":[1,"0.001"]}]}`
	for name, body := range map[string]string{
		"status twice":            `{"status":"error","error":"boom","status":"success","data":` + good + `}`,
		"status in two cases":     `{"status":"error","error":"boom","Status":"success","data":` + good + `}`,
		"data twice":              `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.9"]}]},"data":` + good + `}`,
		"data in two cases":       `{"status":"success","data":{"resultType":"scalar","result":[1,"0.9"]},"DATA":` + good + `}`,
		"warnings hidden by case": `{"status":"success","warnings":["partial data"],"Warnings":[],"data":` + good + `}`,
		"resultType twice":        `{"status":"success","data":{"resultType":"matrix","resultType":"vector","result":[{"metric":{},"value":[1,"0.001"]}]}}`,
		"value twice":             `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.9"],"Value":[1,"0.001"]}]}}`,
		"label twice":             `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a","job":"b"},"value":[1,"0.001"]}]}}`,
	} {
		for _, api := range []API{Prometheus, Loki} {
			_, err := query(t, api, serveOnce(t, 200, "application/json", body).URL)
			if err == nil || !strings.HasPrefix(err.Error(), string(api)+": 200 ambiguous answer: ") {
				t.Errorf("%s (%s): %v", name, api, err)
			}
		}
	}
}

// Label names are case sensitive in Prometheus: "job" and "Job" are two
// labels, and a series carrying both is data, not an ambiguity.
func TestLabelsDifferingInCaseAreTwoLabels(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a","Job":"b"},"value":[1,"0.001"]}]}}`
	res, err := query(t, Prometheus, serveOnce(t, 200, "application/json", body).URL)
	if err != nil || res.Series[0].Labels["job"] != "a" || res.Series[0].Labels["Job"] != "b" {
		t.Fatalf("%v %+v", err, res)
	}
}

// recordingServer records the requests it receives and answers a success.
type recordingServer struct {
	mu   sync.Mutex
	reqs []*http.Request
	URL  string
}

func newRecordingServer(t *testing.T) *recordingServer {
	t.Helper()
	r := &recordingServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Clone(context.Background()))
		r.mu.Unlock()
		io.WriteString(w, okVector)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *recordingServer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// Issue 10 item 3: a redirect from the configured server to another host
// used to be followed: the gate judged the other host's answer, and the
// token, tenant and custom headers were sent there. Now the query fails
// naming the target, and the other host receives nothing.
func TestRedirectToAnotherHostFailsClosedAndSendsItNothing(t *testing.T) {
	other := newRecordingServer(t)
	for _, api := range []API{Prometheus, Loki} {
		for _, code := range []int{301, 302, 307, 308} {
			var target string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				target = other.URL + r.URL.RequestURI()
				http.Redirect(w, r, target, code)
			}))
			ep := Endpoint{URL: srv.URL, Timeout: 5 * time.Second, Retries: 2, RetryWaitMin: time.Millisecond,
				BearerToken: "tok-9f1", Tenant: "team-a", Headers: map[string]string{"X-Api-Key": "key-77"}}
			_, err := mustNew(t, api, ep).Query(context.Background(), "up", time.Time{})
			srv.Close()
			want := string(api) + ": redirect (" + strconv.Itoa(code) + ") to " + target + " refused"
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s %d: %v, want prefix %q", api, code, err, want)
			}
		}
	}
	if n := other.count(); n != 0 {
		t.Fatalf("the other host received %d requests, the first with headers %v", n, other.reqs[0].Header)
	}
}

// A redirect within the configured origin (a path prefix moved behind a
// proxy) is followed.
func TestSameOriginRedirectIsFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/prom/") {
			http.Redirect(w, r, "/prom"+r.URL.RequestURI(), http.StatusMovedPermanently)
			return
		}
		if r.Header.Get("X-Api-Key") != "key-77" {
			http.Error(w, "no key", 401)
			return
		}
		io.WriteString(w, okVector)
	}))
	t.Cleanup(srv.Close)
	ep := Endpoint{URL: srv.URL, Timeout: 5 * time.Second, Headers: map[string]string{"X-Api-Key": "key-77"}}
	if _, err := mustNew(t, Prometheus, ep).Query(context.Background(), "up", time.Time{}); err != nil {
		t.Fatal(err)
	}
}
