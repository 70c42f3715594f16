package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// VictoriaMetrics is a real single-node VictoriaMetrics (Debian package
// victoria-metrics) started for a test, as a second Prometheus-compatible
// backend.
//
// Known differences from Prometheus that the tests rely on knowing:
// VictoriaMetrics drops NaN samples at import and from results (so a NaN
// series reads as no data), and averages by sum/count (so only dyadic
// constants average exactly; see Exact5xxRatio).
type VictoriaMetrics struct {
	URL  string
	proc *Process
}

// StartVictoriaMetrics starts the server, imports series with their
// timestamps and flushes them so that queries see them at once.
func StartVictoriaMetrics(t testing.TB, series []MetricSeries) *VictoriaMetrics {
	t.Helper()
	bin := RequireBinary(t, "victoria-metrics", "victoria-metrics")
	dir := t.TempDir()
	port := FreePort(t)
	vm := &VictoriaMetrics{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	vm.proc = Start(t, dir, bin,
		"-storageDataPath="+dir,
		fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port),
		// Serve just-imported samples (default: hide the last 30s) and do
		// not cache answers across imports.
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-retentionPeriod=100y",
		"-loggerLevel=ERROR",
	)
	vm.proc.WaitHTTP(t, vm.URL+"/health")
	if len(series) > 0 {
		vm.Import(t, series)
	}
	return vm
}

// Import adds series (Prometheus text with timestamps) and flushes them.
func (vm *VictoriaMetrics) Import(t testing.TB, series []MetricSeries) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(vm.URL+"/api/v1/import/prometheus", "text/plain", bytes.NewReader(PrometheusText(series)))
	if err != nil {
		t.Fatalf("victoria-metrics import: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("victoria-metrics import: %s: %s", resp.Status, body)
	}
	resp, err = client.Get(vm.URL + "/internal/force_flush")
	if err != nil {
		t.Fatalf("victoria-metrics flush: %v", err)
	}
	resp.Body.Close()
}

// Stop ends the server.
func (vm *VictoriaMetrics) Stop() { vm.proc.Stop() }
