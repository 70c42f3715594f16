package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type pushed struct {
	method, path, user, pass string
	families                 map[string]*dto.MetricFamily
}

// fakePushgateway records pushes and answers with status.
func fakePushgateway(t *testing.T, status int) (*httptest.Server, func() []pushed) {
	t.Helper()
	var mu sync.Mutex
	var got []pushed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := pushed{method: req.Method, path: req.URL.EscapedPath(), families: map[string]*dto.MetricFamily{}}
		p.user, p.pass, _ = req.BasicAuth()
		dec := expfmt.NewDecoder(req.Body, expfmt.ResponseFormat(req.Header))
		for {
			mf := &dto.MetricFamily{}
			if err := dec.Decode(mf); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("decode push body: %v", err)
				}
				break
			}
			p.families[mf.GetName()] = mf
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, "gateway says no")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []pushed { mu.Lock(); defer mu.Unlock(); return append([]pushed(nil), got...) }
}

func TestPushUsesPOSTAndGroupingKeyWithoutDuplicatingLabels(t *testing.T) {
	srv, pushes := fakePushgateway(t, http.StatusOK)
	r := newRecorder(t, Options{Module: "retry_command", Name: "db/migrate", Instance: "web-1"})
	r.RecordRetry(RetryRun{Attempts: 2, MaxAttempts: 3, Outcome: OutcomeFailure, ExitCode: 1})
	u := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)
	if err := r.Publish(context.Background(), "", u); err != nil {
		t.Fatal(err)
	}
	got := pushes()
	if len(got) != 1 {
		t.Fatalf("%d pushes, want 1", len(got))
	}
	p := got[0]
	// POST replaces only the pushed families in the group, like the
	// textfile merge; "db/migrate" has a slash, so it is base64-encoded.
	if p.method != http.MethodPost {
		t.Errorf("method %s, want POST", p.method)
	}
	wantPath := "/metrics/job/retry_command/instance/web-1/name@base64/ZGIvbWlncmF0ZQ"
	if p.path != wantPath && p.path != "/metrics/job/retry_command/name@base64/ZGIvbWlncmF0ZQ/instance/web-1" {
		t.Errorf("path %s, want %s (any grouping order)", p.path, wantPath)
	}
	if p.user != "alice" || p.pass != "s3cret" {
		t.Errorf("basic auth %q/%q, want the URL's user info", p.user, p.pass)
	}
	attempts := p.families[RetryAttempts]
	if attempts == nil || attempts.Metric[0].GetGauge().GetValue() != 2 {
		t.Fatalf("attempts family: %v", attempts)
	}
	if n := len(attempts.Metric[0].Label); n != 0 {
		t.Errorf("pushed series carry %d labels; name and instance come from the grouping key", n)
	}
	if _, ok := p.families[GuardLocked]; ok {
		t.Error("a retry run pushed guard families it never recorded")
	}
}

func TestPushFailureNamesTheOptionButNotThePassword(t *testing.T) {
	srv, _ := fakePushgateway(t, http.StatusBadRequest)
	r := newRecorder(t, Options{Module: "qos_guard"})
	r.RecordGuard(GuardState{})
	textfile := filepath.Join(t.TempDir(), "ok.prom")
	err := r.Publish(context.Background(), textfile, strings.Replace(srv.URL, "http://", "http://u:topsecret@", 1))
	if err == nil {
		t.Fatal("a 400 from the Pushgateway was not an error")
	}
	msg := err.Error()
	var de *DestinationError
	if !errors.As(err, &de) || de.Field != FieldPushgateway || !strings.Contains(msg, "400") || !strings.Contains(msg, "gateway says no") {
		t.Errorf("error %q should name the option, the status and the gateway's reason", msg)
	}
	if strings.Contains(msg, "topsecret") {
		t.Errorf("error leaks the password: %q", msg)
	}
	if got := readFile(t, textfile); !strings.Contains(got, GuardLocked) {
		t.Error("the textfile was not written although only the push failed")
	}
}

func TestPushToClosedPortFails(t *testing.T) {
	srv, _ := fakePushgateway(t, http.StatusOK)
	url := srv.URL
	srv.Close()
	r := newRecorder(t, Options{Module: "qos_guard"})
	r.RecordGuard(GuardState{})
	var de *DestinationError
	if err := r.Publish(context.Background(), "", url); !errors.As(err, &de) || de.Field != FieldPushgateway {
		t.Errorf("err = %v", err)
	}
}

func TestParsePushgatewayURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "localhost:9091", want: "http://localhost:9091"},
		{in: "https://pgw.example:443/prefix", want: "https://pgw.example:443/prefix"},
		{in: "http://u:p@h:1", want: "http://h:1"},
		{in: "ftp://h", err: `scheme "ftp" is not http or https`},
		{in: "http://", err: "has no host"},
		{in: "http://h:1/?x=1", err: "must not have a query"},
		{in: "http://h:1/metrics/job/x", err: "without /metrics/job"},
		{in: "http://u:pw@h:99999999999x", err: "not a URL"},
	} {
		u, _, err := ParsePushgatewayURL(tc.in)
		if tc.err != "" {
			var de *DestinationError
			if !errors.As(err, &de) || de.Field != FieldPushgateway || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u.String() != tc.want {
			t.Errorf("%s: got %v, %v; want %s", tc.in, u, err, tc.want)
		}
	}
}

// A run that recorded nothing (a bad option, a skipped command) leaves no
// trace: no empty textfile, no Pushgateway group with only push_time_seconds.
func TestRunThatRecordedNothingPublishesNothing(t *testing.T) {
	srv, got := fakePushgateway(t, http.StatusOK)
	path := filepath.Join(t.TempDir(), "m.prom")
	r := newRecorder(t, Options{Module: "retry_command", Name: "skipped"})
	if err := r.Publish(context.Background(), path, srv.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the textfile was created (stat: %v)", err)
	}
	if pushes := got(); len(pushes) != 0 {
		t.Errorf("pushed %d times, want none", len(pushes))
	}
	// A rejected value alone is still reported.
	r.RecordRollback(Outcome("exploded"), 0)
	if err := r.Publish(context.Background(), path, srv.URL); err == nil || !strings.Contains(err.Error(), "exploded") {
		t.Errorf("Publish = %v, want the rejected outcome", err)
	}
}

// Issue 10 item 3, for the Pushgateway: a redirect to another origin used to
// be followed with the body and the basic auth. Now the push fails naming
// the target, and the other server receives nothing.
func TestPushIsNeverRedirectedToAnotherOrigin(t *testing.T) {
	other, otherGot := fakePushgateway(t, http.StatusOK)
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, other.URL+req.URL.Path, code)
		}))
		r := newRecorder(t, Options{Module: "qos_guard", Name: "web", Instance: "h1"})
		r.RecordGuard(GuardState{})
		err := r.Publish(context.Background(), "", strings.Replace(gw.URL, "http://", "http://bot:pw-3e1@", 1))
		gw.Close()
		var de *DestinationError
		want := "redirect (" + strconv.Itoa(code) + ") to " + other.URL + "/metrics/job/qos_guard/"
		if !errors.As(err, &de) || de.Field != FieldPushgateway || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "pw-3e1") {
			t.Errorf("%d: %v, want it to contain %q", code, err, want)
		}
	}
	if got := otherGot(); len(got) != 0 {
		t.Fatalf("the other origin received %d pushes, the first as %q:%q", len(got), got[0].user, got[0].pass)
	}
}
