package slocheck

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/testenv"
)

// The fake Loki's tenant in these tests.
const tenant = "team-a"

// backends is one Prometheus-compatible server with the SLO scenario data
// and a fake Loki with the matching answers to the error-log check.
type backends struct {
	data    testenv.SLOScenarios
	promURL string
	loki    *testenv.FakeLoki
}

// answerLogQueries registers the fake Loki's answers for the windows these
// tests use: the default 15m and the polling tests' 5m.
func answerLogQueries(f *testenv.FakeLoki) { testenv.AnswerSLOLogQueries(f, tenant, 15, 5) }

// run is one CLI invocation.
type run struct {
	code           int
	stdout, stderr string
}

func (b backends) args(job string, extra ...string) []string {
	return append([]string{"--prometheus-url", b.promURL, "--loki-url", b.loki.URL, "--loki-tenant", tenant,
		"--job", job, "--request-timeout-seconds", "5", "--request-retries", "1"}, extra...)
}

func invokeCLI(t *testing.T, clk clock.Clock, args ...string) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli(context.Background(), args, &stdout, &stderr, clk)
	return run{code, stdout.String(), stderr.String()}
}

// jsonResult runs the CLI with --json and decodes its object.
func jsonResult(t *testing.T, clk clock.Clock, args ...string) (map[string]any, run) {
	t.Helper()
	r := invokeCLI(t, clk, append(args, "--json")...)
	var res map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json printed no object (%v): exit %d\nstdout: %s\nstderr: %s", err, r.code, r.stdout, r.stderr)
	}
	return res, r
}

func checkByName(t *testing.T, res map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range res["checks"].([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no check %q in %v", name, res["checks"])
	return nil
}
