package moduletest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// FakePushgateway records what is pushed to it and answers 200.
// (testenv.StartPushgateway is the real one, for end-to-end tests.)
type FakePushgateway struct {
	*httptest.Server
	mu     sync.Mutex
	pushes []Push
}

// Push is one request to the Pushgateway.
type Push struct {
	Method, Path, Body string
	User, Password     string // basic auth, "" without
}

// NewFakePushgateway starts one, closed when the test ends.
func NewFakePushgateway(t testing.TB) *FakePushgateway {
	t.Helper()
	pg := &FakePushgateway{}
	pg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		pg.mu.Lock()
		defer pg.mu.Unlock()
		pg.pushes = append(pg.pushes, Push{Method: r.Method, Path: r.URL.Path, Body: string(body), User: user, Password: pass})
	}))
	t.Cleanup(pg.Close)
	return pg
}

// Pushes returns the requests so far.
func (pg *FakePushgateway) Pushes() []Push {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	return slices.Clone(pg.pushes)
}

// Sent is every method, path and body pushed (not the credentials, which a
// Pushgateway is meant to get), to check that no secret was published.
func (pg *FakePushgateway) Sent() string {
	var b strings.Builder
	for _, p := range pg.Pushes() {
		b.WriteString(p.Method + " " + p.Path + "\n" + p.Body + "\n")
	}
	return b.String()
}

// GroupingKey turns the path /metrics/job/J/name/N/instance/I (the labels
// in any order) into "POST instance=I job=J name=N".
func (p Push) GroupingKey() string {
	parts := strings.Split(strings.TrimPrefix(p.Path, "/metrics/"), "/")
	var labels []string
	for i := 0; i+1 < len(parts); i += 2 {
		labels = append(labels, parts[i]+"="+parts[i+1])
	}
	slices.Sort(labels)
	return p.Method + " " + strings.Join(labels, " ")
}

// ClosedURL is the URL of a server that has stopped: connections to it are
// refused, as to a Pushgateway that is down.
func ClosedURL() string {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	return closed.URL
}
