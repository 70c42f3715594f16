package promapi

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// serveOnce answers every request with status, content type and body.
func serveOnce(t *testing.T, status int, contentType, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func query(t *testing.T, api API, url string) (*Result, error) {
	t.Helper()
	c, err := New(api, Endpoint{URL: url, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c.Query(context.Background(), "q", time.Time{})
}

var ts = time.Unix(1435781451, 781e6).UTC()

func TestDecodeResultTypes(t *testing.T) {
	cases := map[string]struct {
		body string
		want *Result
	}{
		"vector": {`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1435781451.781,"0.5"]}]}}`,
			&Result{Type: Vector, Series: []Series{{Labels: map[string]string{"job": "a"}, Samples: []Sample{{ts, 0.5}}}}}},
		"empty vector": {`{"status":"success","data":{"resultType":"vector","result":[]}}`, &Result{Type: Vector}},
		"null result":  {`{"status":"success","data":{"resultType":"matrix","result":null}}`, &Result{Type: Matrix}},
		"matrix": {`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1435781451.781,"1"],[1435781466,"2"]]}]}}`,
			&Result{Type: Matrix, Series: []Series{{Labels: map[string]string{}, Samples: []Sample{{ts, 1}, {time.Unix(1435781466, 0).UTC(), 2}}}}}},
		"scalar": {`{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"0.95"]}}`,
			&Result{Type: Scalar, Series: []Series{{Samples: []Sample{{ts, 0.95}}}}}},
		"string": {`{"status":"success","data":{"resultType":"string","result":[1435781451.781,"foo"]}}`,
			&Result{Type: String, Text: "foo", TextTime: ts}},
		"streams": {`{"status":"success","data":{"resultType":"streams","result":[{"stream":{"job":"a"},"values":[["1569266497240578000","foo"]]}]}}`,
			&Result{Type: Streams, Streams: []Stream{{Labels: map[string]string{"job": "a"}, Entries: []Entry{{time.Unix(0, 1569266497240578000).UTC(), "foo"}}}}}},
		"warnings and loki stats": {`{"status":"success","warnings":["partial"],"infos":["i"],"data":{"resultType":"vector","result":[],"stats":{"summary":{"execTime":0.1,"new":{"x":1}}}}}`,
			&Result{Type: Vector, Warnings: []string{"partial"}, Infos: []string{"i"}}},
	}
	for name, tc := range cases {
		res, err := query(t, Prometheus, serveOnce(t, 200, "application/json", tc.body).URL)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, res, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
	}
}

func TestSpecialFloatStringsAreKept(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"i":"1"},"value":[1,"NaN"]},{"metric":{"i":"2"},"value":[1,"+Inf"]},
		{"metric":{"i":"3"},"value":[1,"-Inf"]},{"metric":{"i":"4"},"value":[1,"1e-3"]}]}}`
	res, err := query(t, Prometheus, serveOnce(t, 200, "application/json", body).URL)
	if err != nil {
		t.Fatal(err)
	}
	v := func(i int) float64 { return res.Series[i].Samples[0].Value }
	if !math.IsNaN(v(0)) || !math.IsInf(v(1), 1) || !math.IsInf(v(2), -1) || v(3) != 0.001 {
		t.Errorf("%v %v %v %v", v(0), v(1), v(2), v(3))
	}
}

func TestFailedAnswers(t *testing.T) {
	cases := []struct {
		name        string
		api         API
		status      int
		contentType string
		body        string
		want        string
	}{
		{"json error envelope", Prometheus, 400, "application/json",
			`{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end"}`,
			`prometheus: 400 bad_data: invalid parameter "query": 1:5: parse error: unexpected end`},
		{"error status with HTTP 200", Prometheus, 200, "application/json",
			`{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`,
			"prometheus: 200 execution: many-to-many matching not allowed"},
		{"success with HTTP 500", Prometheus, 500, "application/json",
			`{"status":"success","data":{"resultType":"vector","result":[]}}`,
			`prometheus: 500 status "success" with a non-2xx HTTP status; refusing the data`},
		{"plain-text 503 from a starting server", Prometheus, 503, "text/plain", "Service Unavailable",
			"prometheus: 503 Service Unavailable"},
		{"loki plain-text 401", Loki, 401, "text/plain; charset=utf-8", "no org id\n", "loki: 401 no org id"},
		{"loki plain-text 400 multi-line", Loki, 400, "text/plain; charset=utf-8", "parse error at line 1, col 5:\nsyntax error\n",
			"loki: 400 parse error at line 1, col 5: syntax error"},
		{"empty 502", Prometheus, 502, "", "", "prometheus: 502 Bad Gateway"},
		{"html 200 from a proxy login page", Prometheus, 200, "text/html", "<html><body>Sign in</body></html>",
			"prometheus: 200 answer is not a JSON envelope: <html><body>Sign in</body></html>"},
		{"empty 200", Prometheus, 200, "application/json", "", "prometheus: 200 empty answer"},
		{"json without status", Prometheus, 200, "application/json", `{"data":{}}`,
			`prometheus: 200 answer is not a JSON envelope: {"data":{}}`},
		{"unknown status", Prometheus, 200, "application/json", `{"status":"partial","data":{}}`,
			`prometheus: 200 unexpected status "partial" in answer: {"status":"partial","data":{}}`},
		{"no data", Prometheus, 200, "application/json", `{"status":"success"}`,
			"prometheus: 200 unparseable answer: answer has no data"},
		{"unknown result type", Prometheus, 200, "application/json", `{"status":"success","data":{"resultType":"table","result":[]}}`,
			`prometheus: 200 unparseable answer: unknown resultType "table"`},
		{"value not a string", Prometheus, 200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,0.5]}]}}`,
			"prometheus: 200 unparseable answer: vector series {}: sample value must be a string, got 0.5"},
		{"value not a number", Prometheus, 200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"high"]}]}}`,
			`prometheus: 200 unparseable answer: vector series {}: sample value "high" is not a number`},
		{"native histogram", Prometheus, 200, "application/json", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"histogram":[1,{"count":"3","sum":"1","buckets":[]}]}]}}`,
			`prometheus: 200 unparseable answer: series {job="a"} holds native histogram samples, not floats; query a float instead (for example histogram_quantile or histogram_fraction)`},
		{"scalar null", Prometheus, 200, "application/json", `{"status":"success","data":{"resultType":"scalar","result":null}}`,
			"prometheus: 200 unparseable answer: scalar result is null"},
	}
	for _, tc := range cases {
		_, err := query(t, tc.api, serveOnce(t, tc.status, tc.contentType, tc.body).URL)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestLongErrorBodiesAreCutToOneShortLine(t *testing.T) {
	_, err := query(t, Loki, serveOnce(t, 400, "text/plain", strings.Repeat("very long\n", 100)).URL)
	if err == nil || strings.Contains(err.Error(), "\n") || len(err.Error()) > 230 || !strings.HasSuffix(err.Error(), "…") {
		t.Errorf("%q", err)
	}
}

func TestLabelString(t *testing.T) {
	if got := LabelString(map[string]string{"job": "a", "instance": `x"y`}); got != `{instance="x\"y", job="a"}` {
		t.Errorf("%s", got)
	}
}

// model.SamplePair, model.Scalar and model.String decode a pair into a
// fixed-size array, so on their own they read a short pair or a null element
// as a zero at the epoch and drop extra elements, and model.Sample reads a
// vector series without "value" as 0. Each of these answers must stay an
// error (decodePair checks the shape before the model types read the parts).
func TestPairsTheModelTypesWouldReadAsZeroAreRefused(t *testing.T) {
	vector := func(value string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":` + value + `}]}}`
	}
	scalar := func(value string) string {
		return `{"status":"success","data":{"resultType":"scalar","result":` + value + `}}`
	}
	cases := map[string]struct{ body, want string }{
		"empty pair":            {vector(`[]`), `vector series {}: want [timestamp, "value"], got []`},
		"timestamp only":        {vector(`[1]`), `vector series {}: want [timestamp, "value"], got [1]`},
		"null value":            {vector(`[1,null]`), `vector series {}: want [timestamp, "value"], got [1,null]`},
		"null timestamp":        {vector(`[null,"0.5"]`), `vector series {}: want [timestamp, "value"], got [null,"0.5"]`},
		"third element":         {vector(`[1,"0.5","9"]`), `vector series {}: want [timestamp, "value"], got [1,"0.5","9"]`},
		"no value":              {`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"}}]}}`, `vector series {job="a"} has no value`},
		"scalar null timestamp": {scalar(`[null,"0.5"]`), `scalar result: want [timestamp, "value"], got [null,"0.5"]`},
		"scalar third element":  {scalar(`[1,"0.5",2]`), `scalar result: want [timestamp, "value"], got [1,"0.5",2]`},
		"matrix null pair":      {`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],null]}]}}`, `matrix series {}: want [timestamp, "value"], got null`},
		"string null text":      {`{"status":"success","data":{"resultType":"string","result":[1,null]}}`, `string result: want [timestamp, "value"], got [1,null]`},
		// model.SampleValue reads the quoted bytes as they are: an escaped
		// digit is not a number (encoding/json would have unescaped it).
		"escaped value": {vector(`[1,"\u0030.5"]`), `vector series {}: sample value "\u0030.5" is not a number`},
		// model.Time reads plain decimals only; the old decoder also read
		// exponents. Refused: no server sends them.
		"exponent timestamp": {vector(`[1.4e9,"1"]`), "vector series {}: timestamp 1.4e9 is not a number of seconds"},
		"string timestamp":   {vector(`["1","1"]`), `vector series {}: timestamp "1" is not a number of seconds`},
		// model.Time multiplies seconds by 1000 unchecked: a timestamp this
		// large would wrap around to a date in the past.
		"overflowing timestamp": {vector(`[9223372036854775,"1"]`), "vector series {}: timestamp 9223372036854775 is not a number of seconds"},
	}
	for name, tc := range cases {
		_, err := query(t, Prometheus, serveOnce(t, 200, "application/json", tc.body).URL)
		if want := "prometheus: 200 unparseable answer: " + tc.want; err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", name, err, want)
		}
	}
}

// Timestamps are kept to the millisecond, the precision Prometheus stores
// (model.Time); further digits are dropped, not rounded.
func TestTimestampsAreMilliseconds(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1435781451.7819999,"1"],[-1.5,"2"],[7,"3"]]}]}}`
	res, err := query(t, Prometheus, serveOnce(t, 200, "application/json", body).URL)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{ts, time.Unix(-2, 5e8).UTC(), time.Unix(7, 0).UTC()}
	for i, s := range res.Series[0].Samples {
		if !s.Time.Equal(want[i]) {
			t.Errorf("sample %d at %v, want %v", i, s.Time, want[i])
		}
	}
}
