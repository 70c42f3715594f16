package qosguard

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/threader/guard/internal/atomicfile"
	"github.com/threader/guard/internal/auditlog"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/freeze"
	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/guard/etcdstore"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/metrics/observe"
)

const usage = `usage: qos_guard [flags] lock [minutes] | unlock | status | freezes | watch [watch flags]

Guard-window lock for deployments (drop-in for qos_guard.sh).
  lock [minutes]  lock for at least this many minutes, 0.1 = 6 s (default $QOS_GUARD_WINDOW or 15)
                  --exclusive: only if unlocked, expired or held by --owner
                  --hold (with --exclusive): a deployment in progress
  unlock          release the lock; --if-revision N: only if still at revision N
  status          exit 0 when unlocked and not frozen, 1 when locked or frozen
                  --freeze-file F: the freeze calendar; --at T: as of an RFC 3339 time
                  --break-glass --reason R: exit 0 while locked or frozen, recorded in the audit log
  freezes         list the freeze windows with their next (or current) start and end
  watch           release the guard when the SLO gate is stable (qos_guard watch -h)
Exit codes: 0 ok/unlocked, 1 locked, refused or failed, 2 usage error,
128+N interrupted by signal N (SIGINT, SIGTERM, SIGHUP).
Locks, unlocks and break-glass uses are appended to the audit log (--audit-log);
an unlock or a break-glass that cannot be recorded there does not happen.
With --metrics-textfile or --pushgateway-url the guard's state is published
as metrics; lock changes are logged to the system log (see docs/metrics.md).

flags:
`

// Exit codes of the old qos_guard.sh.
const (
	exitOK     = 0
	exitLocked = 1
	exitUsage  = 2
)

type cliOptions struct {
	path, reason, owner, name string
	freezeFile, at, auditLog  string
	breakGlass                bool
	json, force, exclusive    bool
	hold                      bool
	ownerGiven                bool  // --owner was given (the default is the user)
	ifRevision                int64 // -1: not given
	wait, lockTimeout         time.Duration
	observe                   observe.Flags
	backend, endpoints        string
	etcd                      etcdstore.Config // Endpoints from endpoints; Password from QOS_GUARD_ETCD_PASSWORD
}

// cliFlags names, once, the flag, argument or variable of each field the
// guard and the etcd store name in a *fielderr.Error, so it reads in the
// user's words.
var cliFlags = map[string]string{
	guard.FieldDuration:    "minutes",
	guard.FieldReason:      "--reason",
	guard.FieldOwner:       "--owner",
	guard.FieldLockTimeout: "--lock-timeout",
	guard.FieldIfRevision:  "--if-revision",

	etcdstore.FieldEndpoints: "--etcd-endpoints", etcdstore.FieldPrefix: "--etcd-prefix", etcdstore.FieldScope: "--scope",
	etcdstore.FieldUsername: "--etcd-username", etcdstore.FieldPassword: "QOS_GUARD_ETCD_PASSWORD",
	etcdstore.FieldCACert: "--etcd-ca-cert", etcdstore.FieldClientCert: "--etcd-client-cert",
	etcdstore.FieldClientKey: "--etcd-client-key", etcdstore.FieldTimeout: "--etcd-timeout",
}

// cliError names the flag of a refused value, or the freeze file that
// could not be used, as the user wrote it.
func cliError(err error) error {
	var file *freeze.FileError
	if errors.As(err, &file) {
		return errors.New(file.Describe("--freeze-file"))
	}
	if _, ok := fielderr.As(err); ok {
		return errors.New(fielderr.Rename(err, fielderr.Names(cliFlags)))
	}
	var timeout *atomicfile.LockTimeoutError
	if errors.As(err, &timeout) {
		return fmt.Errorf("%w (--lock-timeout sets how long to wait)", err)
	}
	return err
}

func runCLI(args []string) int {
	if guardArgs, watchArgs, ok := splitWatch(args); ok {
		return runWatch(guardArgs, watchArgs) // a service: SIGHUP reloads, SIGTERM exits 0
	}
	ctx, stop := interrupt.Context(context.Background()) // a signal stops --wait, never a write half-way
	defer stop()
	return interrupt.ExitCode(ctx, cliContext(ctx, args, os.Stdout, os.Stderr))
}

func cli(args []string, stdout, stderr io.Writer) int {
	return cliContext(context.Background(), args, stdout, stderr)
}

func cliContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, cmd, rest, err := parseCLI(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", err)
		return exitUsage
	}
	duration, err := checkCommand(cmd, rest)
	if err == nil {
		err = checkFlagsFit(cmd, opts)
	}
	if err != nil {
		return usageError(stderr, err.Error())
	}
	at, err := cliAt(opts)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	cal := &freeze.Calendar{} // lock and unlock never read the calendar: a bad one must not stop a lock
	if cmd == "status" || cmd == "freezes" {
		cal, err = loadCalendar(nil, opts.freezeFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", cliError(err))
		return exitLocked // fail closed: a freeze that cannot be read is not "no freeze"
	}
	if cmd == "freezes" {
		return listFreezes(stdout, opts, cal, at)
	}
	obs, err := startCLIObserving(opts)
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", err)
		return exitUsage
	}
	defer obs.FinishCLI(stderr) // publishing failures are warnings, the exit code stays
	g, closeGuard, err := openGuard(opts.backend, opts.path, opts.lockTimeout, opts.etcd)
	if err != nil {
		return usageError(stderr, cliError(err).Error())
	}
	defer closeGuard()
	switch cmd {
	case "lock":
		if opts.exclusive && !opts.ownerGiven {
			fmt.Fprintf(stderr, "qos_guard: warning: --exclusive without --owner: every run as %s counts as the same holder; give an --owner that identifies the run\n", opts.owner)
		}
		ch, err := g.Lock(guard.LockOptions{
			Duration: duration, Reason: opts.reason, Owner: opts.owner,
			Force: opts.force, Exclusive: opts.exclusive, Hold: opts.hold,
		})
		if err == nil {
			observeChange(obs, ch, false, false)
			if ch.Changed {
				if err := cliAuditLog(opts).Record(changeEntry(ch, false, opts.owner, opts.reason)); err != nil {
					fmt.Fprintf(stderr, "qos_guard: warning: the guard is locked, but the lock could not be recorded in --audit-log: %v\n", err)
				}
			}
		}
		return report(stdout, stderr, opts, ch.After, ch.Changed, err, exitOK)
	case "unlock":
		return cliUnlock(stdout, stderr, opts, g, obs)
	}
	if opts.at != "" {
		g.Clock = clock.NewFake(at)
	}
	st, err := g.WaitUnlocked(ctx, opts.wait, pollEvery)
	if opts.at == "" {
		at = time.Now()
	}
	fr := cal.At(at)
	code := exitOK
	if err == nil && opts.at == "" {
		observeStatus(obs, st, fr)
		defer observeBreakGlassCount(obs, cliAuditLog(opts), st.Path) // after a break-glass line
	}
	if st.Locked || fr.Frozen {
		code = exitLocked
	}
	if err == nil && code == exitLocked && opts.breakGlass {
		return cliBreakGlass(stdout, stderr, opts, st, fr, obs)
	}
	return reportStatus(stdout, stderr, opts, st, fr, err, code)
}

func cliAuditLog(opts cliOptions) auditlog.Log {
	log := auditlog.Log{Path: opts.auditLog}
	if pw := opts.etcd.Password; pw != "" {
		log.Mask = func(s string) string { return strings.ReplaceAll(s, pw, "********") }
	}
	return log
}

// cliUnlock releases the guard through the audit log (auditedGuard): an
// unlock that cannot be recorded does not happen.
func cliUnlock(stdout, stderr io.Writer, opts cliOptions, g *guard.Guard, obs *observe.Run) int {
	uo := guard.UnlockOptions{Reason: opts.reason, Owner: opts.owner}
	if opts.ifRevision >= 0 {
		uo.IfRevision = &opts.ifRevision
	}
	ch, err := auditedGuard{g, cliAuditLog(opts)}.Unlock(uo)
	var ae *auditError
	if err == nil || errors.As(err, &ae) && ae.Unlocked {
		observeChange(obs, ch, true, false)
	}
	if ae != nil {
		err = errors.New(ae.describe("--audit-log"))
	}
	return report(stdout, stderr, opts, ch.After, ch.Changed, err, exitOK)
}

// cliBreakGlass exits 0 while locked or frozen once the override is
// recorded; one that cannot be recorded does not happen (exit 1).
func cliBreakGlass(stdout, stderr io.Writer, opts cliOptions, st guard.Status, fr freeze.State, obs *observe.Run) int {
	entry := breakGlassEntry(st, fr, opts.owner, opts.reason)
	if err := cliAuditLog(opts).Record(entry); err != nil {
		fmt.Fprintf(stderr, "qos_guard: --break-glass refused: the override could not be recorded in --audit-log: %v\n", err)
		reportStatus(stdout, io.Discard, opts, st, fr, nil, exitLocked)
		return exitLocked
	}
	observeBreakGlass(obs, entry)
	msg := breakGlassMessage(opts.owner, opts.reason, st, fr)
	fmt.Fprintf(stderr, "qos_guard: warning: %s\n", msg)
	if !opts.json {
		fmt.Fprintln(stdout, msg)
		return exitOK
	}
	fields := st.Fields()
	for k, v := range freezeFields(fr) {
		fields[k] = v
	}
	fields["backend"], fields["changed"], fields["msg"], fields["break_glass_used"] = opts.backend, false, msg, true
	json.NewEncoder(stdout).Encode(fields)
	return exitOK
}

// cliAt reads --at: status and freezes only, no --wait, nothing published.
func cliAt(opts cliOptions) (time.Time, error) {
	if opts.at == "" {
		return time.Time{}, nil
	}
	if opts.wait != 0 {
		return time.Time{}, errors.New("--at cannot be given with --wait: a what-if evaluation does not wait")
	}
	if opts.observe.Textfile != "" || opts.observe.PushgatewayURL != "" {
		return time.Time{}, errors.New("--at cannot be given with --metrics-textfile or --pushgateway-url: a what-if evaluation publishes nothing")
	}
	return parseAt("--at", opts.at)
}

// checkCommand checks the command and its arguments before anything runs;
// for lock it returns the minutes.
func checkCommand(cmd string, rest []string) (time.Duration, error) {
	switch cmd {
	case "lock":
		return lockMinutes(rest)
	case "unlock", "status", "freezes":
		if len(rest) > 0 {
			return 0, fmt.Errorf("%s takes no arguments", cmd)
		}
		return 0, nil
	}
	return 0, fmt.Errorf("unknown command %q (want lock, unlock, status or freezes)", cmd)
}

// checkFlagsFit refuses flags that have no meaning for the command.
func checkFlagsFit(cmd string, opts cliOptions) error {
	if opts.exclusive && cmd != "lock" {
		return fmt.Errorf("--exclusive is only valid with lock, not %s", cmd)
	}
	if opts.hold && (cmd != "lock" || !opts.exclusive) {
		return fmt.Errorf("--hold is only valid with lock --exclusive")
	}
	if opts.ifRevision >= 0 && cmd != "unlock" {
		return fmt.Errorf("--if-revision is only valid with unlock, not %s", cmd)
	}
	if opts.at != "" && cmd != "status" && cmd != "freezes" {
		return fmt.Errorf("--at is only valid with status and freezes, not %s", cmd)
	}
	if opts.breakGlass {
		if cmd != "status" {
			return fmt.Errorf("--break-glass is only valid with status, not %s", cmd)
		}
		if opts.at != "" {
			return errors.New("--break-glass cannot be given with --at: a what-if evaluation overrides nothing")
		}
		if err := checkBreakGlassReason("--reason", opts.reason); err != nil {
			return err
		}
	}
	if !filepath.IsAbs(opts.auditLog) {
		return fmt.Errorf("--audit-log must be an absolute path, got %q", opts.auditLog)
	}
	if cmd == "freezes" && opts.freezeFile == "" {
		return errors.New("freezes needs --freeze-file (or QOS_GUARD_FREEZE_FILE)")
	}
	return nil
}

// startCLIObserving starts the run's metrics (--metrics-textfile,
// --pushgateway-url) and its system log (unless --no-syslog), named --name.
func startCLIObserving(opts cliOptions) (*observe.Run, error) {
	if err := observe.CheckName("--name", opts.name); err != nil {
		return nil, err
	}
	return observe.Start(opts.observe.Config(moduleName, opts.name))
}

// lockMinutes reads the lock's minutes, fractions included (0.1 is 6
// seconds), at least 1 second and at most MaxLockMinutes.
func lockMinutes(rest []string) (time.Duration, error) {
	text, from := "15", "default"
	if env, ok := os.LookupEnv("QOS_GUARD_WINDOW"); ok && env != "" {
		text, from = env, "QOS_GUARD_WINDOW"
	}
	switch len(rest) {
	case 0:
	case 1:
		text, from = rest[0], "minutes"
	default:
		return 0, errors.New("lock takes at most one argument: minutes")
	}
	n, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(n) || n*60 < 1 || n > guard.MaxLockMinutes {
		return 0, fmt.Errorf("%s must be a number of minutes from 1 second (0.0167) to %d (one year), got %q", from, guard.MaxLockMinutes, text)
	}
	return time.Duration(math.Round(n*60*1000)) * time.Millisecond, nil
}

// parseCLI accepts flags before and after the command, as people type them.
func parseCLI(args []string, stderr io.Writer) (cliOptions, string, []string, error) {
	opts := cliOptions{path: guard.DefaultPath, owner: currentUser(), backend: backendFile, auditLog: auditlog.DefaultPath}
	opts.etcd = etcdstore.Config{Scope: etcdstore.DefaultScope, Prefix: etcdstore.DefaultPrefix}
	for env, into := range map[string]*string{
		"QOS_GUARD_PATH": &opts.path, "QOS_GUARD_BACKEND": &opts.backend,
		"QOS_GUARD_ETCD_ENDPOINTS": &opts.endpoints, "QOS_GUARD_SCOPE": &opts.etcd.Scope,
		"QOS_GUARD_FREEZE_FILE": &opts.freezeFile, "QOS_GUARD_AUDIT_LOG": &opts.auditLog,
	} {
		if v := os.Getenv(env); v != "" {
			*into = v
		}
	}
	opts.etcd.Password = os.Getenv("QOS_GUARD_ETCD_PASSWORD") // never a flag: command lines are visible to every user
	fs := flag.NewFlagSet("qos_guard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&opts.path, "path", opts.path, "lock file (absolute; env QOS_GUARD_PATH)")
	fs.StringVar(&opts.reason, "reason", "", "why the guard is locked (lock)")
	fs.StringVar(&opts.owner, "owner", opts.owner, "who locks it (lock)")
	fs.BoolVar(&opts.force, "force", false, "set the expiry exactly, even earlier than the current one (lock)")
	fs.BoolVar(&opts.exclusive, "exclusive", false, "lock only if unlocked, expired or already held by --owner; else exit 1 naming the holder (lock)")
	fs.BoolVar(&opts.hold, "hold", false, "with --exclusive: a deployment in progress; unlock --if-revision by anyone else is refused until --owner locks again without --hold or unlocks (lock)")
	fs.Int64Var(&opts.ifRevision, "if-revision", -1, "unlock only if the guard is still at this revision; else exit 1 saying who changed it (unlock)")
	fs.DurationVar(&opts.lockTimeout, "lock-timeout", guard.DefaultLockTimeout, "wait at most this long for another writer's PATH.lock (lock, unlock)")
	fs.DurationVar(&opts.wait, "wait", 0, "wait up to this long for the guard to unlock, e.g. 5m (status)")
	fs.BoolVar(&opts.json, "json", false, "print the result as JSON")
	fs.StringVar(&opts.freezeFile, "freeze-file", opts.freezeFile, "YAML file of freeze_windows; status exits 1 while one is active (env QOS_GUARD_FREEZE_FILE)")
	fs.StringVar(&opts.auditLog, "audit-log", opts.auditLog, "append-only JSON-lines log of locks, unlocks and break-glass uses (env QOS_GUARD_AUDIT_LOG)")
	fs.BoolVar(&opts.breakGlass, "break-glass", false, "exit 0 while locked or frozen, with --reason; recorded in the audit log (status)")
	fs.StringVar(&opts.at, "at", "", "evaluate as of this RFC 3339 time instead of now; nothing is written (status, freezes)")
	fs.StringVar(&opts.name, "name", "", "name of the guard in metrics and log lines (default qos_guard)")
	fs.StringVar(&opts.backend, "backend", opts.backend, "where the guard lives: file or etcd (env QOS_GUARD_BACKEND)")
	fs.StringVar(&opts.endpoints, "etcd-endpoints", opts.endpoints, "etcd members' client URLs, comma-separated (env QOS_GUARD_ETCD_ENDPOINTS)")
	fs.StringVar(&opts.etcd.Scope, "scope", opts.etcd.Scope, "the guard's name with the etcd backend (env QOS_GUARD_SCOPE)")
	fs.StringVar(&opts.etcd.Prefix, "etcd-prefix", opts.etcd.Prefix, "etcd key prefix; the guard is the key prefix+scope")
	fs.StringVar(&opts.etcd.Username, "etcd-username", "", "etcd user (its password from env QOS_GUARD_ETCD_PASSWORD)")
	fs.StringVar(&opts.etcd.CACert, "etcd-ca-cert", "", "CA certificate (PEM) for the etcd members' certificates")
	fs.StringVar(&opts.etcd.ClientCert, "etcd-client-cert", "", "client certificate (PEM) for etcd")
	fs.StringVar(&opts.etcd.ClientKey, "etcd-client-key", "", "client certificate's key (PEM) for etcd")
	fs.DurationVar(&opts.etcd.Timeout, "etcd-timeout", etcdstore.DefaultTimeout, "fail closed when etcd has not answered within this long")
	opts.observe.Register(fs)
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return opts, "", nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	if len(positional) == 0 {
		fs.Usage()
		return opts, "", nil, errors.New("missing command")
	}
	if opts.wait < 0 || opts.wait > maxWaitSeconds*time.Second {
		return opts, "", nil, fmt.Errorf("--wait must be between 0s and %s, got %s", maxWaitSeconds*time.Second, opts.wait)
	}
	if opts.lockTimeout <= 0 || opts.lockTimeout > guard.MaxLockTimeout {
		return opts, "", nil, fmt.Errorf("--lock-timeout must be more than 0s and at most %s, got %s", guard.MaxLockTimeout, opts.lockTimeout)
	}
	if err := checkBackendFlags(fs, &opts); err != nil {
		return opts, "", nil, err
	}
	opts.ownerGiven = flagGiven(fs, "owner")
	if opts.ifRevision < -1 || opts.ifRevision > guard.MaxRevision || (opts.ifRevision == -1 && flagGiven(fs, "if-revision")) {
		return opts, "", nil, fmt.Errorf("--if-revision must be between 0 and %d, got %d", int64(guard.MaxRevision), opts.ifRevision)
	}
	return opts, positional[0], positional[1:], nil
}

// checkBackendFlags checks --backend and refuses flags of the other
// backend, so a guard is never silently a different one than meant.
func checkBackendFlags(fs *flag.FlagSet, opts *cliOptions) error {
	switch opts.backend {
	case backendFile:
		for _, name := range []string{"etcd-endpoints", "scope", "etcd-prefix", "etcd-username", "etcd-ca-cert", "etcd-client-cert", "etcd-client-key", "etcd-timeout"} {
			if flagGiven(fs, name) {
				return fmt.Errorf("--%s is only valid with --backend etcd", name)
			}
		}
	case backendEtcd:
		if flagGiven(fs, "path") {
			return errors.New("--path is only valid with --backend file; the etcd guard is the key --etcd-prefix + --scope")
		}
		// An empty value (an unset variable in a script, say) must not
		// become the default guard that another service shares.
		for _, f := range []struct{ flag, value string }{{"--scope", opts.etcd.Scope}, {"--etcd-prefix", opts.etcd.Prefix}} {
			if f.value == "" {
				return fmt.Errorf("%s must not be empty: it names the guard", f.flag)
			}
		}
		if opts.etcd.Timeout <= 0 || opts.etcd.Timeout > etcdstore.MaxTimeout {
			return fmt.Errorf("--etcd-timeout must be more than 0s and at most %s, got %s", etcdstore.MaxTimeout, opts.etcd.Timeout)
		}
		opts.etcd.Endpoints = splitEndpoints(opts.endpoints)
	default:
		return fmt.Errorf("--backend must be file or etcd, got %q", opts.backend)
	}
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// currentUser is the remote user: the one who logged in, even under sudo/become.
func currentUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "qos_guard: %s\n%s", msg, "run 'qos_guard -h' for usage\n")
	return exitUsage
}

func report(stdout, stderr io.Writer, opts cliOptions, st guard.Status, changed bool, err error, code int) int {
	if _, bad := fielderr.As(err); bad {
		return usageError(stderr, cliError(err).Error())
	}
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", cliError(err))
		if opts.json && errors.Is(err, guard.ErrRefused) {
			writeJSON(stdout, opts, st, false, err.Error()) // the holder as read, with its revision
		}
		return exitLocked // fail closed: a guard that cannot be read or written does not let a deployment through
	}
	if st.Warning != "" {
		fmt.Fprintf(stderr, "qos_guard: warning: %s\n", st.Warning)
	}
	if opts.json {
		writeJSON(stdout, opts, st, changed, st.Message())
	} else {
		fmt.Fprintln(stdout, st.Message())
	}
	return code
}

// reportStatus is report for status: the lock and the freeze.
func reportStatus(stdout, stderr io.Writer, opts cliOptions, st guard.Status, fr freeze.State, err error, code int) int {
	if err != nil {
		return report(stdout, stderr, opts, st, false, err, code)
	}
	if st.Warning != "" {
		fmt.Fprintf(stderr, "qos_guard: warning: %s\n", st.Warning)
	}
	if !opts.json {
		fmt.Fprintln(stdout, gateMessage(st, fr))
		return code
	}
	fields := st.Fields()
	for k, v := range freezeFields(fr) {
		fields[k] = v
	}
	fields["backend"] = opts.backend
	fields["changed"] = false
	fields["msg"] = gateMessage(st, fr)
	fields["break_glass_used"] = false
	json.NewEncoder(stdout).Encode(fields)
	return code
}

// listFreezes prints each window with its current or next occurrence.
func listFreezes(stdout io.Writer, opts cliOptions, cal *freeze.Calendar, at time.Time) int {
	if at.IsZero() {
		at = time.Now()
	}
	fr := cal.At(at)
	occs := cal.Upcoming(at)
	if opts.json {
		windows := make([]map[string]any, 0, len(occs))
		for _, o := range occs {
			windows = append(windows, map[string]any{"name": o.Window, "active": !o.Start.After(at),
				"starts_at": timeOrNil(o.Start), "ends_at": timeOrNil(o.End)})
		}
		out := freezeFields(fr)
		out["at"] = timeOrNil(at)
		out["windows"] = windows
		json.NewEncoder(stdout).Encode(out)
	} else {
		for _, o := range occs {
			state := "next"
			if !o.Start.After(at) {
				state = "ACTIVE"
			}
			fmt.Fprintf(stdout, "%-6s %s  %s -> %s\n", state, o.Window, o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339))
		}
		if len(occs) == 0 {
			fmt.Fprintln(stdout, "no freeze window is active or ahead")
		}
	}
	return exitOK
}

func writeJSON(stdout io.Writer, opts cliOptions, st guard.Status, changed bool, msg string) {
	fields := st.Fields()
	fields["backend"] = opts.backend
	fields["changed"] = changed
	fields["msg"] = msg
	json.NewEncoder(stdout).Encode(fields)
}
