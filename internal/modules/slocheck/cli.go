package slocheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/promconn"
	"github.com/threader/guard/internal/seconds"
	"github.com/threader/guard/internal/slo"
	"github.com/threader/guard/internal/strictyaml"
)

const usage = `usage: slo_check [flags]

SLO gate for CI pipelines, the same gate as the threader.guard.slo_check module.
By default it checks, for --job over --window:
  5xx_ratio           avg_over_time(job:http_5xx_ratio_1m{job="JOB"}[WINDOW]) <= --max-5xx-ratio
  health_ratio        avg_over_time(job:health_ok_ratio_1m{job="JOB"}[WINDOW]) >= --min-health-ratio
  error_logs_per_min  Loki (or VictoriaLogs: --victorialogs-url without --loki-url) lines
                      matching --error-log-regex, per minute over the window,
                      <= --max-error-logs-per-min (off when neither URL is set)
It fails closed: no data, NaN, ±Inf, HTTP or API errors and timeouts fail a check,
and so do answers with warnings (unless --accept-warnings), samples timestamped
more than 5 minutes from the evaluation time, ratios outside [0, 1], and a
redirect to another scheme, host or port (never followed).

Prints a table of the checks (--json: the module's result as one JSON object).
With --interval-seconds it re-evaluates until every check passes --consecutive
times in a row or --timeout-seconds ends, with one progress line per
evaluation on stderr.

Secrets can come from the environment instead of flags (flags are visible to
other users in ps): SLO_CHECK_PROMETHEUS_BEARER_TOKEN, SLO_CHECK_PROMETHEUS_PASSWORD,
SLO_CHECK_LOKI_BEARER_TOKEN, SLO_CHECK_LOKI_PASSWORD, SLO_CHECK_VICTORIALOGS_BEARER_TOKEN,
SLO_CHECK_VICTORIALOGS_PASSWORD.

With --metrics-textfile or --pushgateway-url the checks of the last
evaluation are published as metrics; every evaluation of every check is
logged to the system log (see docs/metrics.md).

Exit codes: 0 every check passed, 1 a check failed (no data and errors
included), 2 usage error, 128+N interrupted by signal N.

flags:
`

// Exit codes.
const (
	exitPassed = 0
	exitFailed = 1
	exitUsage  = 2
)

// flagName turns a module option into its flag: prometheus_url → --prometheus-url.
func flagName(option string) string { return promconn.FlagName(option) }

func runCLI(args []string) int {
	ctx, stop := interrupt.Context(context.Background())
	defer stop()
	return interrupt.ExitCode(ctx, cli(ctx, args, os.Stdout, os.Stderr, nil))
}

// cli runs the command line; clk is nil except in tests.
func cli(ctx context.Context, args []string, stdout, stderr io.Writer, clk clock.Clock) int {
	cfg, cf, err := parseCLI(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitPassed
	}
	if err == nil {
		err = observe.CheckName("--name", cf.name)
	}
	if err != nil {
		return usageError(stderr, err)
	}
	cfg.clock = clk
	p, err := cfg.plan(flagName)
	if err != nil {
		return usageError(stderr, err)
	}
	obs, err := observe.Start(cf.observe.Config(moduleName, cf.name))
	if err != nil {
		return usageError(stderr, err)
	}
	defer obs.FinishCLI(stderr) // publishing failures are warnings, the exit code stays
	for _, w := range p.warnings {
		fmt.Fprintf(stderr, "slo_check: warning: %s\n", w)
	}
	if cfg.interval > 0 {
		p.gate.Progress = func(n, streak int, e slo.Evaluation) {
			fmt.Fprintln(stderr, "slo_check: "+progressLine(n, streak, cfg.consecutive, e))
		}
	}
	observeEvaluations(&p.gate, obs)
	rep, err := p.gate.Run(ctx)
	if err != nil {
		return usageError(stderr, err)
	}
	for _, w := range rep.Last.Warnings() {
		fmt.Fprintf(stderr, "slo_check: warning: %s\n", w)
	}
	if cf.asJSON {
		res := resultFields(rep)
		res["changed"] = false
		res["failed"] = !rep.Passed && cfg.failOnViolation
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		writeTable(stdout, rep)
	}
	if rep.Passed || !cfg.failOnViolation {
		return exitPassed
	}
	return exitFailed
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "slo_check: %v\nrun 'slo_check -h' for usage\n", err)
	return exitUsage
}

// progressLine describes one evaluation while polling, e.g.
// "evaluation 3 at 2026-11-28T12:40:05.000Z: FAIL (0/2 in a row): 5xx_ratio 0.023 > 0.01";
// an evaluation that is not passing for another reason than a failed check
// says its phase: "FAIL (0/2 in a row): phase error: 5xx_ratio: no data".
func progressLine(n, streak, need int, e slo.Evaluation) string {
	head := fmt.Sprintf("evaluation %d at %s: ", n, e.At.UTC().Format(timeFormat))
	if streak > 0 {
		return head + fmt.Sprintf("pass (%d/%d in a row)", min(streak, need), need)
	}
	summary := e.Summary()
	if e.Phase != slo.PhaseFailed {
		summary = "phase " + string(e.Phase) + ": " + summary
	}
	return head + fmt.Sprintf("FAIL (0/%d in a row): %s", need, summary)
}

// writeTable prints the checks and a final PASSED/FAILED line.
func writeTable(w io.Writer, rep slo.Report) {
	showSeries := false
	for _, r := range rep.Last.Results {
		showSeries = showSeries || r.SeriesCount > 1
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "CHECK\tSOURCE\tRESULT\tVALUE\tTHRESHOLD\tREASON"
	if showSeries {
		header += "\tSERIES"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rep.Last.Results {
		value := "-"
		if r.Value != nil {
			value = slo.FormatValue(*r.Value)
		}
		result := phaseWord(r.Phase)
		if r.DryRun {
			result += " (dry run)"
		}
		threshold := "-"
		if r.Comparison != "" {
			threshold = string(r.Comparison) + " " + slo.FormatValue(r.Threshold)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.Name, r.Source, result, value, threshold, oneLine(r.Reason))
		if showSeries {
			line += "\t" + labelList(r.Series)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	verdict := "PASSED"
	if !rep.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s\n", verdict, rep.Msg)
}

// phaseWord is how the table shows a phase: quiet when it passed, loud
// otherwise.
func phaseWord(p slo.Phase) string {
	return map[slo.Phase]string{slo.PhasePassed: "pass", slo.PhaseFailed: "FAIL", slo.PhaseError: "ERROR",
		slo.PhaseInconclusive: "INCONCLUSIVE"}[p]
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func labelList(labels map[string]string) string {
	if labels == nil {
		return "-"
	}
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(labels)
	return strings.TrimSpace(b.String())
}

// cliFlags are the flags that are not part of the gate's config.
type cliFlags struct {
	asJSON  bool
	name    string
	observe observe.Flags
}

// parseCLI reads the flags into a config.
func parseCLI(args []string, stderr io.Writer) (config, cliFlags, error) {
	c := defaultConfig()
	var cf cliFlags
	fs := flag.NewFlagSet("slo_check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	finish := registerGateFlags(fs, &c)
	registerPollingFlags(fs, &c)
	fs.BoolVar(&cf.asJSON, "json", false, "print the result as one JSON object instead of a table")
	fs.StringVar(&cf.name, "name", "", "name of this gate in log lines and metrics (default slo_check)")
	cf.observe.Register(fs)
	if err := promconn.Parse(fs, args); err != nil {
		return c, cf, err
	}
	if err := promconn.NoArgs(fs); err != nil {
		return c, cf, err
	}
	finish()
	return c, cf, nil
}

// registerGateFlags registers on fs a flag for every option of the gate's
// config that one evaluation uses (endpoints, checks, thresholds, requests;
// --consecutive, for the caller's schedule) and returns the function that
// completes c after fs.Parse (secrets from the environment). Any command
// that runs the gate can embed its flags this way.
func registerGateFlags(fs *flag.FlagSet, c *config) (finish func()) {
	prometheusBackend.RegisterFlags(fs, &c.prometheus)
	lokiBackend.RegisterFlags(fs, &c.loki)
	victoriaLogsBackend.RegisterFlags(fs, &c.victorialogs)
	fs.StringVar(&c.job, "job", c.job, "job label of the service")
	fs.StringVar(&c.window, "window", c.window, "stability window, a Prometheus duration (15m, 1h, 90s)")
	fs.Float64Var(&c.max5xx, "max-5xx-ratio", c.max5xx, "highest 5xx ratio averaged over the window")
	fs.Float64Var(&c.minHealth, "min-health-ratio", c.minHealth, "lowest health-OK ratio averaged over the window")
	fs.Float64Var(&c.maxErrLogs, "max-error-logs-per-min", c.maxErrLogs, "most error log lines per minute, averaged over the window")
	fs.StringVar(&c.errorLogRegex, "error-log-regex", c.errorLogRegex, "regular expression (RE2) of error log lines")
	fs.BoolVar(&c.defaultChecks, "default-checks", c.defaultChecks, "run the three default checks (--default-checks=false drops them)")
	checks := (*checkList)(&c.checks)
	fs.Var(checks, "checks", "extra checks: a JSON or YAML object or list of {"+strings.Join(checkKeys, ", ")+"};\n@FILE reads them from a file; repeatable")
	fs.IntVar(&c.consecutive, "consecutive", c.consecutive, "passing evaluations in a row needed when polling")
	fs.BoolVar(&c.failOnInconclusive, "fail-on-inconclusive", c.failOnInconclusive, "an inconclusive gate fails (false: it passes)")
	fs.Var((*seconds.Flag)(&c.requestTimeout), "request-timeout-seconds", "time limit of one query, retries included")
	fs.IntVar(&c.requestRetries, "request-retries", c.requestRetries, "retries of a query after connection errors, 429 and 5xx")
	fs.BoolVar(&c.acceptWarnings, "accept-warnings", c.acceptWarnings, "believe answers that carry Prometheus or Loki warnings (default: such a check fails)")
	return func() {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		prometheusBackend.SecretsFromEnv(set, &c.prometheus)
		lokiBackend.SecretsFromEnv(set, &c.loki)
		victoriaLogsBackend.SecretsFromEnv(set, &c.victorialogs)
		c.lokiGiven = set["loki-url"]
	}
}

// registerPollingFlags registers the flags of slo_check's own polling loop
// (schedule, limits, what the result keeps, the exit code); a command that
// embeds the gate evaluates it on its own schedule and has none of them.
func registerPollingFlags(fs *flag.FlagSet, c *config) {
	fs.Var((*seconds.Flag)(&c.interval), "interval-seconds", "re-evaluate every this many seconds until stable (0: evaluate once)")
	fs.Var((*seconds.Flag)(&c.timeout), "timeout-seconds", "give up polling after this many seconds (counted after the initial delay)")
	fs.Var((*seconds.Flag)(&c.initialDelay), "initial-delay-seconds", "wait this many seconds before the first evaluation")
	fs.IntVar(&c.failureLimit, "failure-limit", c.failureLimit, "stop polling after more than this many failed evaluations (-1: no limit)")
	fs.IntVar(&c.inconclusiveLimit, "inconclusive-limit", c.inconclusiveLimit, "stop polling after more than this many inconclusive evaluations (-1: no limit)")
	fs.IntVar(&c.consecutiveErrorLimit, "consecutive-error-limit", c.consecutiveErrorLimit, "stop polling after more than this many errored evaluations in a row (-1: no limit)")
	fs.IntVar(&c.retention, "measurement-retention", c.retention, "how many evaluations the result keeps")
	fs.BoolVar(&c.failOnViolation, "fail-on-violation", c.failOnViolation, "exit 1 when a check fails (false: report and exit 0)")
}

// checkList collects --checks values.
type checkList []slo.Check

func (l *checkList) String() string { return "" }

func (l *checkList) Set(v string) error {
	text := []byte(v)
	fromFile := strings.HasPrefix(v, "@")
	if fromFile {
		data, err := readChecksFile(v[1:], true)
		if err != nil {
			return fmt.Errorf("%s %v", v[1:], err)
		}
		text = data
	}
	specs, err := decodeChecks(text)
	if err != nil {
		return err
	}
	for i, s := range specs {
		// A web check's headers and body carry keys and tokens; other
		// users see the command line in ps.
		if !fromFile && (s.Headers != nil || s.Body != "") {
			return fmt.Errorf("check %d (%q): headers and body may hold secrets, and the command line is visible to "+
				"other users: give this check in a file, --checks @FILE", i+1, s.Name)
		}
		// The name becomes the `check` label of the metrics.
		if err := observe.CheckLabel("name", s.Name); s.Name != "" && err != nil {
			return fmt.Errorf("check %d: %v", i+1, err)
		}
		c, err := s.check()
		var se *specError
		if errors.As(err, &se) {
			return fmt.Errorf("check %d (%q): %s %v", i+1, se.Check, se.Key, se.Err)
		}
		if err != nil {
			return fmt.Errorf("check %d: %v", i+1, err)
		}
		*l = append(*l, c)
	}
	return nil
}

// CheckArg checks an inline --checks value as Set does, before the flag
// package sees it: the flag package's error for a value Set refuses quotes
// the whole value, and a check given inline with headers or a body (which
// Set refuses), or with a mistyped key such as "header", holds secrets.
// Set's own messages name keys and checks, never the whole value.
func (l *checkList) CheckArg(v string) error {
	if strings.HasPrefix(v, "@") {
		return nil // a file: Set's error names only its path
	}
	var scratch checkList
	return scratch.Set(v)
}

// decodeChecks reads one check object or a list of them (YAML, hence JSON),
// refusing unknown keys so that a typo such as "maximum" is not ignored.
func decodeChecks(text []byte) ([]checkSpec, error) {
	root, err := strictyaml.Document(text)
	switch {
	case errors.Is(err, strictyaml.ErrManyDocuments):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("not JSON or YAML: %v", err)
	case root == nil:
		return nil, errors.New("empty")
	}
	items := []*yaml.Node{root}
	if root.Kind == yaml.SequenceNode {
		items = root.Content
	}
	var out []checkSpec
	for _, item := range items {
		if item.Kind != yaml.MappingNode {
			return nil, errors.New("want an object such as {name: p99, query: ..., max: 0.5}")
		}
		for i := 0; i < len(item.Content); i += 2 {
			if k := item.Content[i].Value; !slices.Contains(checkKeys, k) {
				return nil, fmt.Errorf("unknown key %q (known: %s)", k, strings.Join(checkKeys, ", "))
			}
		}
		var s checkSpec
		if err := item.Decode(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
