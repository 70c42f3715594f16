package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// TestShippedLinesReachVictoriaLogs pushes one second's lines of a failing
// service to a real VictoriaLogs and counts them back with LogsQL.
func TestShippedLinesReachVictoriaLogs(t *testing.T) {
	vl := testenv.StartVictoriaLogs(t)
	s := newService(0.3, log.New(io.Discard, "", 0))
	s.loggedOK, s.loggedFailed = 35, 15
	now := time.Now()
	lines := s.logLines(now)
	if len(lines) != 2 || !strings.HasPrefix(lines[1][1], "ERROR 15 requests answered 500") {
		t.Fatalf("%q", lines)
	}
	if err := push(context.Background(), http.DefaultClient, vl.URL+"/insert/loki/api/v1/push", "threader", lines); err != nil {
		t.Fatal(err)
	}
	if again := s.logLines(now); len(again) != 1 || again[0][1] != "served 0 requests: 0 ok, 0 failed" {
		t.Errorf("the counts were not reset: %q", again)
	}
	http.Get(vl.URL + "/internal/force_flush")
	q := url.Values{"query": {`_stream:{job="threader"} _time:5m ~"ERROR" | stats count() as errors`},
		"time": {strconv.FormatInt(now.Unix()+1, 10)}}
	_, body := get(t, vl.URL+"/select/logsql/stats_query?"+q.Encode())
	if !strings.Contains(body, `"errors"},"value":[`) || !strings.Contains(body, `,"1"]`) {
		t.Errorf("want 1 error line: %s", body)
	}
	if err := push(context.Background(), http.DefaultClient, vl.URL+"/nope", "threader", lines); err == nil || !strings.Contains(err.Error(), "400") && !strings.Contains(err.Error(), "404") {
		t.Errorf("a failed push: %v", err)
	}
}
