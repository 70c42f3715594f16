package moduletest

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/metrics/observe"
)

// Syslog is a unixgram socket standing in for /dev/log: modules log to it
// when $THREADER_GUARD_SYSLOG_SOCKET names it (Env).
type Syslog struct {
	Path string
	conn *net.UnixConn
}

// NewSyslog listens on a new socket, closed and removed when the test ends.
func NewSyslog(t testing.TB) *Syslog {
	t.Helper()
	// Not t.TempDir(): socket paths are limited to 108 bytes and test
	// names make those long.
	dir, err := os.MkdirTemp("", "tg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Syslog{Path: path, conn: conn}
}

// Env is the environment entry that points a module at the socket.
func (s *Syslog) Env() string { return observe.SyslogSocketEnv + "=" + s.Path }

// Next returns the next line sent to the socket; none within 10 s fails
// the test (the wait only bounds a broken test: the line is already sent).
func (s *Syslog) Next(t testing.TB) string {
	t.Helper()
	buf := make([]byte, 8192)
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := s.conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("no log line: %v", err)
	}
	return string(buf[:n])
}

// Lines returns the next n lines.
func (s *Syslog) Lines(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = s.Next(t)
	}
	return out
}

// WantInLine checks that a log line holds each of parts.
func WantInLine(t testing.TB, line string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Errorf("log line %q lacks %q", line, p)
		}
	}
}
