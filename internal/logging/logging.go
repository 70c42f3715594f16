// Package logging writes one structured line per event (a retry attempt, a
// guard state change, an SLO evaluation, a rollback) to the system log, the
// way Ansible's own modules log their invocations to syslog or the journal.
//
// Lines are logfmt (key=value, values quoted when needed), sent as syslog
// messages over the local socket /dev/log, which rsyslog and
// systemd-journald both serve. When there is no system log the Logger does
// nothing: logging must never fail a module. Every value passes through the
// Mask function before it is written, and a Logger opened for a task with
// no_log writes nothing at all (as AnsibleModule.log does).
//
//	log := logging.Open(logging.Options{Tag: "ansible-retry_command", Module: "retry_command",
//		Name: name, Mask: m.Mask, Disabled: m.NoLog})
//	defer log.Close()
//	log.RetryAttempt(logging.RetryAttempt{Attempt: 2, MaxAttempts: 5, ExitCode: 1, NextDelay: 2 * time.Second})
//
// A journald query for the lines: journalctl -t ansible-retry_command.
package logging

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/threader/guard/internal/clock"
)

// DefaultSocket is the system log socket of Linux (rsyslog, syslog-ng and
// systemd-journald all serve it).
const DefaultSocket = "/dev/log"

// maxLine keeps a message well under the smallest datagram size syslog
// daemons accept; longer lines are cut and marked.
const maxLine = 4096

// maxValue bounds one value, so one long value cannot crowd out the rest.
const maxValue = 512

// Level is a syslog severity.
type Level int

// Severities used by the events (RFC 5424 numbers).
const (
	LevelError   Level = 3
	LevelWarning Level = 4
	LevelNotice  Level = 5
	LevelInfo    Level = 6
	LevelDebug   Level = 7
)

// Facility is a syslog facility code (RFC 5424 number).
type Facility int

// Facilities modules are configured with. LOG_USER is Ansible's default
// (syslog_facility / _ansible_syslog_facility).
const (
	FacilityUser   Facility = 1
	FacilityDaemon Facility = 3
	FacilityAuth   Facility = 4
	FacilityLocal0 Facility = 16
	FacilityLocal1 Facility = 17
	FacilityLocal2 Facility = 18
	FacilityLocal3 Facility = 19
	FacilityLocal4 Facility = 20
	FacilityLocal5 Facility = 21
	FacilityLocal6 Facility = 22
	FacilityLocal7 Facility = 23
)

// ParseFacility maps Ansible's facility names ("LOG_USER", "LOG_LOCAL0",
// also without the LOG_ prefix, any case) to a Facility.
func ParseFacility(s string) (Facility, error) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "LOG_")
	names := map[string]Facility{"USER": FacilityUser, "DAEMON": FacilityDaemon, "AUTH": FacilityAuth,
		"LOCAL0": FacilityLocal0, "LOCAL1": FacilityLocal1, "LOCAL2": FacilityLocal2, "LOCAL3": FacilityLocal3,
		"LOCAL4": FacilityLocal4, "LOCAL5": FacilityLocal5, "LOCAL6": FacilityLocal6, "LOCAL7": FacilityLocal7}
	if f, ok := names[name]; ok {
		return f, nil
	}
	return 0, fmt.Errorf("syslog facility %q is not one of LOG_USER, LOG_DAEMON, LOG_AUTH, LOG_LOCAL0 ... LOG_LOCAL7", s)
}

// Options configure a Logger. All fields are optional.
type Options struct {
	// Tag is the syslog identifier (journald's SYSLOG_IDENTIFIER).
	// Ansible's modules use "ansible-<module>". Empty means Module.
	Tag string
	// Module and Name are written as module= and name= on every line, so
	// lines of one task can be found (name is the user-given name).
	Module, Name string
	// SocketPath is the system log socket. Empty means /dev/log. Tests point
	// it at a socket they create.
	SocketPath string
	// Facility defaults to FacilityUser.
	Facility Facility
	// Mask hides no_log values; every value and the final line pass through
	// it (ansiblemod's Module.Mask fits). Nil masks nothing.
	Mask func(string) string
	// Disabled turns every call into a no-op: set it from the task's
	// no_log (ansiblemod Module.NoLog), as AnsibleModule.log does.
	Disabled bool
	// Clock stamps the syslog header. Nil means the wall clock.
	Clock clock.Clock
}

// Logger sends events to the system log. The zero value and a nil *Logger
// discard everything, so optional logging needs no nil checks.
type Logger struct {
	opts Options
	pid  int

	mu     sync.Mutex
	conn   net.Conn
	stream bool  // conn is a stream socket: messages need a delimiter
	err    error // why the socket could not be opened, if it could not
}

// Open connects to the system log socket. It never fails: with no socket
// (or Disabled) the Logger discards lines, and Err says why.
func Open(opts Options) *Logger {
	if opts.SocketPath == "" {
		opts.SocketPath = DefaultSocket
	}
	if opts.Tag == "" {
		opts.Tag = opts.Module
	}
	if opts.Facility == 0 {
		opts.Facility = FacilityUser
	}
	if opts.Mask == nil {
		opts.Mask = func(s string) string { return s }
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	l := &Logger{opts: opts, pid: os.Getpid()}
	if opts.Disabled {
		l.err = errors.New("logging disabled (no_log)")
		return l
	}
	l.conn, l.stream, l.err = dial(opts.SocketPath)
	return l
}

// dial tries a datagram socket first (rsyslog, journald), then a stream
// socket (some syslog-ng setups), as glibc's syslog(3) does.
func dial(path string) (conn net.Conn, stream bool, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, false, fmt.Errorf("no system log: %w", err)
	}
	if conn, err = net.Dial("unixgram", path); err == nil {
		return conn, false, nil
	}
	if sconn, serr := net.Dial("unix", path); serr == nil {
		return sconn, true, nil
	}
	return nil, false, fmt.Errorf("system log socket %s: %w", path, err)
}

// Active reports whether lines reach a system log.
func (l *Logger) Active() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn != nil
}

// Err says why the Logger is not active (nil when it is).
func (l *Logger) Err() error {
	if l == nil {
		return errors.New("no logger")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close releases the socket.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close()
	l.conn = nil
	return err
}

// Field is one key=value pair of a line. Keys are fixed identifiers chosen
// by the code; values come from anywhere and are masked.
type Field struct {
	Key   string
	Value any
}

// F makes a Field.
func F(key string, value any) Field { return Field{key, value} }

// Event writes one line: event=EVENT module=… name=… followed by fields.
// It returns the write error for tests; modules may ignore it, since a
// broken system log must not fail a deployment.
func (l *Logger) Event(level Level, event string, fields ...Field) error {
	if l == nil || l.opts.Disabled {
		return nil
	}
	line := l.Format(event, fields...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	msg := l.frame(level, line)
	if _, err := l.conn.Write(msg); err != nil {
		// The daemon may have restarted (journald re-creates its socket):
		// reconnect once and retry before giving up.
		l.conn.Close()
		l.conn, l.stream, l.err = dial(l.opts.SocketPath)
		if l.conn == nil {
			return fmt.Errorf("system log: %w", err)
		}
		if _, err := l.conn.Write(l.frame(level, line)); err != nil {
			return fmt.Errorf("system log: %w", err)
		}
	}
	return nil
}

// Format renders the logfmt line Event would send, without the syslog
// header: event, module and name first, then fields in the given order.
func (l *Logger) Format(event string, fields ...Field) string {
	mask := func(s string) string { return s }
	var module, name string
	if l != nil {
		mask, module, name = l.opts.Mask, l.opts.Module, l.opts.Name
	}
	var b strings.Builder
	b.WriteString("event=")
	b.WriteString(quote(mask(event)))
	if module != "" {
		b.WriteString(" module=" + quote(mask(module)))
	}
	if name != "" {
		b.WriteString(" name=" + quote(mask(name)))
	}
	for _, f := range fields {
		if f.Value == nil {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(safeKey(f.Key))
		b.WriteByte('=')
		b.WriteString(quote(truncate(mask(valueString(f.Value)), maxValue)))
	}
	// Masking the whole line too catches a secret split across a value
	// boundary; masking each value first catches one that quoting changes.
	return truncate(mask(b.String()), maxLine)
}

// frame adds the header glibc's syslog(3) sends on the local socket:
// <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG. journald and rsyslog parse it.
func (l *Logger) frame(level Level, line string) []byte {
	pri := int(l.opts.Facility)*8 + int(level)
	ts := l.opts.Clock.Now().Format(time.Stamp)
	msg := fmt.Sprintf("<%d>%s %s[%d]: %s", pri, ts, l.opts.Tag, l.pid, line)
	if l.stream {
		msg += "\n" // a stream socket needs a delimiter; a datagram is one message
	}
	return []byte(msg)
}

func valueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	case time.Duration:
		return strconv.FormatFloat(x.Seconds(), 'f', -1, 64)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case bool:
		return strconv.FormatBool(x)
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// quote leaves simple values bare and quotes the rest Go-style, so a value
// cannot forge another key=value pair or break the line.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r <= ' ' || r == '=' || r == '"' || r == '\\' || r == utf8.RuneError || unicode.IsControl(r) || r > unicode.MaxASCII {
			return strconv.Quote(s)
		}
	}
	return s
}

// safeKey keeps keys to [A-Za-z0-9_.-] so a key cannot break the line either.
func safeKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r == '_' || r == '.' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "...(truncated)"
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
