package promapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

const okVector = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}`

// scripted answers the n-th request with steps[n] (the last one repeats) and
// records the requests.
type scripted struct {
	mu    sync.Mutex
	steps []func(w http.ResponseWriter)
	reqs  []*http.Request
	times []time.Time
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	s.times = append(s.times, time.Now())
	step := s.steps[min(n, len(s.steps)-1)]
	s.mu.Unlock()
	step(w)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func status(code int, body string, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func start(t *testing.T, steps ...func(w http.ResponseWriter)) (*scripted, string) {
	t.Helper()
	s := &scripted{steps: steps}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func fastRetries(url string) Endpoint {
	return Endpoint{URL: url, Timeout: 5 * time.Second, Retries: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}
}

func mustNew(t *testing.T, api API, ep Endpoint) *Client {
	t.Helper()
	c, err := New(api, ep)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetriesTransientAnswersThenSucceeds(t *testing.T) {
	s, url := start(t, status(503, "Service Unavailable"), status(429, "slow down"), status(502, ""), status(200, okVector))
	res, err := mustNew(t, Prometheus, fastRetries(url)).Query(context.Background(), "up", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 1 || s.count() != 4 {
		t.Errorf("series %d, requests %d", len(res.Series), s.count())
	}
}

func TestRetriesAreBounded(t *testing.T) {
	s, url := start(t, status(500, "rpc error: code = Internal desc = boom"))
	_, err := mustNew(t, Loki, fastRetries(url)).Query(context.Background(), "q", time.Time{})
	if err == nil || err.Error() != "loki: 500 rpc error: code = Internal desc = boom (after 4 attempts)" {
		t.Errorf("%v", err)
	}
	var qerr *Error
	if !errors.As(err, &qerr) || !qerr.Temporary() || qerr.StatusCode != 500 || s.count() != 4 {
		t.Errorf("%+v, %d requests", qerr, s.count())
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 404, 422, 501} {
		s, url := start(t, status(code, "nope"))
		_, err := mustNew(t, Prometheus, fastRetries(url)).Query(context.Background(), "q", time.Time{})
		var qerr *Error
		if !errors.As(err, &qerr) || qerr.StatusCode != code || s.count() != 1 || qerr.Temporary() {
			t.Errorf("%d: %v after %d requests", code, err, s.count())
		}
	}
}

func TestConnectionRefusedIsRetriedAndReported(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	_, err = mustNew(t, Prometheus, fastRetries("http://"+addr)).Query(context.Background(), "q", time.Time{})
	var qerr *Error
	if !errors.As(err, &qerr) || qerr.Attempts != 4 || qerr.StatusCode != 0 || !qerr.Temporary() ||
		!strings.Contains(err.Error(), "connection refused") || !strings.HasPrefix(err.Error(), "prometheus: dial tcp ") {
		t.Errorf("%v (%+v)", err, qerr)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s, url := start(t, status(429, "too many outstanding requests", "Retry-After", "1"), status(200, okVector))
	ep := fastRetries(url)
	if _, err := mustNew(t, Loki, ep).Query(context.Background(), "q", time.Time{}); err != nil {
		t.Fatal(err)
	}
	// The backoff alone would wait milliseconds; Retry-After asked for 1s.
	if gap := s.times[1].Sub(s.times[0]); gap < 900*time.Millisecond {
		t.Errorf("second request came %s after the first, before Retry-After", gap)
	}
}

func TestRetryAfterBeyondTheTimeoutGivesUpAtOnce(t *testing.T) {
	s, url := start(t, status(503, "Service Unavailable", "Retry-After", "120"))
	ep := fastRetries(url)
	ep.Timeout = 2 * time.Second
	_, err := mustNew(t, Prometheus, ep).Query(context.Background(), "q", time.Time{})
	if err == nil || !strings.HasPrefix(err.Error(), "prometheus: 503 Service Unavailable (Retry-After 2m0s does not fit in the ") || s.count() != 1 {
		t.Errorf("%v after %d requests", err, s.count())
	}
}

// hang accepts connections and never answers.
func hang(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL
}

func TestTimeoutBoundsTheWholeQuery(t *testing.T) {
	url := hang(t)
	ep := fastRetries(url)
	ep.Timeout = 300 * time.Millisecond
	var err error
	testenv.Within(t, 10*time.Second, func() {
		_, err = mustNew(t, Prometheus, ep).Query(context.Background(), "q", time.Time{})
	})
	var qerr *Error
	if !errors.As(err, &qerr) || !qerr.Timeout || !qerr.Temporary() || err.Error() != "prometheus: no answer within 300ms" {
		t.Errorf("%v", err)
	}
}

func TestParentDeadlineShortensTheTimeout(t *testing.T) {
	url := hang(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var err error
	testenv.Within(t, 10*time.Second, func() {
		_, err = mustNew(t, Prometheus, Endpoint{URL: url, Timeout: time.Hour}).Query(ctx, "q", time.Time{})
	})
	var qerr *Error
	if !errors.As(err, &qerr) || !qerr.Timeout {
		t.Errorf("%v", err)
	}
}

func TestCancelIsReportedAsCanceled(t *testing.T) {
	url := hang(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	var err error
	testenv.Within(t, 10*time.Second, func() {
		_, err = mustNew(t, Loki, Endpoint{URL: url}).Query(ctx, "q", time.Time{})
	})
	if err == nil || err.Error() != "loki: canceled" {
		t.Errorf("%v", err)
	}
}

func TestRequestCarriesQueryTimeHeadersAndPathPrefix(t *testing.T) {
	s, url := start(t, status(200, okVector))
	at := time.Unix(1700000000, 123456789)
	ep := Endpoint{URL: url + "/prom/", BearerToken: "s3cret", Headers: map[string]string{"X-Proxy": "1"}, Tenant: "team-a|team-b", UserAgent: "slo_check"}
	if _, err := mustNew(t, Prometheus, ep).Query(context.Background(), `up{job="a b"}`, at); err != nil {
		t.Fatal(err)
	}
	r := s.reqs[0]
	checks := map[string][2]string{
		"path":          {r.URL.Path, "/prom/api/v1/query"},
		"query":         {r.URL.Query().Get("query"), `up{job="a b"}`},
		"time":          {r.URL.Query().Get("time"), "1700000000.123"},
		"authorization": {r.Header.Get("Authorization"), "Bearer s3cret"},
		"extra":         {r.Header.Get("X-Proxy"), "1"},
		"tenant":        {r.Header.Get("X-Scope-OrgID"), "team-a|team-b"},
		"agent":         {r.Header.Get("User-Agent"), "slo_check"},
		"accept":        {r.Header.Get("Accept"), "application/json"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
}

func TestLokiPathsAndNanosecondTimes(t *testing.T) {
	s, url := start(t, status(200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	c := mustNew(t, Loki, Endpoint{URL: url, Username: "u", Password: "p"})
	start, end := time.Unix(1700000000, 5), time.Unix(1700000900, 0)
	if _, err := c.QueryRange(context.Background(), "q", start, end, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	q := s.reqs[0].URL.Query()
	if s.reqs[0].URL.Path != "/loki/api/v1/query_range" || q.Get("start") != "1700000000000000005" ||
		q.Get("end") != "1700000900000000000" || q.Get("step") != "90" {
		t.Errorf("%s?%s", s.reqs[0].URL.Path, s.reqs[0].URL.RawQuery)
	}
	if u, p, ok := s.reqs[0].BasicAuth(); !ok || u != "u" || p != "p" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if _, err := c.QueryRange(context.Background(), "q", start, end, 0); err == nil {
		t.Error("zero step accepted")
	}
}

func TestEndpointConfigErrors(t *testing.T) {
	cases := map[string]Endpoint{
		"URL: is empty":                            {},
		`URL: "ftp://x" must start with http://`:   {URL: "ftp://x"},
		`URL: "http://" has no host`:               {URL: "http://"},
		`URL: "http://h:99999" has port 99999`:     {URL: "http://h:99999"},
		`URL: "http://h:0/" has port 0`:            {URL: "http://h:0/"},
		"URL: \"http://x?a=b\" must not have":      {URL: "http://x?a=b"},
		"URL: \"http://u:xxxxx@x\" must not carry": {URL: "http://u:p@x"},
		"Timeout: must be > 0":                     {URL: "http://x", Timeout: -1},
		"Retries: must be >= 0":                    {URL: "http://x", Retries: -1},
		"BearerToken: cannot be combined":          {URL: "http://x", BearerToken: "t", Username: "u"},
		"Username: is required with Password":      {URL: "http://x", Password: "p"},
		"Username: must not contain ':'":           {URL: "http://x", Username: "a:b"},
		"Headers: sets Authorization":              {URL: "http://x", BearerToken: "t", Headers: map[string]string{"authorization": "x"}},
		"Headers: sets X-Scope-OrgID":              {URL: "http://x", Tenant: "a", Headers: map[string]string{"x-scope-orgid": "b"}},
		`Headers: "bad header" is not a valid`:     {URL: "http://x", Headers: map[string]string{"bad header": "x"}},
		"Headers: the value of X contains":         {URL: "http://x", Headers: map[string]string{"X": "a\r\nb"}},
		`Tenant: tenant ID "a:b" contains ':'`:     {URL: "http://x", Tenant: "a:b"},
		`Tenant: "a||b" has an empty tenant ID`:    {URL: "http://x", Tenant: "a||b"},
		`Tenant: tenant ID ".." is not allowed`:    {URL: "http://x", Tenant: ".."},
		"CAFile: open /nonexistent":                {URL: "https://x", CAFile: "/nonexistent"},
		"ClientKeyFile: is required":               {URL: "https://x", ClientCertFile: "/c"},
		"ClientCertFile: is required":              {URL: "https://x", ClientKeyFile: "/k"},
	}
	for want, ep := range cases {
		_, err := New(Prometheus, ep)
		var cerr *ConfigError
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &cerr) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
	// The caller names every field its own way, without rewriting text.
	_, err := New(Loki, Endpoint{URL: "http://x", BearerToken: "t", Username: "u"})
	var cerr *ConfigError
	option := func(field string) string { return "loki_" + strings.ToLower(field) }
	if !errors.As(err, &cerr) || cerr.Describe(option) != "loki_bearertoken: cannot be combined with basic auth (loki_username/loki_password)" {
		t.Errorf("Describe: %v", err)
	}
	if _, err := New("graphite", Endpoint{URL: "http://x"}); err == nil {
		t.Error("unknown API accepted")
	}
}

// --- TLS ---

type pki struct {
	caPEM, serverCert, serverKey, clientCert, clientKey []byte
	pool                                                *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"}, IPAddresses: ips,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	p := pki{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverCert, p.serverKey = leaf(2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.clientCert, p.clientKey = leaf(3, x509.ExtKeyUsageClientAuth, nil)
	return p
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func tlsServer(t *testing.T, p pki, requireClientCert bool) string {
	t.Helper()
	cert, err := tls.X509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	ok := status(200, okVector)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok(w) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if requireClientCert {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, p.pool
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTLSVerification(t *testing.T) {
	p := newPKI(t)
	url := tlsServer(t, p, false)
	q := func(ep Endpoint) error {
		ep.URL, ep.Retries, ep.RetryWaitMin = url, 3, time.Millisecond
		_, err := mustNew(t, Prometheus, ep).Query(context.Background(), "q", time.Time{})
		return err
	}
	err := q(Endpoint{})
	var qerr *Error
	if !errors.As(err, &qerr) || qerr.Attempts != 1 || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("untrusted certificate must fail at once: %v", err)
	}
	if err := q(Endpoint{CAFile: writeFile(t, "ca.pem", p.caPEM)}); err != nil {
		t.Errorf("with the CA: %v", err)
	}
	if err := q(Endpoint{InsecureSkipVerify: true}); err != nil {
		t.Errorf("validate_certs off: %v", err)
	}
	if _, err := New(Prometheus, Endpoint{URL: url, CAFile: writeFile(t, "junk.pem", []byte("junk"))}); err == nil ||
		!strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("junk CA: %v", err)
	}
}

func TestClientCertificate(t *testing.T) {
	p := newPKI(t)
	url := tlsServer(t, p, true)
	ca := writeFile(t, "ca.pem", p.caPEM)
	if _, err := mustNew(t, Loki, Endpoint{URL: url, CAFile: ca}).Query(context.Background(), "q", time.Time{}); err == nil {
		t.Error("server requiring a client certificate answered without one")
	}
	ep := Endpoint{URL: url, CAFile: ca, ClientCertFile: writeFile(t, "c.pem", p.clientCert), ClientKeyFile: writeFile(t, "k.pem", p.clientKey)}
	if _, err := mustNew(t, Loki, ep).Query(context.Background(), "q", time.Time{}); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
	ep.ClientKeyFile = writeFile(t, "wrong.pem", p.serverKey)
	if _, err := New(Loki, ep); err == nil || !strings.HasPrefix(err.Error(), "ClientCertFile: ") {
		t.Errorf("mismatched key: %v", err)
	}
}
