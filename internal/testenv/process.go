// Package testenv starts the real programs tests need — Prometheus, sshd,
// etcd, ansible-playbook — on loopback ports in temporary directories, and
// stops them when the test ends. A missing program fails the test with the
// Debian package that provides it: a test that silently skips cannot fail.
package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot is the repository's top directory (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RequireBinary returns the path of a program, or fails the test naming the
// Debian package to install.
func RequireBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s is required for this test: apt-get install -y %s (or run make test, which installs it)", name, debianPackage)
	return ""
}

// Ports of the servers tests start. make test runs several test binaries at
// once (the main suite's packages side by side, and the ansible-core matrix's
// copies of tests/ beside them), and a port that was free when FreePort
// looked can be taken before the server binds it: by another binary's
// FreePort, by any bind to port 0 (httptest servers) or by the local end of
// an outgoing connection, which the kernel picks from its ephemeral range.
// So FreePort picks at random below (or above) that range
// (net.ipv4.ip_local_port_range), and reserves each port it hands out across
// processes with an flock on a file named after it in UserStateDir, until
// the test that asked for it ends. Within a process, no port is handed out
// twice.
var (
	portMu    sync.Mutex
	usedPorts = map[int]bool{}
)

// FreePort returns a loopback TCP port that was free a moment ago, outside
// the kernel's ephemeral range, reserved against every other test process of
// this user until t ends, and that this process has not handed out before.
func FreePort(t testing.TB) int {
	t.Helper()
	port, release, err := ReservePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return port
}

// ReservePort is FreePort without a test (the benchmark uses it): the port
// stays reserved until release is called or the process ends.
func ReservePort() (port int, release func(), err error) {
	portMu.Lock()
	defer portMu.Unlock()
	dir, err := UserStateDir()
	if err != nil {
		return 0, nil, fmt.Errorf("port reservations: %v", err)
	}
	ranges := reservablePorts()
	for range 500 {
		port, err := pickPort(ranges)
		if err != nil {
			return 0, nil, err
		}
		if usedPorts[port] {
			continue
		}
		lock, ok, err := reservePort(dir, port)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			lock.Close()
			continue
		}
		l.Close()
		usedPorts[port] = true
		return port, func() { lock.Close() }, nil
	}
	return 0, nil, errors.New("no free port after 500 tries")
}

// portRange is [lo, hi] of ports.
type portRange struct{ lo, hi int }

// reservablePorts are the ports from 10000 up outside the kernel's ephemeral
// range; none (pickPort then asks the kernel) if it cannot be read or leaves
// too few.
func reservablePorts() []portRange {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return nil
	}
	var ephemeralLo, ephemeralHi int
	if _, err := fmt.Sscan(string(data), &ephemeralLo, &ephemeralHi); err != nil {
		return nil
	}
	var out []portRange
	total := 0
	for _, r := range []portRange{{10000, ephemeralLo - 1}, {ephemeralHi + 1, 65535}} {
		if r.lo < 10000 {
			r.lo = 10000
		}
		if r.hi >= r.lo {
			out = append(out, r)
			total += r.hi - r.lo + 1
		}
	}
	if total < 2000 {
		return nil
	}
	return out
}

// pickPort picks a random port of ranges, or one the kernel finds free if
// there are no ranges.
func pickPort(ranges []portRange) (int, error) {
	if len(ranges) == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("no free port: %v", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	total := 0
	for _, r := range ranges {
		total += r.hi - r.lo + 1
	}
	n := rand.IntN(total)
	for _, r := range ranges {
		if size := r.hi - r.lo + 1; n >= size {
			n -= size
		} else {
			return r.lo + n, nil
		}
	}
	return ranges[0].lo, nil
}

var (
	stateDirOnce sync.Once
	stateDir     string
	stateDirErr  error
)

// UserStateDir is the directory where this user's test processes, several
// at once under make test, coordinate (port reservations, the binary
// cache's clean-up): in the system's temporary directory, so that every test
// binary finds it, and private to the user. One that is not (another user
// could hold or fake what is in it) is an error.
func UserStateDir() (string, error) {
	stateDirOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("threader-guard-tests-%d", os.Geteuid()))
		os.Mkdir(dir, 0o700)
		fi, err := os.Lstat(dir)
		switch {
		case err != nil:
			stateDirErr = err
		case !fi.IsDir() || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()):
			stateDirErr = fmt.Errorf("%s is not a directory private to uid %d (mode %v): remove it", dir, os.Geteuid(), fi.Mode())
		default:
			stateDir = dir
		}
	})
	return stateDir, stateDirErr
}

// reservePort takes the reservation of port (an exclusive flock, which ends
// with the file's closing or the process), or reports that another process
// of this user holds it.
func reservePort(dir string, port int) (*os.File, bool, error) {
	f, err := openLockFile(filepath.Join(dir, "port-"+strconv.Itoa(port)))
	if err != nil {
		return nil, false, fmt.Errorf("port reservations: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false, nil
	}
	return f, true, nil
}

// Process is a program started for a test.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // combined stdout and stderr
	done chan struct{}
}

// Start runs a program in its own process group, logging to a file in the
// test's temp dir, and stops it (the whole group) when the test ends.
func Start(t testing.TB, dir string, name string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: filepath.Base(name), Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); logFile.Close(); close(p.done) }()
	t.Cleanup(p.Stop)
	return p
}

// Stop ends the process group: SIGTERM, then SIGKILL after 5 s.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process logged so far.
func (p *Process) Output() string {
	data, _ := os.ReadFile(p.Log)
	return string(data)
}

// WaitHTTP polls url until it answers 200, the process dies, or 120 s pass
// (a bound for a broken test: a server starting on a loaded machine may take
// tens of seconds, and waiting costs nothing when it is fast).
func (p *Process) WaitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatalf("%s exited before it was ready:\n%s", p.Name, tail(p.Output()))
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s after 120s:\n%s", p.Name, url, tail(p.Output()))
}

// WaitTCP polls until addr accepts connections, the process dies, or 120 s
// pass (a bound for a broken test, as in WaitHTTP).
func (p *Process) WaitTCP(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatalf("%s exited before it was ready:\n%s", p.Name, tail(p.Output()))
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not listening on %s after 120s:\n%s", p.Name, addr, tail(p.Output()))
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// Run runs a command to completion and returns its combined output and exit code.
func Run(t testing.TB, env []string, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), ExitCode(t, err)
}

// RunCmd runs cmd to completion (it sets Stdout and Stderr) and returns
// what it wrote to each and its exit code.
func RunCmd(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code = ExitCode(t, cmd.Run())
	return out.String(), errOut.String(), code
}

// ExitCode is the exit code that a command's Run or Wait error says (0
// for nil); an error that is not an exit status (the command could not be
// started) fails the test.
func ExitCode(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return 0
}

// Must fails the test with output when a command does not exit 0.
func Must(t testing.TB, out string, code int, what string) string {
	t.Helper()
	if code != 0 {
		t.Fatalf("%s exited %d:\n%s", what, code, out)
	}
	return out
}

// Sprintf is fmt.Sprintf, for templating test files tersely.
var Sprintf = fmt.Sprintf

// openLockFile opens (creating it) a file to flock, never through a symlink.
func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
}
