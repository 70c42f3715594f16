package promapi

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/threader/guard/internal/strictjson"
)

// Fuzz targets for everything promapi parses from a server. `go test`
// replays the seeds and testdata/fuzz; `go test -fuzz=FuzzDecodeAnswer`
// explores further.

func fuzzClient(t *testing.T, api API) *Client {
	c, err := New(api, Endpoint{URL: "http://127.0.0.1:9090"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzDecodeAnswer: any body, for either API and any status, is a Result or
// an *Error, never a panic; a Result only comes from a 2xx, unambiguous
// envelope, and its numbers are what the body said.
func FuzzDecodeAnswer(f *testing.F) {
	for _, seed := range []string{
		okVector,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"NaN"]]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}`,
		`{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`,
		`{"status":"success","data":{"resultType":"streams","result":[{"stream":{"job":"a"},"values":[["1569266497240578000","line"]]}]}}`,
		`{"status":"success","warnings":["w"],"data":{"resultType":"vector","result":null}}`,
		`{"status":"error","errorType":"bad_data","error":"parse error"}`,
		`{"status":"success","Status":"error","data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}`,
		"no org id\n", ``, `[]`, `{"status":1}`,
	} {
		f.Add([]byte(seed), 200, false)
	}
	f.Add([]byte(okVector), 503, true)
	f.Fuzz(func(t *testing.T, body []byte, code int, loki bool) {
		api := Prometheus
		if loki {
			api = Loki
		}
		res, qerr := fuzzClient(t, api).decode(code, body)
		if (res == nil) == (qerr == nil) {
			t.Fatalf("want exactly one of result and error, got %v and %v", res, qerr)
		}
		if qerr != nil {
			if msg := qerr.Error(); len(msg) == 0 || msg[:len(api)] != string(api) {
				t.Fatalf("error %q does not start with the API name", msg)
			}
			return
		}
		if code < 200 || code > 299 {
			t.Fatalf("a %d answer gave a result", code)
		}
		if err := strictjson.CheckWith(body, labelMaps); err != nil {
			t.Fatalf("an ambiguous body gave a result: %v", err)
		}
		for _, s := range res.Series {
			if res.Type != Matrix && len(s.Samples) != 1 {
				t.Fatalf("%s series with %d samples", res.Type, len(s.Samples))
			}
		}
	})
}

// FuzzParseValue: a value parses only as a number or one of the special
// strings, and a finite number survives a round trip.
func FuzzParseValue(f *testing.F) {
	for _, seed := range []string{"0", "0.001", "-1e-9", "NaN", "+Inf", "-Inf", "Inf", "1e400", "0x1p-2", "", " 1", "inf", "nan", "1_000"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := ParseValue(text)
		if err != nil {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		back, err := ParseValue(strconv.FormatFloat(v, 'g', -1, 64))
		if err != nil || back != v {
			t.Fatalf("%q → %v → %v, %v", text, v, back, err)
		}
	})
}

// FuzzParseUnixSeconds: timestamps never panic, only plain decimals parse,
// and they agree with float parsing to the millisecond (model.Time's
// precision; digits past the third are dropped, never rounded up).
func FuzzParseUnixSeconds(f *testing.F) {
	for _, seed := range []string{"1435781451.781", "1", "-1.5", "0.000000001", "1e9", "1.5E9", "9223372036854775807", "1.", ".5", "--1", "1.9999999999", "NaN"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		mt, err := parseTimestamp([]byte(text))
		if err != nil {
			return
		}
		fl, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || strings.ContainsAny(text, "eE") {
			t.Fatalf("%q parsed as %v but is not a plain decimal", text, mt)
		}
		if math.Abs(fl) > 1e9 {
			return
		}
		got := float64(mt) / 1000
		if diff := math.Abs(got - fl); diff >= 1e-3+1e-6 {
			t.Fatalf("%q parsed as %v, float parsing says %v", text, got, fl)
		}
	})
}
