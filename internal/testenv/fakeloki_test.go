package testenv

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

type lokiAnswer struct {
	status      int
	contentType string
	body        string
}

func lokiGet(t *testing.T, f *FakeLoki, path, tenant string, params url.Values) lokiAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.URL+path+"?"+params.Encode(), nil)
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return lokiAnswer{resp.StatusCode, resp.Header.Get("Content-Type"), string(body)}
}

// plainText reports whether a is an error as Loki writes it: text/plain,
// never a JSON envelope.
func (a lokiAnswer) plainText(status int, body string) bool {
	return a.status == status && a.body == body+"\n" && a.contentType == "text/plain; charset=utf-8"
}

const errorsPerMin = `sum(count_over_time({job="threader"} |~ "ERROR" [15m])) / 15`

func TestFakeLokiRequiresTheTenantHeader(t *testing.T) {
	f := StartFakeLoki(t)
	f.Answer("team-a", errorsPerMin, LokiVector())
	if a := lokiGet(t, f, lokiInstantPath, "", url.Values{"query": {errorsPerMin}}); !a.plainText(401, "no org id") {
		t.Errorf("%+v", a)
	}
}

func TestFakeLokiServesAVectorAtTheQueryTime(t *testing.T) {
	f := StartFakeLoki(t)
	f.Answer("team-a", errorsPerMin, LokiVector(LokiSeries{Value: 0.4}))
	f.Answer("team-a", `sum by (level) (count_over_time({job="threader"}[15m]))`, LokiVector(
		LokiSeries{Labels: map[string]string{"level": "error"}, Value: 6}, LokiSeries{Labels: map[string]string{"level": "info"}, Value: 30}))
	at := time.Unix(1700000000, 123456789)

	a := lokiGet(t, f, lokiInstantPath, "team-a", url.Values{"query": {errorsPerMin}, "time": {strconv.FormatInt(at.UnixNano(), 10)}})
	want := `{"data":{"result":[{"metric":{},"value":[1700000000.123,"0.4"]}],"resultType":"vector",` +
		`"stats":{"summary":{"execTime":0.001,"queueTime":0,"totalBytesProcessed":0}}},"status":"success"}` + "\n"
	if a.status != 200 || a.body != want || a.contentType != "application/json; charset=UTF-8" {
		t.Errorf("got %+v\nwant %s", a, want)
	}
	a = lokiGet(t, f, lokiInstantPath, "team-a", url.Values{"query": {`sum by (level) (count_over_time({job="threader"}[15m]))`}, "time": {"1700000000"}})
	if !strings.Contains(a.body, `"result":[{"metric":{"level":"error"},"value":[1700000000,"6"]},{"metric":{"level":"info"},"value":[1700000000,"30"]}]`) {
		t.Errorf("by level: %s", a.body)
	}
	if a := lokiGet(t, f, lokiInstantPath, "team-a", url.Values{"query": {errorsPerMin}}); a.status != 200 {
		t.Errorf("no time (now): %+v", a)
	}
}

func TestFakeLokiEmptyAndNullResults(t *testing.T) {
	f := StartFakeLoki(t)
	f.Answer("team-a", errorsPerMin, LokiVector())
	if a := lokiGet(t, f, lokiInstantPath, "team-a", url.Values{"query": {errorsPerMin}}); !strings.Contains(a.body, `"result":[],"resultType":"vector"`) {
		t.Errorf("want an empty result: %s", a.body)
	}
	f.Answer("team-a", errorsPerMin, LokiResult{Type: "matrix", Null: true})
	a := lokiGet(t, f, lokiRangePath, "team-a", url.Values{"query": {errorsPerMin}})
	if !strings.Contains(a.body, `"result":null,"resultType":"matrix"`) {
		t.Errorf("want result null: %s", a.body)
	}
}

func TestFakeLokiServesAMatrixAtTheRangeEndpoint(t *testing.T) {
	f := StartFakeLoki(t)
	t0 := time.Unix(1700000000, 0)
	f.Answer("team-a", errorsPerMin, LokiMatrix(LokiSeries{Labels: map[string]string{"job": "threader"},
		Points: []LokiPoint{{t0, 0.4}, {t0.Add(time.Minute), 0.2}}}))
	for _, r := range [][2]string{{"1700000000000000000", "1700000060000000000"}, {"1700000000.5", "1700000060"},
		{"2023-11-14T22:13:20Z", "2023-11-14T22:14:20.5Z"}, {"", ""}} {
		a := lokiGet(t, f, lokiRangePath, "team-a", url.Values{"query": {errorsPerMin}, "start": {r[0]}, "end": {r[1]}, "step": {"60"}})
		if a.status != 200 || !strings.Contains(a.body, `"result":[{"metric":{"job":"threader"},"values":[[1700000000,"0.4"],[1700000060,"0.2"]]}],"resultType":"matrix"`) {
			t.Errorf("%v: %+v", r, a)
		}
	}
	a := lokiGet(t, f, lokiRangePath, "team-a", url.Values{"query": {errorsPerMin}, "start": {"1700000060"}, "end": {"1700000000"}})
	if !a.plainText(400, "end timestamp must not be before or equal to start time") {
		t.Errorf("end before start: %+v", a)
	}
	a = lokiGet(t, f, lokiRangePath, "team-a", url.Values{"query": {errorsPerMin}, "start": {"yesterday"}})
	if a.status != 400 || !strings.Contains(a.body, `"yesterday"`) {
		t.Errorf("bad start: %+v", a)
	}
}

func TestFakeLokiRejectsLogQueriesAtTheInstantEndpoint(t *testing.T) {
	f := StartFakeLoki(t)
	for _, q := range []string{`{job="threader"} |= "ERROR"`, ` ( {job="threader"})`} {
		a := lokiGet(t, f, lokiInstantPath, "team-a", url.Values{"query": {q}})
		if !a.plainText(400, lokiInstantLogQueryError) {
			t.Errorf("%s: %+v", q, a)
		}
	}
}

func TestFakeLokiSaysWhenATestRegisteredNoAnswer(t *testing.T) {
	f := StartFakeLoki(t)
	f.Answer("team-a", errorsPerMin, LokiVector())
	for _, c := range []struct{ path, tenant, query string }{
		{lokiInstantPath, "team-b", errorsPerMin},                                // another tenant
		{lokiInstantPath, "team-a", strings.ReplaceAll(errorsPerMin, " [", "[")}, // not byte for byte
		{lokiRangePath, "team-a", errorsPerMin},                                  // a vector is no matrix
		{lokiInstantPath, "team-a", `sum(count_over_time({job="threader"}[15m]`}, // even a broken query
	} {
		a := lokiGet(t, f, c.path, c.tenant, url.Values{"query": {c.query}})
		want := "fake Loki: no answer registered for tenant " + strconv.Quote(c.tenant) + ", query " + strconv.Quote(c.query) + " at " + c.path
		if a.status != 400 || !strings.HasPrefix(a.body, want) || !strings.Contains(a.body, "a gap in the test, not Loki's behaviour") ||
			a.contentType != "text/plain; charset=utf-8" {
			t.Errorf("%+v: %+v", c, a)
		}
	}
	if a := lokiGet(t, f, "/loki/api/v1/labels", "team-a", nil); a.status != 404 {
		t.Errorf("other paths: %+v", a)
	}
}

func TestFakeLokiFaults(t *testing.T) {
	f := StartFakeLoki(t)
	f.Answer("t", errorsPerMin, LokiVector())
	f.FailNext(LokiFault{Status: 429, RetryAfter: "1"}, LokiFault{Status: 504}, LokiFault{Status: 500, Body: "boom", Delay: time.Millisecond})
	for _, want := range []struct {
		status     int
		body       string
		retryAfter string
	}{{429, "too many outstanding requests\n", "1"}, {504, lokiDefaultErrors[504] + "\n", ""}, {500, "boom\n", ""}} {
		req, _ := http.NewRequest(http.MethodGet, f.URL+lokiInstantPath+"?"+url.Values{"query": {errorsPerMin}}.Encode(), nil)
		req.Header.Set("X-Scope-OrgID", "t")
		req.Header.Set("Authorization", "Basic dTpw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.status || string(body) != want.body || resp.Header.Get("Retry-After") != want.retryAfter ||
			resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("got %d %q %q, want %+v", resp.StatusCode, body, resp.Header.Get("Retry-After"), want)
		}
	}
	if a := lokiGet(t, f, lokiInstantPath, "t", url.Values{"query": {errorsPerMin}}); a.status != 200 {
		t.Errorf("after the faults: %+v", a)
	}
	got := f.Requests()
	if len(got) != 4 || got[0] != (LokiRequest{Path: lokiInstantPath, Tenant: "t", Query: errorsPerMin, Authorization: "Basic dTpw"}) {
		t.Errorf("requests %+v", got)
	}
}

func TestLokiTimeFormats(t *testing.T) {
	for v, want := range map[string]time.Time{
		"1700000000":                     time.Unix(1700000000, 0),
		"1700000000000000005":            time.Unix(1700000000, 5),
		"1700000000.1234":                time.Unix(1700000000, 123e6), // to the millisecond
		"2023-11-14T22:13:20Z":           time.Unix(1700000000, 0),
		"2023-11-14T22:13:20.000000005Z": time.Unix(1700000000, 5),
	} {
		got, err := parseLokiTime(v, time.Time{})
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", v, got, err, want)
		}
	}
	if _, err := parseLokiTime("yesterday", time.Time{}); err == nil {
		t.Error("yesterday parsed")
	}
}
