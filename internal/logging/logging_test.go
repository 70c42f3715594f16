package logging

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/clock"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC)

// syslogSocket is a datagram socket standing in for /dev/log. Unix socket
// paths are limited to ~108 bytes, so it lives in a short temp dir.
type syslogSocket struct {
	path string
	conn *net.UnixConn
}

func newSyslogSocket(t *testing.T) *syslogSocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &syslogSocket{path: filepath.Join(dir, "log")}
	s.listen(t)
	return s
}

func (s *syslogSocket) listen(t *testing.T) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s.conn = conn
	t.Cleanup(func() { conn.Close() })
}

// next returns the next datagram. The deadline only keeps a broken test
// from hanging; no assertion depends on it.
func (s *syslogSocket) next(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 65536)
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := s.conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("reading the log socket: %v", err)
	}
	return string(buf[:n])
}

func open(t *testing.T, s *syslogSocket, opts Options) *Logger {
	t.Helper()
	opts.SocketPath = s.path
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(t0)
	}
	l := Open(opts)
	if !l.Active() {
		t.Fatalf("logger not active: %v", l.Err())
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestRetryAttemptIsOneSyslogLine(t *testing.T) {
	s := newSyslogSocket(t)
	l := open(t, s, Options{Tag: "ansible-retry_command", Module: "retry_command", Name: "deploy"})
	err := l.RetryAttempt(RetryAttempt{Attempt: 2, MaxAttempts: 5, ExitCode: 1, Took: 250 * time.Millisecond,
		Retry: true, NextDelay: 2 * time.Second, Err: errors.New("exit status 1")})
	if err != nil {
		t.Fatal(err)
	}
	// PRI 12 = facility user (1) * 8 + warning (4); the header is glibc's.
	want := fmt.Sprintf(`<12>Mar  1 12:00:05 ansible-retry_command[%d]: event=retry_attempt module=retry_command name=deploy `+
		`attempt=2 max_attempts=5 exit_code=1 took_seconds=0.25 next=retry delay_seconds=2 error="exit status 1"`, os.Getpid())
	if got := s.next(t); got != want {
		t.Errorf("line\n got %s\nwant %s", got, want)
	}
}

func TestEventHelpersLines(t *testing.T) {
	s := newSyslogSocket(t)
	l := open(t, s, Options{Module: "m", Name: "n", Facility: FacilityLocal3})
	prefix := fmt.Sprintf("Mar  1 12:00:05 m[%d]: ", os.Getpid())
	for _, tc := range []struct {
		log  func() error
		want string
	}{
		{func() error {
			return l.RetryAttempt(RetryAttempt{Attempt: 3, MaxAttempts: 3, ExitCode: 2, Took: time.Second, Stop: "exhausted"})
		}, "<156>" + prefix + "event=retry_attempt module=m name=n attempt=3 max_attempts=3 exit_code=2 took_seconds=1 next=give_up stop=exhausted"},
		{func() error {
			return l.RetryAttempt(RetryAttempt{Attempt: 1, ExitCode: 0, Took: time.Second, Succeeded: true})
		}, "<158>" + prefix + "event=retry_attempt module=m name=n attempt=1 max_attempts=0 exit_code=0 took_seconds=1 next=done"},
		{func() error {
			return l.RetryFinished(RetryFinished{Outcome: "timeout", Attempts: 4, ExitCode: -1, Delay: 7 * time.Second, Took: 9 * time.Second, Stop: "deadline"})
		}, "<155>" + prefix + "event=retry_finished module=m name=n outcome=timeout attempts=4 exit_code=-1 delay_seconds=7 took_seconds=9 stop=deadline"},
		{func() error {
			return l.GuardChange(GuardChange{From: "unlocked", To: "locked", Action: "lock", LockedAt: t0,
				ExpiresAt: t0.Add(time.Hour), Reason: "peak traffic", Owner: "alice"})
		}, "<157>" + prefix + `event=guard_state_change module=m name=n from=unlocked to=locked action=lock locked_at=2025-03-01T12:00:05Z ` +
			`expires_at=2025-03-01T13:00:05Z reason="peak traffic" owner=alice check_mode=false`},
		{func() error {
			return l.GuardChange(GuardChange{From: "unlocked", To: "locked", Action: "lock", LockedAt: t0,
				ExpiresAt: t0.Add(time.Hour), Reason: "promotion", Owner: "ci:7", Hold: true})
		}, "<157>" + prefix + `event=guard_state_change module=m name=n from=unlocked to=locked action=lock locked_at=2025-03-01T12:00:05Z ` +
			`expires_at=2025-03-01T13:00:05Z reason=promotion owner=ci:7 hold=true check_mode=false`},
		{func() error {
			return l.BreakGlass(BreakGlass{Guard: "/run/g", Owner: "alice", Reason: "hotfix INC-1", Locked: true, Lock: "rollback", Windows: []string{"nights", "launch"}})
		}, "<156>" + prefix + `event=guard_break_glass module=m name=n guard=/run/g owner=alice reason="hotfix INC-1" locked=true lock_reason=rollback windows=nights,launch`},
		{func() error {
			return l.SLOEvaluation(SLOEvaluation{Check: "error_ratio", Value: 0.02, Comparison: "<=", Threshold: 0.01, Samples: 1})
		}, "<156>" + prefix + `event=slo_evaluation module=m name=n check=error_ratio value=0.02 comparison="<=" threshold=0.01 passed=false samples=1`},
		{func() error {
			return l.SLOEvaluation(SLOEvaluation{Check: "health", Value: 0.999, Comparison: ">=", Threshold: 0.995, Passed: true, Evaluation: 3, Samples: 1})
		}, "<158>" + prefix + `event=slo_evaluation module=m name=n check=health value=0.999 comparison=">=" threshold=0.995 passed=true evaluation=3 samples=1`},
		{func() error {
			return l.SLOEvaluation(SLOEvaluation{Check: "health", Value: math.NaN(), Threshold: 0.99, Err: errors.New("no data")})
		}, "<156>" + prefix + `event=slo_evaluation module=m name=n check=health value=NaN threshold=0.99 passed=false error="no data"`},
		{func() error {
			return l.Rollback(Rollback{Outcome: "failure", Trigger: "error_ratio", ExitCode: 3, Took: 12 * time.Second})
		}, "<155>" + prefix + "event=rollback module=m name=n outcome=failure trigger=error_ratio exit_code=3 took_seconds=12"},
		{func() error { return l.Rollback(Rollback{Outcome: "success", Took: time.Second}) },
			"<157>" + prefix + "event=rollback module=m name=n outcome=success exit_code=0 took_seconds=1"},
	} {
		if err := tc.log(); err != nil {
			t.Fatal(err)
		}
		if got := s.next(t); got != tc.want {
			t.Errorf("\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestNoLogValuesNeverReachTheLog(t *testing.T) {
	const secret = "s3cr3t pass"
	mask := func(s string) string { return strings.ReplaceAll(s, secret, "********") }
	s := newSyslogSocket(t)
	l := open(t, s, Options{Module: "retry_command", Name: "job-" + secret, Mask: mask})
	l.RetryAttempt(RetryAttempt{Attempt: 1, Err: fmt.Errorf(`curl -u admin:%s failed`, secret)})
	l.GuardChange(GuardChange{From: "unlocked", To: "locked", Reason: `quote " and ` + secret})
	for i := 0; i < 2; i++ {
		line := s.next(t)
		if strings.Contains(line, "s3cr3t") {
			t.Fatalf("secret in log line: %s", line)
		}
		if !strings.Contains(line, "********") {
			t.Errorf("no mask in %s", line)
		}
	}
}

func TestDisabledLoggerWritesNothing(t *testing.T) {
	s := newSyslogSocket(t)
	quiet := Open(Options{SocketPath: s.path, Module: "m", Disabled: true})
	if quiet.Active() {
		t.Error("a no_log logger is active")
	}
	quiet.RetryAttempt(RetryAttempt{Attempt: 1})
	quiet.Event(LevelInfo, "anything")
	// The first line the socket receives must be the sentinel, not the
	// disabled logger's lines.
	open(t, s, Options{Module: "sentinel"}).Event(LevelInfo, "sentinel")
	if got := s.next(t); !strings.Contains(got, "event=sentinel") {
		t.Errorf("disabled logger wrote %q", got)
	}
}

func TestWithoutSystemLogEverythingIsANoOp(t *testing.T) {
	l := Open(Options{SocketPath: filepath.Join(t.TempDir(), "absent"), Module: "m"})
	if l.Active() || l.Err() == nil {
		t.Errorf("Active=%v Err=%v with no socket", l.Active(), l.Err())
	}
	if err := l.SLOEvaluation(SLOEvaluation{Check: "c"}); err != nil {
		t.Errorf("logging without a system log failed: %v", err)
	}
	var nilLogger *Logger
	if err := nilLogger.Rollback(Rollback{Outcome: "success"}); err != nil || nilLogger.Active() || nilLogger.Close() != nil {
		t.Error("nil logger is not a no-op")
	}
}

func TestStreamSocketGetsNewlineDelimitedLines(t *testing.T) {
	dir, err := os.MkdirTemp("", "log")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "log")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 2)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	l := Open(Options{SocketPath: path, Module: "m", Clock: clock.NewFake(t0)})
	defer l.Close()
	if !l.Active() {
		t.Fatal(l.Err())
	}
	l.Event(LevelInfo, "one")
	l.Event(LevelInfo, "two")
	for _, want := range []string{"event=one", "event=two"} {
		select {
		case got := <-lines:
			if !strings.HasSuffix(got, want+" module=m") {
				t.Errorf("got %q, want ...%s", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no line on the stream socket")
		}
	}
}

func TestReconnectsWhenTheDaemonRecreatesItsSocket(t *testing.T) {
	s := newSyslogSocket(t)
	l := open(t, s, Options{Module: "m"})
	l.Event(LevelInfo, "before")
	s.next(t)
	s.conn.Close()
	os.Remove(s.path)
	s.listen(t)
	if err := l.Event(LevelInfo, "after"); err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	if got := s.next(t); !strings.Contains(got, "event=after") {
		t.Errorf("got %q", got)
	}
}

func TestValuesCannotForgeFieldsOrLines(t *testing.T) {
	l := &Logger{opts: Options{Mask: func(s string) string { return s }}}
	got := l.Format("e", F("reason", "x passed=true\nevent=fake"), F("bad key=", 1), F("empty", ""), F("uni", "café"), F("nil", nil))
	want := `event=e reason="x passed=true\nevent=fake" bad_key_=1 empty="" uni="café"`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	long := l.Format("e", F("v", strings.Repeat("a", 2000)))
	if !strings.Contains(long, "...(truncated)") || len(long) > 600 {
		t.Errorf("value not cut: %d bytes", len(long))
	}
	many := make([]Field, 20)
	for i := range many {
		many[i] = F(fmt.Sprintf("k%d", i), strings.Repeat("b", 500))
	}
	if line := l.Format("e", many...); len(line) > maxLine || !strings.HasSuffix(line, "...(truncated)") {
		t.Errorf("line not cut: %d bytes", len(line))
	}
}

func TestParseFacility(t *testing.T) {
	for in, want := range map[string]Facility{"LOG_USER": FacilityUser, "log_local7": FacilityLocal7, "daemon": FacilityDaemon} {
		if got, err := ParseFacility(in); err != nil || got != want {
			t.Errorf("ParseFacility(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFacility("LOG_KERN"); err == nil || !strings.Contains(err.Error(), "LOG_LOCAL0") {
		t.Errorf("LOG_KERN accepted: %v", err)
	}
}
