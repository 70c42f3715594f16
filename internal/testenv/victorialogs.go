package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// VictoriaLogsVersion is the release scripts/install-deps.sh builds.
const VictoriaLogsVersion = "v1.52.1"

// VictoriaLogsBinary is where scripts/install-deps.sh builds victoria-logs
// (there is no Debian package): build/bin/victoria-logs in the repository,
// or else a victoria-logs on PATH.
func VictoriaLogsBinary() string {
	built := filepath.Join(RepoRoot(), "build", "bin", "victoria-logs")
	if _, err := os.Stat(built); err != nil {
		if p, err := exec.LookPath("victoria-logs"); err == nil {
			return p
		}
	}
	return built
}

// VictoriaLogs is a real single-node VictoriaLogs started for a test. Lines
// go in through its Loki-compatible push API, so their labels become stream
// fields ({job="..."}), as they would from Promtail or Grafana Alloy.
type VictoriaLogs struct {
	URL  string
	proc *Process
	opts VictoriaLogsOptions
}

// VictoriaLogsOptions configure StartVictoriaLogsWith.
type VictoriaLogsOptions struct {
	// Username and Password turn the server's basic auth on
	// (-httpAuth.*; the password is passed in a file, not on its command
	// line). Push sends them too.
	Username, Password string
}

// StartVictoriaLogs starts the server on a loopback port with its data in a
// temporary directory.
func StartVictoriaLogs(t testing.TB) *VictoriaLogs {
	t.Helper()
	return StartVictoriaLogsWith(t, VictoriaLogsOptions{})
}

// StartVictoriaLogsWith starts the server with opts.
func StartVictoriaLogsWith(t testing.TB, opts VictoriaLogsOptions) *VictoriaLogs {
	t.Helper()
	bin := VictoriaLogsBinary()
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s is required for this test: run scripts/install-deps.sh (it builds victoria-logs %s with go install)", bin, VictoriaLogsVersion)
	}
	dir := t.TempDir()
	port := FreePort(t)
	vl := &VictoriaLogs{URL: fmt.Sprintf("http://127.0.0.1:%d", port), opts: opts}
	args := []string{
		"-storageDataPath=" + filepath.Join(dir, "data"),
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port),
		"-retentionPeriod=100y",
		"-loggerLevel=ERROR",
	}
	if opts.Username != "" {
		secret := filepath.Join(dir, "http-password")
		writeFile0600(t, secret, []byte(opts.Password))
		args = append(args, "-httpAuth.username="+opts.Username, "-httpAuth.password=file://"+secret)
	}
	vl.proc = Start(t, dir, bin, args...)
	vl.proc.WaitHTTP(t, vl.URL+"/health")
	return vl
}

// LogLine is one line of a stream at a time.
type LogLine struct {
	Time time.Time
	Line string
}

// Push sends lines of one stream (its labels) through the Loki push API
// and flushes them, so queries see them at once.
func (vl *VictoriaLogs) Push(t testing.TB, labels map[string]string, lines []LogLine) {
	t.Helper()
	values := make([][2]string, len(lines))
	for i, l := range lines {
		values[i] = [2]string{strconv.FormatInt(l.Time.UnixNano(), 10), l.Line}
	}
	body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": labels, "values": values}}})
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(method, url string, body io.Reader) (*http.Response, error) {
		req, err := http.NewRequest(method, url, body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if vl.opts.Username != "" {
			req.SetBasicAuth(vl.opts.Username, vl.opts.Password)
		}
		return client.Do(req)
	}
	resp, err := send(http.MethodPost, vl.URL+"/insert/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("victoria-logs push: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("victoria-logs push: %s: %s", resp.Status, msg)
	}
	resp, err = send(http.MethodGet, vl.URL+"/internal/force_flush", nil)
	if err != nil {
		t.Fatalf("victoria-logs flush: %v", err)
	}
	resp.Body.Close()
}

// Stop ends the server.
func (vl *VictoriaLogs) Stop() { vl.proc.Stop() }
