package qosguard

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/modules/promconn"
	"github.com/threader/guard/internal/modules/slocheck"
	"github.com/threader/guard/internal/watch"
)

const watchUsage = `usage: qos_guard [guard flags] watch [flags]

Watches the guard and releases it once the SLO gate is stable, instead of a
manual qos_guard_release run (the rules: internal/watch). While the guard is
locked, the gate (slo_check's checks and flags) is evaluated every
--interval; after --consecutive passes in a row the guard is released with
a compare-and-release at the revision seen when the passes began, so a newer
lock is never cleared; the release is logged and audited as owner
watcher@HOST. While unlocked, the guard is only read. A failing or
unreachable gate, or an unreadable guard, never releases.
SIGTERM and SIGINT stop it (exit 0); SIGHUP re-reads --checks-file.
Exit codes: 0 stopped or released (--once), 2 usage error.

flags:
`

// watchCommand is the positional that selects the watcher.
const watchCommand = "watch"

// splitWatch finds "watch" as the command: args before it must be guard
// flags only (so "--reason watch" is not taken for it).
func splitWatch(args []string) (guardArgs, watchArgs []string, ok bool) {
	for i, a := range args {
		if a != watchCommand {
			continue
		}
		_, cmd, rest, err := parseCLI(append(append([]string(nil), args[:i]...), "status"), io.Discard)
		if err == nil && cmd == "status" && len(rest) == 0 {
			return args[:i], args[i+1:], true
		}
	}
	return nil, nil, false
}

// watchOptions are the watcher's own flags.
type watchOptions struct {
	interval   time.Duration
	listen     string
	once       bool
	checksFile string
	gate       *slocheck.EmbeddedGate
}

func parseWatch(args []string, stderr io.Writer) (watchOptions, error) {
	var w watchOptions
	fs := flag.NewFlagSet("qos_guard watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, watchUsage); fs.PrintDefaults() }
	w.gate = slocheck.EmbedGateFlags(fs, watch.DefaultConsecutive)
	fs.DurationVar(&w.interval, "interval", watch.DefaultInterval, "evaluate the gate this often while the guard is locked")
	fs.StringVar(&w.listen, "listen", "", "serve /metrics and /healthz on this address, e.g. 127.0.0.1:9469 (default: none)")
	fs.BoolVar(&w.once, "once", false, "exit 0 after the first release")
	fs.StringVar(&w.checksFile, "checks-file", "", "extra checks from this JSON or YAML file, re-read on SIGHUP")
	if err := promconn.Parse(fs, args); err != nil {
		return w, err
	}
	if err := promconn.NoArgs(fs); err != nil {
		return w, fmt.Errorf("watch: %w", err)
	}
	if w.interval < time.Second || w.interval > 24*time.Hour {
		return w, fmt.Errorf("--interval must be between 1s and 24h, got %s", w.interval)
	}
	return w, w.gate.Finish()
}

// runWatch is qos_guard [guard flags] watch [flags] as the program runs it.
func runWatch(guardArgs, watchArgs []string) int {
	reload := make(chan struct{}, 1)
	ctx, stop := interrupt.Reloading(context.Background(), func() {
		select {
		case reload <- struct{}{}:
		default: // one pending reload is enough
		}
	})
	defer stop()
	return watchCLI(ctx, guardArgs, watchArgs, os.Stderr, nil, reload)
}

// watchCLI runs the watcher until ctx ends; clk is nil except in tests, and
// a value on reload re-reads --checks-file.
func watchCLI(ctx context.Context, guardArgs, watchArgs []string, stderr io.Writer, clk clock.Clock, reload <-chan struct{}) int {
	opts, _, _, err := parseCLI(append(append([]string(nil), guardArgs...), "status"), stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return usageError(stderr, err.Error())
	}
	if opts.ifRevision >= 0 || opts.exclusive || opts.hold || opts.wait > 0 || opts.json {
		return usageError(stderr, "--if-revision, --exclusive, --hold, --wait and --json are not watch flags")
	}
	w, err := parseWatch(watchArgs, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return usageError(stderr, err.Error())
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "qos_guard watch: "+format+"\n", args...) }
	gates, err := newGateHolder(w, logf)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	obs, err := startCLIObserving(opts)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	defer obs.FinishCLI(stderr)
	g, closeGuard, err := openGuard(opts.backend, opts.path, opts.lockTimeout, opts.etcd)
	if err != nil {
		return usageError(stderr, cliError(err).Error())
	}
	defer closeGuard()
	g.Clock = clk

	m := newWatchMetrics(w.gate.Consecutive())
	if w.listen != "" {
		closeServer, err := serveWatchMetrics(w.listen, m, logf)
		if err != nil {
			return usageError(stderr, fmt.Sprintf("--listen %s: %v", w.listen, err))
		}
		defer closeServer()
	}
	owner := opts.owner
	if !opts.ownerGiven {
		host, _ := os.Hostname()
		owner = "watcher@" + host
	}
	watcher := &watch.Watcher{
		Guard: auditedGuard{g, cliAuditLog(opts)}, Gate: gates.current, Interval: w.interval, Consecutive: w.gate.Consecutive(),
		Owner: owner, Once: w.once, Clock: clk,
		Observe: func(ev watch.Event) {
			m.observe(ev)
			logEvent(logf, ev)
			if ev.Kind == watch.Released {
				observeChange(obs, ev.Change, true, false) // logged like any unlock, and in the audit log (auditedGuard)
			}
		},
	}
	if reload != nil {
		go gates.reloadOn(ctx, reload, m)
	}
	logf("watching the %s guard every %s; %d passes in a row release it as %s", opts.backend, w.interval, w.gate.Consecutive(), owner)
	if err := watcher.Run(ctx); err != nil {
		return usageError(stderr, err.Error())
	}
	if ctx.Err() != nil {
		logf("stopped (%v)", context.Cause(ctx))
	}
	return exitOK
}

// gateHolder keeps the current gate; a reload swaps it.
type gateHolder struct {
	mu         sync.Mutex
	gate       watch.Gate
	checksFile string
	embedded   *slocheck.EmbeddedGate
	logf       func(string, ...any)
}

func newGateHolder(w watchOptions, logf func(string, ...any)) (*gateHolder, error) {
	h := &gateHolder{checksFile: w.checksFile, embedded: w.gate, logf: logf}
	return h, h.load()
}

func (h *gateHolder) load() error {
	eval, warnings, err := h.embedded.Evaluator(h.checksFile)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		h.logf("warning: %s", w)
	}
	h.mu.Lock()
	h.gate = func(ctx context.Context) (watch.Verdict, error) {
		passed, summary, err := eval(ctx)
		return watch.Verdict{Passed: passed, Summary: summary}, err
	}
	h.mu.Unlock()
	return nil
}

func (h *gateHolder) current() watch.Gate {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gate
}

// reloadOn re-reads the checks file on every value of reload; a file that
// no longer reads keeps the gate that was running (and says so).
func (h *gateHolder) reloadOn(ctx context.Context, reload <-chan struct{}, m *watchMetrics) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			if err := h.load(); err != nil {
				m.reloads.WithLabelValues("error").Inc()
				h.logf("reload failed, keeping the previous checks: %v", err)
				continue
			}
			m.reloads.WithLabelValues("ok").Inc()
			h.logf("reloaded the checks (%s)", h.describe())
		}
	}
}

func (h *gateHolder) describe() string {
	if h.checksFile == "" {
		return "no --checks-file"
	}
	return "--checks-file " + h.checksFile
}

// logEvent writes one line per tick while the guard is locked, and the
// changes; quiet ticks of an unlocked guard are not logged.
func logEvent(logf func(string, ...any), ev watch.Event) {
	switch ev.Kind {
	case watch.GuardUnreadable:
		logf("guard unreadable, treated as locked (never released): %v", ev.Err)
	case watch.Held:
		logf("guard held by %q for a deployment in progress (revision %d): not judged until the deployment ends", ev.Guard.Owner, ev.Guard.Revision)
	case watch.GatePassed:
		logf("guard locked (revision %d): gate passed (%d/%d in a row): %s", ev.Guard.Revision, ev.Streak, ev.Need, ev.Summary)
	case watch.GateFailed:
		logf("guard locked (revision %d): gate FAILED (0/%d in a row): %s", ev.Guard.Revision, ev.Need, ev.Summary)
	case watch.GateError:
		logf("guard locked (revision %d): gate could not measure (0/%d in a row), not released: %v", ev.Guard.Revision, ev.Need, ev.Err)
	case watch.Released:
		logf("released the guard (revision %d -> %d) after %d passes in a row", ev.Revision, ev.Guard.Revision, ev.Need)
	case watch.ReleaseRefused:
		logf("release refused, the guard changed since revision %d (another release or a newer lock): %v", ev.Revision, ev.Err)
	case watch.ReleaseFailed:
		logf("release failed, will evaluate again: %v", ev.Err)
	}
}

// watchMetrics are the watcher's own metrics, served on --listen.
type watchMetrics struct {
	reg         *prometheus.Registry
	locked      prometheus.Gauge
	readable    prometheus.Gauge
	streak      prometheus.Gauge
	evaluations *prometheus.CounterVec
	releases    *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	lastTick    prometheus.Gauge
}

func newWatchMetrics(consecutive int) *watchMetrics {
	const ns = "threader_guard_watch_"
	m := &watchMetrics{
		reg:      prometheus.NewRegistry(),
		locked:   prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "guard_locked", Help: "1 while the guard is locked or unreadable (fail closed), 0 while unlocked."}),
		readable: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "guard_readable", Help: "1 when the last read of the guard succeeded."}),
		streak:   prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "streak", Help: "Passing evaluations in a row at the guard's current revision."}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "evaluations_total",
			Help: "Evaluations of the SLO gate while locked, by result: pass, fail (a check violated), error (nothing measured: unreachable, no data)."}, []string{"result"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "releases_total",
			Help: "Releases tried, by result: released, refused (the guard changed since the streak began), failed."}, []string{"result"}),
		reloads:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "reloads_total", Help: "SIGHUP reloads of --checks-file, by result: ok, error."}, []string{"result"}),
		lastTick: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "last_tick_timestamp_seconds", Help: "When the guard was last read, Unix seconds."}),
	}
	need := prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "consecutive", Help: "Passes in a row that release the guard."})
	need.Set(float64(consecutive))
	m.reg.MustRegister(m.locked, m.readable, m.streak, m.evaluations, m.releases, m.reloads, m.lastTick, need)
	for _, r := range []string{"pass", "fail", "error"} {
		m.evaluations.WithLabelValues(r)
	}
	for _, r := range []string{"released", "refused", "failed"} {
		m.releases.WithLabelValues(r)
	}
	m.locked.Set(1) // unknown until the first read: fail closed
	return m
}

func (m *watchMetrics) observe(ev watch.Event) {
	m.lastTick.Set(float64(ev.At.UnixMilli()) / 1000)
	m.streak.Set(float64(ev.Streak))
	m.readable.Set(1)
	switch ev.Kind {
	case watch.GuardUnreadable:
		m.readable.Set(0)
		m.locked.Set(1)
	case watch.Unlocked:
		m.locked.Set(0)
	case watch.Held:
		m.locked.Set(1)
	case watch.GatePassed, watch.GateFailed, watch.GateError:
		m.locked.Set(1)
		m.evaluations.WithLabelValues(map[watch.Kind]string{watch.GatePassed: "pass", watch.GateFailed: "fail", watch.GateError: "error"}[ev.Kind]).Inc()
	case watch.Released:
		m.locked.Set(0)
		m.releases.WithLabelValues("released").Inc()
	case watch.ReleaseRefused:
		m.releases.WithLabelValues("refused").Inc()
	case watch.ReleaseFailed:
		m.releases.WithLabelValues("failed").Inc()
	}
}

// serveWatchMetrics serves /metrics (promhttp) and /healthz on addr and
// logs the address it listens on (port 0 picks one).
func serveWatchMetrics(addr string, m *watchMetrics, logf func(string, ...any)) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	logf("serving /metrics and /healthz on http://%s", ln.Addr())
	return func() { srv.Close() }, nil
}
