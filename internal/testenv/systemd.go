package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The systemd a role's service is started under in the tests.
//
// No systemd runs as PID 1 on the test machines, so StartSystemd boots one as
// PID 1 of a new PID, mount, UTS and cgroup namespace, as a container manager
// would, and shares the rest: the network (its services reach the tests'
// loopback servers) and the file system, with these exceptions inside:
//
//   - /run and /etc/systemd/system are private tmpfs: unit files a role
//     writes there, the symlinks `systemctl enable` makes and the guard file
//     in /run vanish with the namespace; the host's enabled units are unseen;
//   - /sys/fs/cgroup is a cgroup2 subtree of the test's own (created on the
//     host's cgroup2 mount, removed afterwards);
//   - /dev/console is a pseudo-terminal whose output goes to Console;
//   - SystemdOptions.Bind: test directories bound over real ones.
//
// It boots only a test target, and it cannot start anything else: its unit
// search path is /etc/systemd/system, /run/systemd/system and UnitDir, never
// /lib/systemd/system, and no generator runs. The distribution's units —
// systemd-tmpfiles-setup (which empties /tmp at boot), udev, journald,
// timesyncd, sysctl, and every enabled service (sshd, etcd, Prometheus on
// their default ports) — are not found, even as dependencies. UnitDir holds
// empty stubs of the targets and the slice a service depends on
// (sysinit.target, basic.target, network-online.target, system.slice, ...).
// Without journald, a service's stdout and stderr go nowhere unless a test
// drop-in in UnitDir sends them to a file.
type Systemd struct {
	PID     int    // the host's PID of the namespace's PID 1, systemd
	UnitDir string // in the unit search path, on the test's temp dir: stubs and test drop-ins
	Console string // systemd's own log

	nsenter string
	cgroup  string // the namespace's cgroup subtree on the host
	cmd     *exec.Cmd
	done    chan struct{}
}

// SystemdOptions configures StartSystemd.
type SystemdOptions struct {
	// Bind maps a directory inside the namespace to a test directory bound
	// over it (for a role's default paths such as /usr/local/sbin).
	Bind map[string]string
}

// systemdBinary is the service manager the namespace boots.
const systemdBinary = "/lib/systemd/systemd"

// systemdStubs are the units every service depends on (DefaultDependencies,
// WantedBy=multi-user.target, network-online.target), empty, plus the test's
// target; nothing wants anything.
var systemdStubs = []string{"threader-guard-test.target", "sysinit.target", "basic.target", "network.target",
	"network-online.target", "multi-user.target", "shutdown.target", "system.slice"}

// systemdInit runs as PID 1 of the new namespaces, before systemd:
// $1 the terminal that becomes /dev/console, then pairs of (test directory,
// directory in the namespace) to bind.
const systemdInit = `set -eu
mount --make-rprivate /
mount -t proc proc /proc
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system /run/threader-guard-test-no-generators
mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system
mount --bind "$1" /dev/console
shift
while [ $# -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
# A cgroup namespace rooted at the subtree this process was started in, and
# a cgroup2 mount of it: systemd sees a unified hierarchy of its own.
exec "$UNSHARE" --cgroup sh -c 'umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"' sh "$SYSTEMD" \
	--system --unit=threader-guard-test.target --log-target=console --log-color=no --show-status=no
`

// StartSystemd boots systemd in new namespaces (see Systemd) and waits until
// it runs with nothing but the test target active; the namespace is killed
// and everything it left removed when the test ends. It needs root and
// /lib/systemd/systemd, and skips the test without them, saying which.
func StartSystemd(t testing.TB, opts SystemdOptions) *Systemd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a real systemd runs as PID 1 of new PID, mount and cgroup namespaces (make test in CI runs as root)")
	}
	if _, err := os.Stat(systemdBinary); err != nil {
		t.Skipf("needs a real systemd (%s; Debian: apt-get install -y systemd): %v", systemdBinary, err)
	}
	s := &Systemd{UnitDir: t.TempDir(), Console: filepath.Join(t.TempDir(), "console.log"),
		nsenter: RequireBinary(t, "nsenter", "util-linux"), done: make(chan struct{})}
	for _, name := range systemdStubs {
		unit := "[Unit]\nDescription=threader.guard test stub of " + name + "\nDefaultDependencies=no\n"
		if err := os.WriteFile(filepath.Join(s.UnitDir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.cgroup = filepath.Join(cgroup2Mount(t), "threader-guard-test-systemd-"+strconv.Itoa(os.Getpid())+"-"+filepath.Base(s.UnitDir))
	if err := os.Mkdir(s.cgroup, 0o755); err != nil {
		t.Fatalf("cgroup for systemd: %v", err)
	}
	t.Cleanup(func() { // after stop: the namespace's processes are gone
		if err := removeCgroupTree(s.cgroup); err != nil {
			t.Errorf("removing systemd's cgroup subtree: %v", err)
		}
	})
	privateTmp := privateTmpDirs()
	s.start(t, opts)
	t.Cleanup(func() { s.stop(t, privateTmp) })
	s.waitRunning(t)
	if out, _ := s.Run(t, "systemctl", "list-units", "--state=active", "--type=service,socket,timer,path,automount",
		"--plain", "--no-legend", "--no-pager"); strings.TrimSpace(out) != "" {
		t.Fatalf("systemd in the test namespace started units besides the test target:\n%s", out)
	}
	return s
}

// start runs systemdInit, then systemd, in new PID, mount and UTS namespaces
// and in the cgroup s.cgroup, with a pseudo-terminal as its console.
func (s *Systemd) start(t testing.TB, opts SystemdOptions) {
	t.Helper()
	cgroupDir, err := os.Open(s.cgroup)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroupDir.Close()
	console, err := newConsole(s.Console)
	if err != nil {
		t.Fatalf("a console for systemd: %v", err)
	}
	args := []string{"-c", systemdInit, "init", console.terminal}
	for inside, dir := range opts.Bind {
		args = append(args, dir, inside)
	}
	s.cmd = exec.Command("/bin/sh", args...)
	s.cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SYSTEMD=" + systemdBinary,
		"UNSHARE=" + RequireBinary(t, "unshare", "util-linux"),
		"SYSTEMD_UNIT_PATH=/etc/systemd/system:/run/systemd/system:" + s.UnitDir,
		"SYSTEMD_GENERATOR_PATH=/run/threader-guard-test-no-generators",
		"SYSTEMD_ENVIRONMENT_GENERATOR_PATH=/run/threader-guard-test-no-generators",
		// What container managers tell systemd: no hardware, clock or kernel
		// module setup.
		"container=threader-guard-test",
	}
	s.cmd.Stdout, s.cmd.Stderr = console.log, console.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS,
		UseCgroupFD: true,
		CgroupFD:    int(cgroupDir.Fd()),
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := s.cmd.Start(); err != nil {
		console.close()
		t.Fatalf("start systemd in new namespaces: %v", err)
	}
	s.PID = s.cmd.Process.Pid
	go func() {
		s.cmd.Wait()
		console.close()
		close(s.done)
	}()
}

// console is a pseudo-terminal whose output is copied to a log file.
// systemd logs to /dev/console only if it is a terminal.
type console struct {
	terminal string
	log      *os.File
	master   *os.File
	held     *os.File // the terminal, open: reading a master whose terminal no one has open fails at once
	copied   chan struct{}
}

func newConsole(logPath string) (*console, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	master, terminal, err := openPseudoTerminal()
	if err != nil {
		log.Close()
		return nil, err
	}
	held, err := os.OpenFile(terminal, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		log.Close()
		return nil, err
	}
	c := &console{terminal: terminal, log: log, master: master, held: held, copied: make(chan struct{})}
	go func() { io.Copy(log, master); close(c.copied) }()
	return c, nil
}

// close closes the terminal once the processes that had it open are gone:
// the copy reads the rest, then fails (EIO) and ends.
func (c *console) close() {
	c.held.Close()
	<-c.copied
	c.master.Close()
	c.log.Close()
}

// openPseudoTerminal opens a new pseudo-terminal: its master, and the path
// of its terminal.
func openPseudoTerminal() (*os.File, string, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, "", err
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, "", err
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, "", err
	}
	return master, "/dev/pts/" + strconv.Itoa(n), nil
}

// cgroup2Mount is where the host has the unified cgroup hierarchy.
func cgroup2Mount(t testing.TB) string {
	t.Helper()
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir
		}
	}
	t.Skip("needs a cgroup2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified) for systemd in a cgroup namespace")
	return ""
}

// privateTmpDirs lists the PrivateTmp= directories (systemd-private-*) in
// /tmp and /var/tmp, which systemd makes on the shared file system.
func privateTmpDirs() map[string]bool {
	dirs := map[string]bool{}
	for _, pattern := range []string{"/tmp/systemd-private-*", "/var/tmp/systemd-private-*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			dirs[m] = true
		}
	}
	return dirs
}

// waitRunning waits until systemd has booted the test target
// (is-system-running: running, or degraded if a unit failed), or fails with
// its log after 120 s (a bound for a broken test; booting is slow under load).
func (s *Systemd) waitRunning(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var state string
	for time.Now().Before(deadline) {
		if s.exited() {
			t.Fatalf("systemd exited while booting:\n%s", s.Log())
		}
		out, _ := s.Run(t, "systemctl", "is-system-running")
		state = strings.TrimSpace(out)
		if state == "running" || state == "degraded" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("systemd not running after 120 s (is-system-running: %q):\n%s", state, s.Log())
}

// Command is name with args, to be run inside the namespace (nsenter into
// its PID and mount namespaces), so that systemctl talks to this systemd and
// paths are the namespace's.
func (s *Systemd) Command(name string, args ...string) *exec.Cmd {
	return exec.Command(s.nsenter, append([]string{"--target", strconv.Itoa(s.PID), "--pid", "--mount", "--", name}, args...)...)
}

// Run runs a command inside the namespace to completion and returns its
// combined output and exit code.
func (s *Systemd) Run(t testing.TB, name string, args ...string) (string, int) {
	t.Helper()
	cmd := s.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("nsenter %s: %v", name, err)
	}
	return out.String(), 0
}

// Systemctl runs systemctl inside the namespace and returns its trimmed
// output; it fails the test unless the exit code is one of okCodes (0 if none
// given).
func (s *Systemd) Systemctl(t testing.TB, okCodes []int, args ...string) string {
	t.Helper()
	out, code := s.Run(t, "systemctl", append([]string{"--no-pager"}, args...)...)
	if len(okCodes) == 0 {
		okCodes = []int{0}
	}
	for _, ok := range okCodes {
		if code == ok {
			return strings.TrimSpace(out)
		}
	}
	t.Fatalf("systemctl %s exited %d:\n%s", strings.Join(args, " "), code, out)
	return ""
}

// Log returns the end of what systemd logged so far.
func (s *Systemd) Log() string {
	data, _ := os.ReadFile(s.Console)
	return tail(strings.ReplaceAll(string(data), "\r\n", "\n"))
}

func (s *Systemd) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop stops the services (so systemd removes their PrivateTmp directories),
// kills the namespace's PID 1 (the kernel kills every process in the
// namespace with it), and removes the PrivateTmp directories of this
// systemd's services that are left (systemd removes them in the background,
// which the kill may interrupt). A process of the namespace that survives is
// an error.
func (s *Systemd) stop(t testing.TB, privateTmpBefore map[string]bool) {
	var services []string
	if !s.exited() {
		for _, line := range strings.Split(s.runBounded("systemctl", "list-units", "--all", "--type=service", "--plain", "--no-legend"), "\n") {
			if fields := strings.Fields(line); len(fields) > 0 {
				services = append(services, fields[0])
			}
		}
		s.runBounded("systemctl", "stop", "*.service")
		nsPID, _ := os.Readlink("/proc/" + strconv.Itoa(s.PID) + "/ns/pid")
		syscall.Kill(s.PID, syscall.SIGKILL)
		<-s.done
		if left := processesIn(nsPID); nsPID != "" && len(left) > 0 {
			t.Errorf("processes of systemd's namespace still run after its PID 1 was killed: %v", left)
		}
	}
	// systemd-private-BOOTID-UNIT-RANDOM; another test's systemd may have
	// made some meanwhile, for units of other names.
	for dir := range privateTmpDirs() {
		for _, unit := range services {
			if !privateTmpBefore[dir] && strings.Contains(filepath.Base(dir), "-"+unit+"-") {
				t.Logf("removing %s, left by %s", dir, unit)
				os.RemoveAll(dir)
			}
		}
	}
}

// runBounded runs a command inside the namespace for at most 30 s, for the
// cleanup, which must not hang; it returns the command's output.
func (s *Systemd) runBounded(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.nsenter, append([]string{"--target", strconv.Itoa(s.PID), "--pid", "--mount", "--", name}, args...)...)
	out, _ := cmd.Output()
	return string(out)
}

// processesIn lists the host PIDs of processes in the PID namespace nsPID
// (a /proc/PID/ns/pid link text such as "pid:[4026532]").
func processesIn(nsPID string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && ns == nsPID {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// removeCgroupTree removes a cgroup and its descendants, deepest first
// (cgroup directories go with rmdir once empty of processes).
func removeCgroupTree(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	var first error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) && first == nil {
			first = err
		}
	}
	return first
}
