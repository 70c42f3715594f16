package testenv

import (
	"encoding/json"
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

func seedLoki(f *FakeLoki, now time.Time) {
	app := map[string]string{"job": "threader", "level": "info"}
	for i := range 30 { // a line every 30s over the last 15 minutes
		f.Push("team-a", app, now.Add(-time.Duration(i)*30*time.Second), "GET /healthz 200")
	}
	errs := map[string]string{"job": "threader", "level": "error"}
	for i := range 6 {
		f.Push("team-a", errs, now.Add(-time.Duration(i)*time.Minute-time.Second), "ERROR db timeout")
	}
	f.Push("team-a", errs, now.Add(-20*time.Minute), "Traceback (most recent call last):") // outside 15m
	f.Push("team-b", app, now.Add(-time.Minute), "ERROR other tenant")
}

func TestFakeLokiRequiresTheTenantHeader(t *testing.T) {
	f := StartFakeLoki(t)
	a := lokiGet(t, f, "/loki/api/v1/query", "", url.Values{"query": {`count_over_time({job="x"}[1m])`}})
	if a.status != 401 || a.body != "no org id\n" || !strings.HasPrefix(a.contentType, "text/plain") {
		t.Errorf("%+v", a)
	}
	f.SetAuthDisabled(true)
	if a := lokiGet(t, f, "/loki/api/v1/query", "", url.Values{"query": {`count_over_time({job="x"}[1m])`}}); a.status != 200 {
		t.Errorf("auth disabled: %+v", a)
	}
}

func TestFakeLokiInstantMetricQuery(t *testing.T) {
	f := StartFakeLoki(t)
	now := time.Now().Truncate(time.Second)
	seedLoki(f, now)
	q := `sum(count_over_time({job="threader"} |~ "ERROR|Exception|Traceback" [15m])) / 15`
	a := lokiGet(t, f, "/loki/api/v1/query", "team-a", url.Values{"query": {q}, "time": {strconv.FormatInt(now.UnixNano(), 10)}})
	if a.status != 200 {
		t.Fatalf("%+v", a)
	}
	var env struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	if err := json.Unmarshal([]byte(a.body), &env); err != nil {
		t.Fatal(err)
	}
	if env.Status != "success" || env.Data.ResultType != "vector" || len(env.Data.Result) != 1 {
		t.Fatalf("%s", a.body)
	}
	r := env.Data.Result[0]
	if len(r.Metric) != 0 || r.Value[1] != "0.4" {
		t.Errorf("6 errors in 15m should be 0.4/min with no labels: %s", a.body)
	}
	if _, isNumber := r.Value[0].(float64); !isNumber {
		t.Errorf("vector timestamp must be a number: %s", a.body)
	}
	// Grouping keeps the label; the other tenant's lines are invisible.
	a = lokiGet(t, f, "/loki/api/v1/query", "team-a", url.Values{"query": {`sum by (level) (count_over_time({job="threader"}[15m]))`}, "time": {strconv.FormatInt(now.Unix(), 10)}})
	if !strings.Contains(a.body, `{"metric":{"level":"error"},"value":[`) || !strings.Contains(a.body, `"6"]`) || !strings.Contains(a.body, `"30"]`) {
		t.Errorf("by level: %s", a.body)
	}
}

func TestFakeLokiEmptyCountIsNoSeriesOrNull(t *testing.T) {
	f := StartFakeLoki(t)
	seedLoki(f, time.Now())
	q := url.Values{"query": {`sum(count_over_time({job="threader"} |= "panic" [15m]))`}}
	if a := lokiGet(t, f, "/loki/api/v1/query", "team-a", q); !strings.Contains(a.body, `"result":[]`) {
		t.Errorf("want an empty result, not 0: %s", a.body)
	}
	f.SetNullResults(true)
	if a := lokiGet(t, f, "/loki/api/v1/query", "team-a", q); !strings.Contains(a.body, `"resultType":"vector","result":null`) &&
		!strings.Contains(a.body, `"result":null`) {
		t.Errorf("want result null: %s", a.body)
	}
}

func TestFakeLokiRejectsLogQueriesAtTheInstantEndpoint(t *testing.T) {
	f := StartFakeLoki(t)
	a := lokiGet(t, f, "/loki/api/v1/query", "team-a", url.Values{"query": {`{job="threader"} |= "ERROR"`}})
	want := "log queries are not supported as an instant query type, please change your query to a range query type\n"
	if a.status != 400 || a.body != want || !strings.HasPrefix(a.contentType, "text/plain") {
		t.Errorf("%+v", a)
	}
	a = lokiGet(t, f, "/loki/api/v1/query", "team-a", url.Values{"query": {`sum(count_over_time({job="threader"}[15m]`}})
	if a.status != 400 || !strings.HasPrefix(a.body, "parse error at line 1, col ") {
		t.Errorf("parse error: %+v", a)
	}
	a = lokiGet(t, f, "/loki/api/v1/query", "team-a", url.Values{"query": {`sum(count_over_time({job="threader"} | json [15m]))`}})
	if a.status != 400 || !strings.Contains(a.body, "not supported by the fake Loki") {
		t.Errorf("unsupported: %+v", a)
	}
}

func TestFakeLokiRangeQueries(t *testing.T) {
	f := StartFakeLoki(t)
	now := time.Now().Truncate(time.Second)
	seedLoki(f, now)
	a := lokiGet(t, f, "/loki/api/v1/query_range", "team-a", url.Values{
		"query": {`sum(count_over_time({job="threader", level="error"}[1m]))`},
		"start": {strconv.FormatInt(now.Add(-3*time.Minute).UnixNano(), 10)},
		"end":   {strconv.FormatInt(now.UnixNano(), 10)},
		"step":  {"60"},
	})
	if a.status != 200 || !strings.Contains(a.body, `"resultType":"matrix"`) || strings.Count(a.body, `"1"]`) != 4 {
		t.Errorf("one error per minute at 4 steps: %+v", a)
	}
	a = lokiGet(t, f, "/loki/api/v1/query_range", "team-a", url.Values{
		"query": {`{job="threader"} |~ "Trace.*"`},
		"start": {now.Add(-time.Hour).Format(time.RFC3339Nano)},
		"end":   {now.Format(time.RFC3339Nano)},
	})
	if a.status != 200 || !strings.Contains(a.body, `"resultType":"streams"`) || !strings.Contains(a.body, `"Traceback (most recent call last):"]`) {
		t.Errorf("streams: %+v", a)
	}
}

func TestFakeLokiFaults(t *testing.T) {
	f := StartFakeLoki(t)
	f.FailNext(LokiFault{Status: 429, RetryAfter: "1"}, LokiFault{Status: 504}, LokiFault{Status: 500, Body: "boom"})
	q := url.Values{"query": {`count_over_time({job="x"}[1m])`}}
	for _, want := range []struct {
		status int
		body   string
	}{{429, "too many outstanding requests\n"}, {504, lokiDefaultErrors[504] + "\n"}, {500, "boom\n"}, {200, ""}} {
		a := lokiGet(t, f, "/loki/api/v1/query", "t", q)
		if a.status != want.status || want.body != "" && a.body != want.body {
			t.Errorf("got %d %q, want %d %q", a.status, a.body, want.status, want.body)
		}
	}
	if got := f.Requests(); len(got) != 4 || got[0].Tenant != "t" {
		t.Errorf("requests %+v", got)
	}
}

func TestLokiTimeFormats(t *testing.T) {
	want := time.Unix(1700000000, 0)
	for _, v := range []string{"1700000000", "1700000000000000000", "1700000000.000", "2023-11-14T22:13:20Z"} {
		got, err := parseLokiTime(v, time.Time{})
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", v, got, err)
		}
	}
}
