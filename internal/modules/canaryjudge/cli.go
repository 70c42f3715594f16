package canaryjudge

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/modules/promconn"
	"github.com/threader/guard/internal/strictyaml"
	"github.com/threader/guard/internal/trustedfile"
)

const usage = `usage: canary_judge --prometheus-url URL (--lookback 30m | --start T --end T) [--step 1m] --config judge.yml [--json]

Judges a canary group of hosts against a baseline group, the same judge as the
threader.guard.canary_judge module: for each metric of the config file, one
range query for the canary and one for the baseline (each must return one
series), a Mann-Whitney test with an effect-size gate, and a weighted score.

judge.yml holds the metrics and, optionally, the judge's settings:

  metrics:
    - name: latency_p99
      canary_query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{group="canary"}[1m])))
      baseline_query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{group="baseline"}[1m])))
      direction: increase        # increase | decrease | either (default)
      critical: true
    - name: errors
      canary_query: sum(rate(http_requests_total{group="canary", code=~"5.."}[1m])) or vector(0)
      baseline_query: sum(rate(http_requests_total{group="baseline", code=~"5.."}[1m])) or vector(0)
      direction: increase
      nan_strategy: replace      # a step with no point counts as 0
      max_canary_value: 5        # fails the metric whatever the baseline does
  group_weights: {}              # group name: weight
  confidence: 0.98
  pass_score: 95
  marginal_score: 75
  fail_on_marginal: true         # --fail-on-marginal overrides it

Metric keys: ` + "name, canary_query, baseline_query, direction, nan_strategy, critical, must_have_data, group, effect_size " +
	"{measure, allowed_increase, allowed_decrease, critical_increase, critical_decrease}, outliers, max_canary_value" + `
(ansible-doc threader.guard.canary_judge explains each).

It fails closed: a query that fails, answers with warnings, or returns two or
more series makes its metric an error; missing data is nodata (nodata_fail
with must_have_data).

Prints a table (--json: the module's result as one JSON object). Secrets never
go on the command line (every local user can read it in ps): they come from
CANARY_JUDGE_PROMETHEUS_BEARER_TOKEN and CANARY_JUDGE_PROMETHEUS_PASSWORD, or
from files (--prometheus-bearer-token-file, --prometheus-password-file).

With --metrics-textfile or --pushgateway-url the judgement is published as
metrics; it is logged to the system log (see docs/metrics.md).

Exit codes: 0 pass (or marginal with --fail-on-marginal=false), 1 marginal or
fail, 2 usage error, 128+N interrupted by signal N.

flags:
`

// Exit codes.
const (
	exitPassed = 0
	exitFailed = 1
	exitUsage  = 2
)

// fileKeys are the config file's top-level keys.
var fileKeys = []string{"metrics", "group_weights", "confidence", "pass_score", "marginal_score", "fail_on_marginal"}

// flagName turns a module option into its flag: prometheus_url →
// --prometheus-url, prometheus_password → --prometheus-password-file. The
// options of the config file are named by configNamer instead.
func flagName(option string) string { return promconn.FlagName(option) }

// configNamer names options as the user wrote them: the config file's keys
// as "FILE: key" (metrics[1].direction, pass_score, group_weights.web),
// every other option as its flag.
func configNamer(path string) namer {
	return func(option string) string {
		root, _, _ := strings.Cut(option, ".")
		root, _, _ = strings.Cut(root, "[")
		if slices.Contains(fileKeys, root) {
			return path + ": " + option
		}
		return flagName(option)
	}
}

func runCLI(args []string) int {
	ctx, stop := interrupt.Context(context.Background())
	defer stop()
	return interrupt.ExitCode(ctx, cli(ctx, args, os.Stdout, os.Stderr, nil))
}

// cliFlags are the flags that are not part of the judge's config.
type cliFlags struct {
	asJSON     bool
	name       string
	configPath string
	observe    observe.Flags
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
	name := configNamer(cf.configPath)
	p, err := cfg.plan(name)
	if err != nil {
		return usageError(stderr, err)
	}
	obs, err := observe.Start(cf.observe.Config(moduleName, cf.name))
	if err != nil {
		return usageError(stderr, err)
	}
	defer obs.FinishCLI(stderr) // publishing failures are warnings, the exit code stays
	j, err := p.run(ctx, name)
	if err != nil {
		return usageError(stderr, err)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "canary_judge: %v\n", ctx.Err())
		return exitFailed // interrupt.ExitCode turns it into 128+N
	}
	observeJudgement(obs, p, j)
	if cf.asJSON {
		res := p.resultFields(j)
		res["changed"] = false
		res["failed"] = j.failed
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		writeTable(stdout, p, j)
	}
	if j.failed {
		return exitFailed
	}
	return exitPassed
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "canary_judge: %v\nrun 'canary_judge -h' for usage\n", err)
	return exitUsage
}

// parseCLI reads the flags and the config file into a config.
func parseCLI(args []string, stderr io.Writer) (config, cliFlags, error) {
	c := defaultConfig()
	var cf cliFlags
	fs := flag.NewFlagSet("canary_judge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	prometheusBackend.RegisterFlags(fs, &c.prometheus)
	fs.StringVar(&c.lookback, "lookback", "", "the interval: this long, ending now (a Prometheus duration: 30m, 1h)")
	fs.StringVar(&c.start, "start", "", "the interval's start, RFC 3339 (2026-11-29T17:00:00Z), with --end")
	fs.StringVar(&c.end, "end", "", "the interval's end, RFC 3339, with --start")
	fs.StringVar(&c.step, "step", c.step, "the step of the range queries (a Prometheus duration)")
	fs.StringVar(&cf.configPath, "config", "", "YAML file of the metrics and the judge's settings (required)")
	failOnMarginal := fs.Bool("fail-on-marginal", true, "exit 1 on a marginal verdict (default: the config file's fail_on_marginal, else true)")
	fs.Float64Var(&c.requestTimeout, "request-timeout-seconds", c.requestTimeout, "time limit of one query, retries included")
	fs.IntVar(&c.requestRetries, "request-retries", c.requestRetries, "retries of a query after connection errors, 429 and 5xx")
	fs.BoolVar(&cf.asJSON, "json", false, "print the result as one JSON object instead of a table")
	fs.StringVar(&cf.name, "name", "", "name of this judgement in log lines and metrics (default canary_judge)")
	cf.observe.Register(fs)
	if err := promconn.Parse(fs, args); err != nil { // refuses secrets on the command line
		return c, cf, err
	}
	if err := promconn.NoArgs(fs); err != nil {
		return c, cf, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	prometheusBackend.SecretsFromEnv(given, &c.prometheus)
	if cf.configPath == "" {
		return c, cf, errors.New("--config is required: the YAML file of the metrics to judge")
	}
	if err := readConfigFile(cf.configPath, &c); err != nil {
		return c, cf, err
	}
	if given["fail-on-marginal"] {
		c.failOnMarginal = *failOnMarginal
	}
	return c, cf, nil
}

// judgeFile is the config file.
type judgeFile struct {
	Metrics        []metricSpec   `yaml:"metrics"`
	GroupWeights   map[string]any `yaml:"group_weights"`
	Confidence     *float64       `yaml:"confidence"`
	PassScore      *float64       `yaml:"pass_score"`
	MarginalScore  *float64       `yaml:"marginal_score"`
	FailOnMarginal *bool          `yaml:"fail_on_marginal"`
}

// maxConfigBytes bounds the config file.
const maxConfigBytes = 1 << 20

// readConfigFile reads the config file into c, refusing unknown keys so
// that a typo such as "directon" is not silently ignored, and a file that
// is not a trusted regular file of at most maxConfigBytes
// (internal/trustedfile: a FIFO, /dev/zero or a file every user may write).
// Errors start with the file's path.
func readConfigFile(path string, c *config) error {
	data, err := trustedfile.Read(path, trustedfile.Options{Limit: maxConfigBytes, Consequence: "anyone could make the canary pass", Pipes: true})
	if err != nil {
		return fmt.Errorf("--config %s %v", path, err)
	}
	f, err := decodeJudgeFile(data)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	c.metrics = f.Metrics
	for _, dst := range []struct {
		v   *float64
		dst *float64
	}{{f.Confidence, &c.confidence}, {f.PassScore, &c.passScore}, {f.MarginalScore, &c.marginalScore}} {
		if dst.v != nil {
			*dst.dst = *dst.v
		}
	}
	c.lowerDefaultMarginal(f.MarginalScore != nil)
	if f.FailOnMarginal != nil {
		c.failOnMarginal = *f.FailOnMarginal
	}
	c.groupWeights, err = weights(f.GroupWeights, configNamer(path))
	return err
}

// decodeJudgeFile decodes the file, refusing unknown keys at every level
// with the key's position: metrics[1]: unknown key "directon".
func decodeJudgeFile(data []byte) (judgeFile, error) {
	var f judgeFile
	doc, err := strictyaml.Document(data)
	switch {
	case errors.Is(err, strictyaml.ErrManyDocuments):
		return f, err
	case err != nil:
		return f, fmt.Errorf("not YAML: %v", err)
	case doc == nil || doc.Kind != yaml.MappingNode:
		return f, errors.New("want a mapping with a metrics list (metrics: [{name: ..., canary_query: ..., baseline_query: ...}])")
	}
	if err := knownKeys(doc, "", fileKeys); err != nil {
		return f, err
	}
	if m := value(doc, "metrics"); m != nil {
		if m.Kind != yaml.SequenceNode {
			return f, errors.New("metrics must be a list of metrics")
		}
		for i, item := range m.Content {
			where := fmt.Sprintf("metrics[%d]", i)
			if item.Kind != yaml.MappingNode {
				return f, fmt.Errorf("%s must be a mapping such as {name: latency, canary_query: ..., baseline_query: ...}", where)
			}
			if err := knownKeys(item, where, metricKeys); err != nil {
				return f, err
			}
			if e := value(item, "effect_size"); e != nil {
				if e.Kind != yaml.MappingNode {
					return f, fmt.Errorf("%s.effect_size must be a mapping", where)
				}
				if err := knownKeys(e, where+".effect_size", effectSizeKeys); err != nil {
					return f, err
				}
			}
		}
	}
	if err := doc.Decode(&f); err != nil {
		return f, err
	}
	return f, nil
}

func knownKeys(m *yaml.Node, where string, known []string) error {
	for i := 0; i < len(m.Content); i += 2 {
		if k := m.Content[i].Value; !slices.Contains(known, k) {
			if where != "" {
				where += ": "
			}
			return fmt.Errorf("%sunknown key %q (known: %s)", where, k, strings.Join(known, ", "))
		}
	}
	return nil
}

// value is the value of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
