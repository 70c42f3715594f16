package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EtcdCluster is a real etcd cluster (Debian package etcd-server) of
// EtcdMembers members on loopback ports, with its data in the test's temp
// dir, started for a test and stopped when it ends. Members can be killed,
// paused and restarted to test what a client sees when the cluster fails.
type EtcdCluster struct {
	Members []*EtcdMember
	// TLS is set when the cluster serves clients over TLS with client
	// certificates (EtcdOptions.TLS).
	TLS *EtcdTLS
	t   testing.TB
	bin string
}

// EtcdMember is one member of an EtcdCluster.
type EtcdMember struct {
	Name      string
	ClientURL string // what clients dial
	PeerURL   string
	HealthURL string // plain HTTP /health, also under TLS
	args      []string
	proc      *Process
	stopped   bool // SIGSTOPped
}

// EtcdMembers is the size of every test cluster: the smallest that keeps a
// quorum with one member down.
const EtcdMembers = 3

// EtcdOptions says how the cluster starts.
type EtcdOptions struct {
	// TLS serves clients over TLS, requiring a client certificate signed
	// by the test CA (peers talk plain HTTP on loopback).
	TLS bool
}

// StartEtcd starts a three-member cluster and waits until every member is
// healthy (a leader is elected). The test fails if etcd is not installed.
func StartEtcd(t testing.TB, opts EtcdOptions) *EtcdCluster {
	t.Helper()
	bin := RequireBinary(t, "etcd", "etcd-server")
	dir := t.TempDir()
	c := &EtcdCluster{t: t, bin: bin}
	if opts.TLS {
		c.TLS = NewEtcdTLS(t, filepath.Join(dir, "tls"))
	}
	scheme := "http"
	if c.TLS != nil {
		scheme = "https"
	}
	var initial []string
	for i := range EtcdMembers {
		m := &EtcdMember{
			Name:      fmt.Sprintf("m%d", i+1),
			ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, FreePort(t)),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
			HealthURL: fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = []string{
			"--name=" + m.Name,
			"--data-dir=" + filepath.Join(dir, m.Name),
			"--listen-client-urls=" + m.ClientURL,
			"--advertise-client-urls=" + m.ClientURL,
			"--listen-peer-urls=" + m.PeerURL,
			"--initial-advertise-peer-urls=" + m.PeerURL,
			"--listen-metrics-urls=" + m.HealthURL,
			"--initial-cluster=" + strings.Join(initial, ","),
			"--initial-cluster-state=new",
			"--initial-cluster-token=" + filepath.Base(dir),
			"--logger=zap", "--log-outputs=stderr", "--log-level=warn",
		}
		if c.TLS != nil {
			m.args = append(m.args,
				"--cert-file="+c.TLS.ServerCert, "--key-file="+c.TLS.ServerKey,
				"--trusted-ca-file="+c.TLS.CACert, "--client-cert-auth")
		}
		m.start(t, bin, dir)
	}
	c.WaitHealthy()
	return c
}

func (m *EtcdMember) start(t testing.TB, bin, dir string) {
	m.proc = Start(t, dir, bin, m.args...)
	m.stopped = false
}

// Endpoints are the members' client URLs, in member order.
func (c *EtcdCluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

// Healthy reports whether the member answers /health with a leader known
// and a quorum reachable.
func (m *EtcdMember) Healthy() bool {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(m.HealthURL + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct{ Health string }
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil && h.Health == "true"
}

// WaitHealthy waits up to 120 s (a bound for a broken test, generous for a
// loaded machine) until every running member is healthy.
func (c *EtcdCluster) WaitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for _, m := range c.Members {
		for !m.proc.Exited() && !m.Healthy() {
			if time.Now().After(deadline) {
				c.t.Fatalf("etcd member %s not healthy after 120s:\n%s", m.Name, tail(m.proc.Output()))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if m.proc.Exited() {
			c.t.Fatalf("etcd member %s exited:\n%s", m.Name, tail(m.proc.Output()))
		}
	}
}

// Kill ends the member with SIGKILL, as a crash would, and waits for it.
func (c *EtcdCluster) Kill(m *EtcdMember) {
	syscall.Kill(m.proc.Cmd.Process.Pid, syscall.SIGKILL)
	<-m.proc.done
}

// Pause stops the member with SIGSTOP: it keeps its sockets open and
// answers nothing, as a hung or partitioned machine would.
func (c *EtcdCluster) Pause(m *EtcdMember) {
	syscall.Kill(m.proc.Cmd.Process.Pid, syscall.SIGSTOP)
	m.stopped = true
}

// Resume continues a paused member (SIGCONT).
func (c *EtcdCluster) Resume(m *EtcdMember) {
	syscall.Kill(m.proc.Cmd.Process.Pid, syscall.SIGCONT)
	m.stopped = false
}

// Restart starts a killed member again on its data directory and ports.
func (c *EtcdCluster) Restart(m *EtcdMember) {
	c.t.Helper()
	if !m.proc.Exited() {
		c.t.Fatalf("etcd member %s is still running", m.Name)
	}
	m.start(c.t, c.bin, filepath.Dir(dataDir(m.args)))
}

func dataDir(args []string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			return v
		}
	}
	return ""
}

// Leader returns the member that is leader now, asking each running,
// unpaused member's /metrics (etcd_server_is_leader); it fails the test
// when none is after 120 s (elections take longer on a loaded machine).
func (c *EtcdCluster) Leader() *EtcdMember {
	c.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.Members {
			if m.stopped || m.proc.Exited() {
				continue
			}
			if isLeader(m) {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatal("no etcd leader after 120s")
	return nil
}

func isLeader(m *EtcdMember) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(m.HealthURL + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "etcd_server_is_leader 1" {
			return true
		}
	}
	return false
}

// Followers returns the running members that are not the leader.
func (c *EtcdCluster) Followers() []*EtcdMember {
	c.t.Helper()
	leader := c.Leader()
	var out []*EtcdMember
	for _, m := range c.Members {
		if m != leader && !m.proc.Exited() {
			out = append(out, m)
		}
	}
	return out
}

// writeFile0600 writes a private file (keys) for the test.
func writeFile0600(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
