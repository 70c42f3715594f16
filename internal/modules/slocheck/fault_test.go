package slocheck

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// Fault test (issue 10, standing defences): a real Prometheus hung
// (SIGSTOP), stopped and restarted while a polling gate runs. Every
// evaluation while it cannot answer fails, with the reason; the streak of
// passes starts again from zero; the gate passes only after the server is
// back and has answered Consecutive times in a row.
func TestPollingGateFailsClosedWhilePrometheusIsHungOrDownAndRecovers(t *testing.T) {
	data := testenv.NewSLOScenarios(time.Now(), time.Minute)
	p := testenv.StartPrometheus(t, testenv.PrometheusOptions{Series: data.Series, RuleFiles: []string{testenv.RecordingRulesFile()}})

	stderrR, stderrW := io.Pipe()
	var stdout strings.Builder
	code := make(chan int, 1)
	go func() {
		defer stderrW.Close()
		code <- cli(context.Background(), []string{"--prometheus-url", p.URL, "--loki-url", "", "--job", "stable",
			"--interval-seconds", "1", "--consecutive", "3", "--timeout-seconds", "180",
			"--request-timeout-seconds", "2", "--request-retries", "1", "--no-syslog", "--json"}, &stdout, stderrW, nil)
	}()

	// Each phase waits for an evaluation line, then changes the server.
	type phase struct {
		wait   string // a progress line containing this ends the phase
		action func()
		name   string
	}
	phases := []phase{
		{"pass (1/3 in a row)", func() { p.Pause(t) }, "up"},
		{"prometheus: no answer within 2s", func() { p.Stop() }, "hung"},
		{"connection refused", func() { p.Restart(t) }, "down"},
	}
	var lines []string
	var during []string // lines between the first fault and the restart
	current := 0
	faulty := false
	sc := bufio.NewScanner(stderrR)
	testenv.Within(t, 3*time.Minute, func() {
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			if faulty {
				during = append(during, line)
			}
			if current < len(phases) && strings.Contains(line, phases[current].wait) {
				phases[current].action()
				faulty = current < len(phases)-1
				current++
			}
		}
	})
	got := <-code
	t.Logf("progress:\n%s", strings.Join(lines, "\n"))
	if current != len(phases) {
		t.Fatalf("reached phase %d of %d (%s):\n%s", current, len(phases), phases[min(current, len(phases)-1)].name, strings.Join(lines, "\n"))
	}
	for _, line := range during {
		if strings.Contains(line, "slo_check: evaluation ") && !strings.Contains(line, ": FAIL (0/3 in a row): ") {
			t.Errorf("an evaluation while Prometheus was hung or down did not fail: %s", line)
		}
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil || got != exitPassed || res["passed"] != true {
		t.Fatalf("after the restart: exit %d (%v) %v\n%s", got, err, res, strings.Join(lines, "\n"))
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "pass (3/3 in a row)") {
		t.Errorf("last line %q", last)
	}
}
