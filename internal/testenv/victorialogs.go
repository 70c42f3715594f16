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
}

// StartVictoriaLogs starts the server on a loopback port with its data in a
// temporary directory.
func StartVictoriaLogs(t testing.TB) *VictoriaLogs {
	t.Helper()
	bin := VictoriaLogsBinary()
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s is required for this test: run scripts/install-deps.sh (it builds victoria-logs %s with go install)", bin, VictoriaLogsVersion)
	}
	dir := t.TempDir()
	port := FreePort(t)
	vl := &VictoriaLogs{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	vl.proc = Start(t, dir, bin,
		"-storageDataPath="+filepath.Join(dir, "data"),
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port),
		"-retentionPeriod=100y",
		"-loggerLevel=ERROR",
	)
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
	resp, err := client.Post(vl.URL+"/insert/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("victoria-logs push: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("victoria-logs push: %s: %s", resp.Status, msg)
	}
	resp, err = client.Get(vl.URL + "/internal/force_flush")
	if err != nil {
		t.Fatalf("victoria-logs flush: %v", err)
	}
	resp.Body.Close()
}

// Stop ends the server.
func (vl *VictoriaLogs) Stop() { vl.proc.Stop() }
