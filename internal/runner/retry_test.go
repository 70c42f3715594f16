package runner

import (
	"context"
	"errors"
	"fmt"
	"github.com/threader/guard/internal/interrupt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/testenv"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// counter returns a script that exits with the i-th code of codes on the
// i-th run (the last code repeats), printing "run i" to stdout and out[i]
// to stderr. The count is kept in a file, as a flaky command's state would be.
func counter(t *testing.T, codes []int, stderr ...string) []string {
	file := filepath.Join(t.TempDir(), "count")
	var cases strings.Builder
	for i, c := range codes {
		msg := ""
		if i < len(stderr) {
			msg = stderr[i]
		}
		pattern := fmt.Sprint(i + 1)
		if i == len(codes)-1 {
			pattern = "*"
		}
		fmt.Fprintf(&cases, "%s) echo '%s' >&2; exit %d;;\n", pattern, msg, c)
	}
	return sh(fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; echo "run $n"
case $n in
%[2]sesac`, file, cases.String()))
}

func TestFlakyCommandSucceedsOnThirdAttempt(t *testing.T) {
	fake := clock.NewFake(epoch)
	var seen []Attempt
	rep, err := Retry{
		Command:   Command{Argv: counter(t, []int{1, 1, 0})},
		Attempts:  3,
		Schedule:  backoff.Schedule{Base: 5 * time.Second},
		Clock:     fake,
		OnAttempt: func(a Attempt) { seen = append(seen, a) },
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Succeeded() || rep.Last.RC != 0 || rep.Last.Stdout != "run 3\n" || len(rep.History) != 3 {
		t.Fatalf("report %+v", rep)
	}
	for i, want := range []time.Duration{0, 5 * time.Second, 10 * time.Second} {
		h := rep.History[i]
		if h.Number != i+1 || h.Delay != want || h.Duration <= 0 {
			t.Fatalf("history[%d] = %+v, want delay %v", i, h, want)
		}
	}
	if rep.History[0].RC != 1 || !rep.History[0].Retry || rep.History[0].NextDelay != 5*time.Second || rep.History[2].Stop != backoff.StopSucceeded {
		t.Fatalf("history %+v", rep.History)
	}
	if len(seen) != 3 || seen[1].NextDelay != 10*time.Second {
		t.Fatalf("OnAttempt saw %+v", seen)
	}
	if rep.Total != 15*time.Second {
		t.Fatalf("total %v on the fake clock, want 15s", rep.Total)
	}
}

func TestExhaustedAttempts(t *testing.T) {
	fake := clock.NewFake(epoch)
	rep, _ := Retry{
		Command:  Command{Argv: sh("echo boom >&2; exit 2")},
		Attempts: 3,
		Schedule: backoff.Schedule{Base: time.Second},
		Clock:    fake,
	}.Run(context.Background())
	if rep.Succeeded() || rep.Stop != backoff.StopExhausted || len(rep.History) != 3 || rep.Last.RC != 2 {
		t.Fatalf("report %+v", rep)
	}
	if got, want := rep.Message(), "command failed after 3 attempts (last rc=2): boom"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if len(fake.Slept()) != 2 {
		t.Fatalf("slept %v", fake.Slept())
	}
}

func TestRetryOnRCDecides(t *testing.T) {
	// 75 (EX_TEMPFAIL) is retried, 2 is not.
	rep, _ := Retry{
		Command:   Command{Argv: counter(t, []int{75, 2, 0})},
		Attempts:  5,
		RetryOnRC: []int{75},
		Clock:     clock.NewFake(epoch),
	}.Run(context.Background())
	if rep.Stop != backoff.StopNotRetryable || len(rep.History) != 2 || rep.Last.RC != 2 {
		t.Fatalf("report %+v", rep)
	}
	last := rep.History[1]
	if last.Retry || last.Why != "rc 2 is not in retry_on_rc" {
		t.Fatalf("last attempt %+v", last)
	}
	if !strings.Contains(rep.Message(), "not retried: rc 2 is not in retry_on_rc") {
		t.Fatalf("message %q", rep.Message())
	}

	rep, _ = Retry{
		Command:   Command{Argv: counter(t, []int{75, 75, 0})},
		Attempts:  5,
		RetryOnRC: []int{1, 75},
		Clock:     clock.NewFake(epoch),
	}.Run(context.Background())
	if !rep.Succeeded() || len(rep.History) != 3 {
		t.Fatalf("report %+v", rep)
	}
}

func TestRetryOnOutputDecides(t *testing.T) {
	re := regexp.MustCompile(`timed out|UNREACHABLE`)
	rep, _ := Retry{
		Command:       Command{Argv: counter(t, []int{4, 4, 4}, "host UNREACHABLE", "ssh: connect timed out", "permission denied")},
		Attempts:      5,
		RetryOnOutput: re,
		Clock:         clock.NewFake(epoch),
	}.Run(context.Background())
	if rep.Stop != backoff.StopNotRetryable || len(rep.History) != 3 {
		t.Fatalf("report %+v", rep)
	}
	if rep.History[2].Why != "the output does not match retry_on_output" {
		t.Fatalf("why %q", rep.History[2].Why)
	}
	// A match on stdout counts as well as on stderr.
	rep, _ = Retry{
		Command:       Command{Argv: sh("echo 'fatal: UNREACHABLE'; exit 1")},
		Attempts:      2,
		RetryOnOutput: re,
		Clock:         clock.NewFake(epoch),
	}.Run(context.Background())
	if rep.Stop != backoff.StopExhausted || len(rep.History) != 2 {
		t.Fatalf("stdout match: report %+v", rep)
	}
}

func TestTimedOutAttemptsAreRetriedWhateverTheFilters(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	rep, _ := Retry{
		Command: Command{
			Argv:      sh(`sleep 300 & echo $! > ` + pidFile + `; wait`),
			Timeout:   100 * time.Millisecond,
			KillGrace: time.Second,
		},
		Attempts:      2,
		RetryOnRC:     []int{75},
		RetryOnOutput: regexp.MustCompile("never printed"),
		Clock:         clock.NewFake(epoch),
	}.Run(context.Background())
	if rep.Stop != backoff.StopExhausted || len(rep.History) != 2 || !rep.History[0].TimedOut || !rep.History[1].TimedOut {
		t.Fatalf("report %+v", rep)
	}
	if alive(readPID(t, pidFile)) {
		t.Fatal("grandchild of the last attempt survived")
	}
	if msg := rep.Message(); !strings.Contains(msg, "timed out after 0.") || !strings.Contains(msg, "SIGTERM") {
		t.Fatalf("message %q", msg)
	}
}

func TestDeadlineClipsTheRunningAttempt(t *testing.T) {
	// Real clock: the 300ms deadline must cut the ten-minute sleep (a hang
	// guard of two minutes catches it if not; how long it took is load), and
	// no further attempt may start.
	var rep Report
	testenv.Within(t, 2*time.Minute, func() {
		rep, _ = Retry{
			Command:  Command{Argv: []string{"sleep", "600"}, KillGrace: time.Second},
			Attempts: 3,
			Schedule: backoff.Schedule{Base: 10 * time.Millisecond},
			Deadline: 300 * time.Millisecond,
		}.Run(context.Background())
	})
	if rep.Stop != backoff.StopDeadline || len(rep.History) != 1 || !rep.History[0].TimedOut {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(rep.Message(), "would pass the 0.3s deadline") {
		t.Fatalf("message %q", rep.Message())
	}
}

func TestDeadlineStopsBeforeALongSleep(t *testing.T) {
	fake := clock.NewFake(epoch)
	rep, _ := Retry{
		Command:  Command{Argv: []string{"false"}},
		Attempts: 10,
		Schedule: backoff.Schedule{Base: 10 * time.Second},
		Deadline: 25 * time.Second,
		Clock:    fake,
	}.Run(context.Background())
	if rep.Stop != backoff.StopDeadline || len(rep.History) != 2 || rep.History[1].NextDelay != 20*time.Second {
		t.Fatalf("report %+v", rep)
	}
	if want := "command failed after 2 attempts (last rc=1); stopped: a 20s delay would pass the 25s deadline"; rep.Message() != want {
		t.Fatalf("message %q, want %q", rep.Message(), want)
	}
}

func TestStartErrorIsNotRetried(t *testing.T) {
	rep, err := Retry{Command: Command{Argv: []string{"no-such-program-xyz"}}, Attempts: 3, Clock: clock.NewFake(epoch)}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stop != backoff.StopNotRetryable || len(rep.History) != 1 || rep.History[0].Err == nil || rep.Last.RC != 127 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.HasPrefix(rep.Message(), "cannot run no-such-program-xyz") {
		t.Fatalf("message %q", rep.Message())
	}
}

func TestCancelStopsFurtherAttempts(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(150*time.Millisecond, func() { cancel(interrupt.Cause{Signal: syscall.SIGINT}) })
	rep, _ := Retry{
		Command:  Command{Argv: []string{"sleep", "300"}, KillGrace: time.Second},
		Attempts: 5,
	}.Run(ctx)
	if rep.Stop != backoff.StopCanceled || len(rep.History) != 1 || rep.Last.Signal != "SIGINT" || !rep.Last.Interrupted {
		t.Fatalf("report %+v", rep)
	}
	if !strings.HasPrefix(rep.Message(), "command interrupted on attempt 1 (rc=-2 (SIGINT))") {
		t.Fatalf("message %q", rep.Message())
	}
}

func TestRetryValidation(t *testing.T) {
	for name, r := range map[string]Retry{
		"attempts":        {Command: Command{Argv: []string{"true"}}, Attempts: 0},
		"argv":            {Attempts: 1},
		"retry_on_output": {Command: Command{Argv: []string{"true"}, Passthrough: true}, Attempts: 1, RetryOnOutput: regexp.MustCompile("x")},
		"factor":          {Command: Command{Argv: []string{"true"}}, Attempts: 1, Schedule: backoff.Schedule{Factor: 0.5}},
	} {
		_, err := r.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: error %v", name, err)
		}
		if errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
}

func TestMessageQuotesTheEndOfLongOutput(t *testing.T) {
	rep := Report{
		Stop:    backoff.StopExhausted,
		History: []Attempt{{Number: 1, RC: 1}},
		Last:    Result{RC: 1, Stdout: strings.Repeat("x", 2000) + "the real error\n"},
	}
	msg := rep.Message()
	if !strings.HasSuffix(msg, "the real error") || !strings.Contains(msg, ": ...xxx") || len(msg) > 700 {
		t.Fatalf("message (%d bytes) %q", len(msg), msg)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Second: "10s", 200 * time.Millisecond: "0.2s", 90 * time.Second: "90s", 1234567 * time.Microsecond: "1.235s", 0: "0s"} {
		if got := Seconds(d); got != want {
			t.Fatalf("Seconds(%v) = %q, want %q", d, got, want)
		}
	}
}

// Policies see stdout and stderr of a real process; a stop policy ends the
// run with its name, and a hint sets the delay.
func TestPoliciesAndRetryAfterHintOnRealProcesses(t *testing.T) {
	fake := clock.NewFake(epoch)
	rep, err := Retry{
		Command:  Command{Argv: counter(t, []int{1, 1, 3}, "HTTP 429; Retry-After: 12", "HTTP 503", "401 unauthorized")},
		Attempts: 5,
		Schedule: backoff.Schedule{Base: time.Second},
		Policies: []backoff.Rule{
			{Name: "auth", MatchOutput: regexp.MustCompile(`unauthorized`), Action: backoff.ActionStop},
			{Name: "rate", MatchOutput: regexp.MustCompile(`HTTP 429`), Attempts: 5, Schedule: backoff.Schedule{Base: 30 * time.Second}},
		},
		HonorRetryAfter: true,
		RetryOnRC:       []int{9}, // policies decide before this filter
		Clock:           fake,
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// attempt 1 matches rate (hint 12s); attempt 2 matches nothing and rc 1
	// is not in retry_on_rc: not retried.
	if rep.Stop != backoff.StopNotRetryable || len(rep.History) != 2 {
		t.Fatalf("report %+v", rep)
	}
	h := rep.History[0]
	if h.Policy != "rate" || !h.HasHint || h.Hint != 12*time.Second || h.NextDelay != 12*time.Second {
		t.Fatalf("attempt 1 %+v", h)
	}
	if rep.History[1].Policy != "" || rep.History[1].Delay != 12*time.Second {
		t.Fatalf("attempt 2 %+v", rep.History[1])
	}
}

func TestStopPolicyNamesItselfInTheMessage(t *testing.T) {
	rep, err := Retry{
		Command:  Command{Argv: counter(t, []int{1, 3}, "busy", "401 unauthorized")},
		Attempts: 5,
		Policies: []backoff.Rule{{Name: "auth", MatchRC: []int{3}, Action: backoff.ActionStop}},
		Clock:    clock.NewFake(epoch),
	}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stop != backoff.StopByRule("auth") || len(rep.History) != 2 || rep.History[1].Policy != "auth" {
		t.Fatalf("report %+v", rep)
	}
	if msg := rep.Message(); !strings.Contains(msg, "retry policy auth says stop") {
		t.Fatalf("message %q", msg)
	}
}

func TestPoliciesReadingOutputRefusePassthrough(t *testing.T) {
	err := Retry{Command: Command{Argv: []string{"true"}, Passthrough: true}, Attempts: 1, HonorRetryAfter: true}.Validate()
	if err == nil || !strings.Contains(err.Error(), "honor_retry_after") {
		t.Fatalf("got %v", err)
	}
}
