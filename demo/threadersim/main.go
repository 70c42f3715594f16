// Command threadersim is a stand-in for the "threader" service, for the demo
// and the playbook tests: it serves the metrics the SLO gate's recording
// rules read (files/prometheus/recording.rules.yml) and has a switch that
// makes it fail, so a real Prometheus scraping it sees real, changing data.
//
// It simulates steady traffic: -rps requests a second are counted in
// http_requests_total{code}. While healthy they all answer 200. The switch:
//
//	POST /fail              from now on, -error-ratio of the requests answer 500 (a bad build)
//	POST /fail?mode=down    the service is down: /metrics answers 503, so Prometheus records up == 0
//	POST /recover           healthy again
//	POST /latency?factor=1.5  requests take 1.5 times -latency from now on (a slow build; 1 is normal)
//	GET  /state             {"failing":true,"mode":"errors","since":"...","latency_factor":1}
//	GET  /                  a request of its own: 200, or 500 while failing (counted like the others)
//
// With -loki-push-url it also ships its log lines, once a second, to a Loki
// push API (/loki/api/v1/push, as Loki and VictoriaLogs' /insert/loki/api/v1/push
// serve), in the stream {job="threader"}: an info line with the second's
// request counts, and while failing an ERROR line for the 500s it answered.
//
// Every request takes about -latency (times the latency factor), within
// ±-latency-noise of it, observed in the histogram
// http_request_duration_seconds: a canary judge compares a canary's latency
// with the baseline's there. The noise comes from a generator seeded with
// -seed, so a run is reproducible and two instances with different seeds
// differ only by noise.
//
// Every code series exists from the start (at 0): a recording rule that sums
// rate(http_requests_total{code=~"5.."}) over no series gives no data, and
// the SLO gate fails closed on no data.
//
// Usage: threadersim [-listen 127.0.0.1:0] [-addr-file FILE] [-rps 50] [-error-ratio 0.3] [-loki-push-url URL]
//
//	[-latency 100ms] [-latency-noise 0.05] [-seed 1]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Modes of failure the switch selects.
const (
	modeErrors = "errors" // a share of requests answer 500
	modeDown   = "down"   // metrics unavailable: the scrape fails
)

// tick is how often simulated traffic is counted.
const tick = 100 * time.Millisecond

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "threadersim:", err)
		os.Exit(2)
	}
}

func run(args []string, logOut io.Writer) error {
	fs := flag.NewFlagSet("threadersim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on (port 0: any free port)")
	addrFile := fs.String("addr-file", "", "write the address actually listened on to this file once ready")
	rps := fs.Float64("rps", 50, "simulated requests per second")
	errorRatio := fs.Float64("error-ratio", 0.3, "share of requests that answer 500 while failing (0..1)")
	pushURL := fs.String("loki-push-url", "", "ship log lines to this Loki push URL (http://127.0.0.1:9428/insert/loki/api/v1/push)")
	job := fs.String("job", "threader", "job label of the shipped log lines")
	latency := fs.Duration("latency", 100*time.Millisecond, "mean time a request takes while the latency factor is 1")
	noise := fs.Float64("latency-noise", 0.05, "each request's latency is within this share of the mean (0..1)")
	seed := fs.Uint64("seed", 1, "seed of the latency noise")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rps <= 0 {
		return fmt.Errorf("-rps must be greater than 0, got %v", *rps)
	}
	if *errorRatio < 0 || *errorRatio > 1 {
		return fmt.Errorf("-error-ratio must be between 0 and 1, got %v", *errorRatio)
	}
	if *latency <= 0 {
		return fmt.Errorf("-latency must be greater than 0, got %v", *latency)
	}
	if *noise < 0 || *noise > 1 {
		return fmt.Errorf("-latency-noise must be between 0 and 1, got %v", *noise)
	}
	logger := log.New(logOut, "threadersim: ", log.LstdFlags)

	sim := newService(*errorRatio, logger)
	sim.latency, sim.latencyNoise, sim.rng = *latency, *noise, rand.New(rand.NewPCG(*seed, 0))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	if *addrFile != "" {
		// Written whole then renamed, so a reader never sees half an address.
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			return err
		}
	}
	logger.Printf("serving on http://%s (%.0f requests/s simulated)", addr, *rps)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go sim.simulate(ctx, *rps)
	if *pushURL != "" {
		go sim.shipLogs(ctx, *pushURL, *job)
	}

	srv := &http.Server{Handler: sim.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Printf("stopped")
	return nil
}

// service is the simulated threader service and its failure switch.
type service struct {
	errorRatio float64
	log        *log.Logger
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	health     prometheus.Gauge
	durations  prometheus.Histogram

	// latency is the mean time a request takes at factor 1; each request
	// is within ±latencyNoise of the mean, drawn from rng.
	latency      time.Duration
	latencyNoise float64

	mu      sync.Mutex
	failing bool
	mode    string
	since   time.Time
	// latencyFactor multiplies latency (POST /latency); rng is used under mu.
	latencyFactor float64
	rng           *rand.Rand
	// errorDebt carries the fractional failed requests between ticks, so the
	// error share is exact over time without randomness.
	errorDebt float64
	// requestDebt does the same for the request count.
	requestDebt float64
	// loggedOK and loggedFailed count requests since the last shipped line.
	loggedOK, loggedFailed float64
}

func newService(errorRatio float64, logger *log.Logger) *service {
	s := &service{errorRatio: errorRatio, log: logger, registry: prometheus.NewRegistry(), since: time.Now(),
		latency: 100 * time.Millisecond, latencyNoise: 0.05, latencyFactor: 1, rng: rand.New(rand.NewPCG(1, 0))}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "Requests served, by HTTP status code (simulated traffic and real requests to /).",
	}, []string{"code"})
	s.health = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "threader_health_ok",
		Help: "1 while the service is healthy, 0 while it fails.",
	})
	s.durations = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Time the requests took (simulated: -latency times the latency factor, with noise).",
		Buckets: []float64{0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.5, 1},
	})
	s.registry.MustRegister(s.requests, s.health, s.durations)
	for _, code := range []string{"200", "500", "503"} {
		s.requests.WithLabelValues(code)
	}
	s.health.Set(1)
	return s
}

func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if _, mode := s.state(); mode == modeDown {
			http.Error(w, "threader is down", http.StatusServiceUnavailable)
			return
		}
		metrics.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /fail", s.handleFail)
	mux.HandleFunc("POST /recover", func(w http.ResponseWriter, r *http.Request) {
		s.set(false, "")
		s.writeState(w)
	})
	mux.HandleFunc("POST /latency", s.handleLatency)
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { s.writeState(w) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s.durations.Observe(s.requestLatency())
		if failing, _ := s.state(); failing {
			s.requests.WithLabelValues("500").Inc()
			http.Error(w, "internal error (simulated)", http.StatusInternalServerError)
			return
		}
		s.requests.WithLabelValues("200").Inc()
		fmt.Fprintln(w, "threader ok")
	})
	return mux
}

func (s *service) handleFail(w http.ResponseWriter, r *http.Request) {
	mode := r.URL.Query().Get("mode")
	if mode == "" {
		mode = modeErrors
	}
	if mode != modeErrors && mode != modeDown {
		http.Error(w, fmt.Sprintf("mode must be %s or %s, got %q", modeErrors, modeDown, mode), http.StatusBadRequest)
		return
	}
	s.set(true, mode)
	s.writeState(w)
}

func (s *service) handleLatency(w http.ResponseWriter, r *http.Request) {
	factor, err := strconv.ParseFloat(r.URL.Query().Get("factor"), 64)
	if err != nil || !(factor > 0) || math.IsInf(factor, 0) {
		http.Error(w, fmt.Sprintf("factor must be a number greater than 0, got %q", r.URL.Query().Get("factor")),
			http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.latencyFactor = factor
	s.mu.Unlock()
	s.log.Printf("requests take %v times the latency now", factor)
	s.writeState(w)
}

// requestLatency is the time one request takes, in seconds.
func (s *service) requestLatency() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	spread := s.latencyNoise * (2*s.rng.Float64() - 1)
	return s.latency.Seconds() * s.latencyFactor * (1 + spread)
}

func (s *service) set(failing bool, mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing == failing && s.mode == mode {
		return
	}
	s.failing, s.mode, s.since = failing, mode, time.Now()
	if failing {
		s.health.Set(0)
		s.log.Printf("failing now (mode %s)", mode)
	} else {
		s.health.Set(1)
		s.log.Printf("healthy again")
	}
}

func (s *service) state() (failing bool, mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failing, s.mode
}

func (s *service) writeState(w http.ResponseWriter) {
	s.mu.Lock()
	st := map[string]any{"failing": s.failing, "mode": s.mode, "since": s.since.UTC().Format(time.RFC3339),
		"latency_factor": s.latencyFactor}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// simulate counts rps requests a second until ctx ends.
func (s *service) simulate(ctx context.Context, rps float64) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ok, failed := s.trafficTick(rps * tick.Seconds())
			s.requests.WithLabelValues("200").Add(ok)
			s.requests.WithLabelValues("500").Add(failed)
			for range int(ok + failed) {
				s.durations.Observe(s.requestLatency())
			}
			s.mu.Lock()
			s.loggedOK += ok
			s.loggedFailed += failed
			s.mu.Unlock()
		}
	}
}

// trafficTick splits one tick's requests into answered and failed ones.
func (s *service) trafficTick(requests float64) (ok, failed float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestDebt += requests
	n := wholePart(s.requestDebt)
	s.requestDebt -= n
	if s.failing && s.mode == modeErrors {
		s.errorDebt += n * s.errorRatio
		failed = wholePart(s.errorDebt)
		s.errorDebt -= failed
	}
	return n - failed, failed
}

// wholePart is the whole number in x, forgiving the rounding error of sums
// of fractions (ten ticks of 0.1 make 1, not 0.9999999999999999).
func wholePart(x float64) float64 {
	return math.Floor(x + 1e-9)
}

// shipLogs sends the last second's log lines every second until ctx ends.
// A failed push is logged and the lines are dropped, as a log shipper under
// pressure would: the SLO gate then sees fewer lines, never invented ones.
func (s *service) shipLogs(ctx context.Context, pushURL, job string) {
	client := &http.Client{Timeout: 5 * time.Second}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := push(ctx, client, pushURL, job, s.logLines(now)); err != nil {
				s.log.Printf("shipping log lines: %v", err)
			}
		}
	}
}

// logLines are the lines of the second that ends at now.
func (s *service) logLines(now time.Time) [][2]string {
	s.mu.Lock()
	ok, failed := s.loggedOK, s.loggedFailed
	s.loggedOK, s.loggedFailed = 0, 0
	s.mu.Unlock()
	ts := strconv.FormatInt(now.UnixNano(), 10)
	lines := [][2]string{{ts, fmt.Sprintf("served %.0f requests: %.0f ok, %.0f failed", ok+failed, ok, failed)}}
	if failed > 0 {
		ts2 := strconv.FormatInt(now.UnixNano()+1, 10)
		lines = append(lines, [2]string{ts2, fmt.Sprintf("ERROR %.0f requests answered 500: build is broken", failed)})
	}
	return lines
}

// push sends lines as one stream of the Loki push API (JSON).
func push(ctx context.Context, client *http.Client, pushURL, job string, lines [][2]string) error {
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": map[string]string{"job": job}, "values": lines}}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pushURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
