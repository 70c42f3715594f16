package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSHD is a real OpenSSH server on a free loopback port, with a host key and
// a client key generated for it, that lets the user running the tests (root
// in CI) log in with that key. Ansible reaches it with HostVars.
type SSHD struct {
	Port       int
	Dir        string // config, keys and log
	User       string // the login user
	ClientKey  string // private key file (ansible_ssh_private_key_file)
	KnownHosts string // known_hosts with the server's host key
	cmd        *exec.Cmd
	done       chan struct{}
}

// StartSSHD starts sshd for a test and stops it when the test ends. It fails
// the test, naming the Debian package, when OpenSSH is not installed.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	RequireBinary(t, "sshd", "openssh-server")
	RequireBinary(t, "ssh", "openssh-client")
	RequireBinary(t, "ssh-keygen", "openssh-client")
	port := FreePort(t)
	s, err := LaunchSSHD(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// LaunchSSHD starts sshd on 127.0.0.1:port with its files in dir, without a
// test (the benchmark uses it). Call Stop when done.
func LaunchSSHD(dir string, port int) (*SSHD, error) {
	sshd, err := lookProgram("sshd", "openssh-server")
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	s := &SSHD{Port: port, Dir: dir, User: u.Username, ClientKey: filepath.Join(dir, "id_ed25519"),
		KnownHosts: filepath.Join(dir, "known_hosts"), done: make(chan struct{})}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	for _, key := range []string{hostKey, s.ClientKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "threader-guard-test", "-f", key).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	if err := copyFile(s.ClientKey+".pub", filepath.Join(dir, "authorized_keys")); err != nil {
		return nil, err
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	fields := strings.Fields(string(pub))
	known := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, fields[0], fields[1])
	if err := os.WriteFile(s.KnownHosts, []byte(known), 0o600); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, []byte(s.config(hostKey)), 0o600); err != nil {
		return nil, err
	}
	// sshd wants its privilege separation directory; Debian creates it at boot.
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755)
	}
	log, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(sshd, "-D", "-e", "-f", config)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start sshd: %v", err)
	}
	go func() { s.cmd.Wait(); log.Close(); close(s.done) }()
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *SSHD) config(hostKey string) string {
	return fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
StrictModes no
UsePAM no
UseDNS no
PrintMotd no
PermitUserEnvironment no
MaxSessions 100
MaxStartups 200:30:400
Subsystem sftp %s
LogLevel ERROR
`, s.Port, hostKey, filepath.Join(s.Dir, "sshd.pid"), filepath.Join(s.Dir, "authorized_keys"), s.User, sftpServer())
}

func sftpServer() string {
	for _, p := range []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "internal-sftp"
}

// waitReady waits until sshd accepts a real login (not just a TCP connect),
// for at most 120 s (a bound for a broken test; logins are slow under load).
func (s *SSHD) waitReady() error {
	deadline := time.Now().Add(120 * time.Second)
	var last []byte
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.log"))
			return fmt.Errorf("sshd exited before it was ready:\n%s", log)
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.Close()
			out, err := exec.Command("ssh", append(s.SSHArgs(), "true")...).CombinedOutput()
			if err == nil {
				return nil
			}
			last = out
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("sshd on %s does not accept the test key after 120s: %s", s.Addr(), bytes.TrimSpace(last))
}

// Addr is host:port.
func (s *SSHD) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// SSHOptions are the ssh client options that trust this server's host key
// only and use the generated client key.
func (s *SSHD) SSHOptions() []string {
	return []string{"-o", "UserKnownHostsFile=" + s.KnownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"}
}

// SSHArgs are the arguments of a plain ssh command to the server, up to the
// remote command.
func (s *SSHD) SSHArgs() []string {
	return append(append([]string{"-i", s.ClientKey, "-p", fmt.Sprint(s.Port), "-l", s.User}, s.SSHOptions()...), "127.0.0.1")
}

// HostVars are inventory variables (INI style, one line) that make Ansible
// connect to this server over ssh.
func (s *SSHD) HostVars() string {
	return fmt.Sprintf("ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s ansible_ssh_common_args='%s'",
		s.Port, s.User, s.ClientKey, strings.Join(s.SSHOptions(), " "))
}

// Stop ends sshd and the sessions it forked.
func (s *SSHD) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// lookProgram is RequireBinary without a test.
func lookProgram(name, debianPackage string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(name + " is required: apt-get install -y " + debianPackage)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}
