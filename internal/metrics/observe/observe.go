// Package observe wires internal/metrics and internal/logging into a module
// or CLI in a few lines: the options and flags every module adds, their
// validation, and one Run that holds the run's Recorder and Logger.
//
// In a module handler:
//
//	obs, err := observe.Begin(m)                       // validates name, metrics_textfile, pushgateway_url; job = short module name
//	if err != nil {
//		return nil, err
//	}
//	defer obs.FinishModule(m)                         // publishes (not in check mode); failures become warnings
//	...
//	obs.Metrics.RecordRetry(...)                      // and obs.Log.RetryAttempt(...) per attempt
//
// In a CLI:
//
//	var of observe.Flags
//	of.Register(fs)                                   // --metrics-textfile, --pushgateway-url, --no-syslog
//	if err := observe.CheckName("--name", name); err != nil { ... }
//	obs, err := observe.Start(of.Config("retry_command", name))
//	defer obs.FinishCLI(os.Stderr)
package observe

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
)

// Option names, the same in every module. Each module declares OptionName
// itself (its documentation says what the name is of); Options adds the
// other two.
const (
	OptionTextfile    = "metrics_textfile"
	OptionPushgateway = "pushgateway_url"
	OptionName        = "name"
)

// SyslogSocketEnv, when set, replaces /dev/log as the system log socket:
// for containers whose log socket lives elsewhere, and for tests (including
// Ansible-level ones, through the task's environment) that read the lines
// from a socket of their own.
const SyslogSocketEnv = "THREADER_GUARD_SYSLOG_SOCKET"

// publishTimeout bounds Finish: metrics must not hold up a deployment.
const publishTimeout = 15 * time.Second

// Options returns the argument_spec entries every module adds.
// pushgateway_url is not no_log; a password in it (http://user:pass@host)
// is added to the module's masker by FromModule and sent as basic auth.
func Options() map[string]ansiblemod.Option {
	return map[string]ansiblemod.Option{
		OptionTextfile:    {Type: ansiblemod.Path},
		OptionPushgateway: {Type: ansiblemod.Str},
	}
}

// WithOptions adds Options to a module's option map and returns it, so a
// spec can be written as Spec{Options: observe.WithOptions(map[...]{...})}.
func WithOptions(opts map[string]ansiblemod.Option) map[string]ansiblemod.Option {
	for k, v := range Options() {
		opts[k] = v
	}
	return opts
}

// Config is everything a Run needs; FromModule and Flags.Config fill it.
type Config struct {
	Module         string // module or CLI name: Pushgateway job, syslog module= field
	Name           string // user-given name: `name` label, name= field; "" means Module
	Textfile       string // metrics_textfile / --metrics-textfile; "" = none
	PushgatewayURL string // pushgateway_url / --pushgateway-url; "" = none
	// SyslogTag is the system log identifier; "" means "ansible-<Module>"
	// as Ansible's modules use.
	SyslogTag string
	// NoSyslog turns the system log off (CLI --no-syslog).
	NoSyslog bool
	// CLI makes errors name the flags (--metrics-textfile) instead of the
	// module options (metrics_textfile).
	CLI bool
	// NoLog is the task's no_log: nothing is written to the system log.
	NoLog bool
	// CheckMode skips publishing: a check run changes nothing, metrics
	// files included.
	CheckMode bool
	// Mask hides no_log values in labels and log lines.
	Mask func(string) string
	// SyslogSocket, Instance and Clock are for tests; zero values mean
	// $THREADER_GUARD_SYSLOG_SOCKET or /dev/log, the host name and the
	// wall clock.
	SyslogSocket string
	Instance     string
	Clock        clock.Clock
}

// Run is one run's observability: its metrics, its log, where to publish.
type Run struct {
	Metrics *metrics.Recorder
	Log     *logging.Logger
	cfg     Config
}

// Start checks the destinations, creates the Recorder and opens the system
// log. Errors name the option and what is wrong; nothing is written yet.
func Start(cfg Config) (*Run, error) {
	if cfg.Textfile != "" {
		if err := metrics.CheckTextfilePath(cfg.Textfile); err != nil {
			return nil, errors.New(cfg.describe(err))
		}
	}
	if cfg.PushgatewayURL != "" {
		if _, _, err := metrics.ParsePushgatewayURL(cfg.PushgatewayURL); err != nil {
			return nil, errors.New(cfg.describe(err))
		}
	}
	if cfg.Name != "" {
		if err := metrics.ValidateName(cfg.Name); err != nil {
			return nil, fmt.Errorf("%v (it becomes a metric label)", err)
		}
	}
	rec, err := metrics.New(metrics.Options{Module: cfg.Module, Name: cfg.Name, Instance: cfg.Instance, Mask: cfg.Mask, Clock: cfg.Clock})
	if err != nil {
		return nil, err
	}
	tag := cfg.SyslogTag
	if tag == "" {
		tag = "ansible-" + cfg.Module
	}
	socket := cfg.SyslogSocket
	if socket == "" {
		socket = os.Getenv(SyslogSocketEnv)
	}
	log := logging.Open(logging.Options{Tag: tag, Module: cfg.Module, Name: rec.Name(), SocketPath: socket,
		Mask: cfg.Mask, Disabled: cfg.NoLog || cfg.NoSyslog, Clock: cfg.Clock})
	return &Run{Metrics: rec, Log: log, cfg: cfg}, nil
}

// Begin starts a module's Run: it checks the `name` option (the metrics'
// `name` label and name= of the log lines; empty means the module's short
// name) with an error naming it as Ansible names options ("value of name
// ..."), then does what FromModule does.
func Begin(m *ansiblemod.Module) (*Run, error) {
	name := m.Str(OptionName)
	if err := CheckName("value of "+OptionName, name); err != nil {
		return nil, err
	}
	return FromModule(m, name)
}

// CheckName is CheckLabel for a module's `name` option or a CLI's --name,
// where "" is allowed: it means the module's name.
func CheckName(option, name string) error {
	if name == "" {
		return nil
	}
	return CheckLabel(option, name)
}

// CheckLabel says why value cannot be a metric label value (empty after
// trimming, too long, control characters), naming option as the user
// wrote it ("value of name", "--name", "checks[2].name"), or returns nil.
// The modules check names with it before doing anything, so a bad one fails
// the task up front instead of leaving a run without metrics.
func CheckLabel(option, value string) error {
	var lerr *metrics.LabelValueError
	if err := metrics.ValidateName(value); errors.As(err, &lerr) {
		return errors.New(lerr.Describe(option))
	} else if err != nil {
		return err
	}
	return nil
}

// FromModule starts a Run from a module's metrics_textfile and
// pushgateway_url options, its no_log, check mode and masker. name is the
// user-given name ("" for the module name).
func FromModule(m *ansiblemod.Module, name string) (*Run, error) {
	return FromModuleWith(m, Config{Name: name})
}

// FromModuleWith is FromModule with base's Name, SyslogTag, SyslogSocket,
// Instance and Clock kept; the other fields come from m.
//
// The module name is the short name (ShortName of m.Name): m.Name is what
// the task called, usually the FQCN threader.guard.qos_guard, while the
// documented Pushgateway job, syslog identifier (ansible-qos_guard) and
// module= field are qos_guard.
func FromModuleWith(m *ansiblemod.Module, base Config) (*Run, error) {
	push := m.Str(OptionPushgateway)
	if push != "" {
		if _, user, err := metrics.ParsePushgatewayURL(push); err == nil && user != nil {
			if pass, ok := user.Password(); ok && pass != "" {
				m.Masker().Add(pass)
			}
		}
	}
	cfg := base
	cfg.Module, cfg.Textfile, cfg.PushgatewayURL = ShortName(m.Name), m.Str(OptionTextfile), push
	cfg.NoLog, cfg.CheckMode, cfg.Mask, cfg.CLI = m.NoLog, m.CheckMode, m.Mask, false
	return Start(cfg)
}

// ShortName is a module name without its collection: the part after the
// last dot of threader.guard.slo_check (or ansible.legacy.slo_check), and a
// short name as it is.
func ShortName(module string) string {
	return module[strings.LastIndex(module, ".")+1:]
}

// Publishing reports whether Finish will publish anything.
func (r *Run) Publishing() bool {
	return !r.cfg.CheckMode && (r.cfg.Textfile != "" || r.cfg.PushgatewayURL != "")
}

// Finish publishes the metrics (unless in check mode) and closes the log.
// The error says which destination failed; modules report it as a warning
// rather than failing a deployment step that itself succeeded.
func (r *Run) Finish(ctx context.Context) error {
	defer r.Log.Close()
	if !r.Publishing() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := r.Metrics.Publish(ctx, r.cfg.Textfile, r.cfg.PushgatewayURL); err != nil {
		return fmt.Errorf("metrics not published: %s", r.cfg.describe(err))
	}
	return nil
}

// describe writes a metrics error naming each destination as this
// configuration's option or flag: metrics.DestinationError carries the
// field, so the name is chosen here, once, and never patched into a text.
func (c Config) describe(err error) string {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range joined.Unwrap() {
			parts = append(parts, c.describe(e))
		}
		return strings.Join(parts, "\n")
	}
	var de *metrics.DestinationError
	if !errors.As(err, &de) {
		return err.Error()
	}
	option := c.option(map[string]string{metrics.FieldTextfile: OptionTextfile, metrics.FieldPushgateway: OptionPushgateway}[de.Field])
	if de.Target == "" {
		return option + ": " + de.Err.Error()
	}
	return option + " " + de.Target + ": " + de.Err.Error()
}

// option is how errors name an option: the module option or the CLI flag.
func (c Config) option(name string) string {
	if !c.CLI {
		return name
	}
	return "--" + strings.ReplaceAll(name, "_", "-")
}

// FinishModule is Finish for a module handler: a failure becomes a warning
// of the task.
func (r *Run) FinishModule(m *ansiblemod.Module) {
	if err := r.Finish(context.Background()); err != nil {
		m.Warn("%v", err)
	}
}

// FinishCLI is Finish for a CLI: a failure is printed to stderr as a
// warning and does not change the exit code.
func (r *Run) FinishCLI(stderr io.Writer) {
	if err := r.Finish(context.Background()); err != nil {
		fmt.Fprintf(stderr, "%s: warning: %v\n", r.cfg.Module, err)
	}
}

// Flags are the CLI flags every tool adds.
type Flags struct {
	Textfile       string
	PushgatewayURL string
	NoSyslog       bool
}

// Register adds --metrics-textfile, --pushgateway-url and --no-syslog.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Textfile, "metrics-textfile", "", "write metrics to this .prom file for node_exporter's textfile collector")
	fs.StringVar(&f.PushgatewayURL, "pushgateway-url", "", "push metrics to this Pushgateway (http://host:9091)")
	fs.BoolVar(&f.NoSyslog, "no-syslog", false, "do not log events to the system log (/dev/log)")
}

// Config returns the Run configuration of a CLI invocation. The syslog
// identifier is the tool's name (not ansible-...).
func (f Flags) Config(module, name string) Config {
	return Config{Module: module, Name: name, Textfile: f.Textfile, PushgatewayURL: f.PushgatewayURL,
		NoSyslog: f.NoSyslog, SyslogTag: module, CLI: true}
}
