// Package qosguard is the threader.guard.qos_guard Ansible module and the
// qos_guard CLI (a drop-in for qos_guard.sh): thin front ends over
// internal/guard. modules/qos_guard builds it as a program of its own; the
// multi-call binary links it with the other modules.
package qosguard

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/atomicfile"
	"github.com/threader/guard/internal/auditlog"
	"github.com/threader/guard/internal/clock"
	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/freeze"
	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/guard/etcdstore"
	"github.com/threader/guard/internal/metrics/observe"
)

// spec adds metrics_textfile and pushgateway_url (observe.WithOptions) and
// name, the `name` label of the metrics and name= of the log lines.
var spec = ansiblemod.Spec{
	Options: observe.WithOptions(map[string]ansiblemod.Option{
		"state":                {Type: ansiblemod.Str, Default: "status", Choices: []any{"locked", "unlocked", "status"}},
		"path":                 {Type: ansiblemod.Path, Default: guard.DefaultPath},
		"minutes":              {Type: ansiblemod.Float, Default: 15.0},
		"reason":               {Type: ansiblemod.Str},
		"owner":                {Type: ansiblemod.Str},
		"force":                {Type: ansiblemod.Bool, Default: false},
		"fail_when_locked":     {Type: ansiblemod.Bool, Default: false},
		"wait_seconds":         {Type: ansiblemod.Int, Default: 0},
		"name":                 {Type: ansiblemod.Str},
		"exclusive":            {Type: ansiblemod.Bool, Default: false},
		"hold":                 {Type: ansiblemod.Bool, Default: false},
		"if_revision":          {Type: ansiblemod.Int},
		"lock_timeout_seconds": {Type: ansiblemod.Int, Default: int(guard.DefaultLockTimeout / time.Second)},
		"backend":              {Type: ansiblemod.Str, Default: backendFile, Choices: []any{backendFile, backendEtcd}},
		"etcd_endpoints":       {Type: ansiblemod.List, Elements: ansiblemod.Str},
		"scope":                {Type: ansiblemod.Str, Default: etcdstore.DefaultScope},
		"etcd_prefix":          {Type: ansiblemod.Str, Default: etcdstore.DefaultPrefix},
		"etcd_username":        {Type: ansiblemod.Str},
		"etcd_password":        {Type: ansiblemod.Str, NoLog: true},
		"etcd_ca_cert":         {Type: ansiblemod.Path},
		"etcd_client_cert":     {Type: ansiblemod.Path},
		"etcd_client_key":      {Type: ansiblemod.Path},
		"etcd_timeout_seconds": {Type: ansiblemod.Int, Default: int(etcdstore.DefaultTimeout / time.Second)},
		"freeze_windows":       {Type: ansiblemod.List, Elements: ansiblemod.Dict},
		"freeze_file":          {Type: ansiblemod.Path},
		"at":                   {Type: ansiblemod.Str},
		"break_glass":          {Type: ansiblemod.Bool, Default: false},
		"audit_log":            {Type: ansiblemod.Path, Default: auditlog.DefaultPath},
	}),
	SupportsCheckMode: true,
}

// pollEvery is how often status with wait_seconds re-reads the lock.
const pollEvery = time.Second

// Module is qos_guard as the dispatcher runs it.
var Module = ansiblemod.Program{Name: moduleName, LegacyNames: []string{"qos_guard.sh"}, Spec: spec, Handler: runModule, CLI: runCLI}

// moduleOptions names, once, the module option of each field the guard
// and the etcd store name in a *fielderr.Error, so it reads in the user's
// words. A field with no option (a window's, freeze_windows[1].start) is
// already spelled as the user wrote it.
var moduleOptions = map[string]string{
	guard.FieldDuration:    "minutes",
	guard.FieldReason:      "reason",
	guard.FieldOwner:       "owner",
	guard.FieldLockTimeout: "lock_timeout_seconds",
	guard.FieldIfRevision:  "if_revision",

	etcdstore.FieldEndpoints: "etcd_endpoints", etcdstore.FieldPrefix: "etcd_prefix", etcdstore.FieldScope: "scope",
	etcdstore.FieldUsername: "etcd_username", etcdstore.FieldPassword: "etcd_password",
	etcdstore.FieldCACert: "etcd_ca_cert", etcdstore.FieldClientCert: "etcd_client_cert",
	etcdstore.FieldClientKey: "etcd_client_key", etcdstore.FieldTimeout: "etcd_timeout_seconds",
}

// maxWaitSeconds bounds wait_seconds: a day, far from Duration's overflow.
const maxWaitSeconds = 24 * 60 * 60

func runModule(m *ansiblemod.Module) (ansiblemod.Result, error) {
	res, err := runGuard(m)
	if res != nil {
		res["backend"] = m.Str("backend")
	}
	return res, inOptionWords(err)
}

// inOptionWords names the option of a refused value, or the freeze file
// that could not be used, as the user wrote it.
func inOptionWords(err error) error {
	var file *freeze.FileError
	if errors.As(err, &file) {
		return errors.New(file.Describe("freeze_file"))
	}
	if _, ok := fielderr.As(err); ok {
		return errors.New("value of " + fielderr.Rename(err, fielderr.Names(moduleOptions)))
	}
	var timeout *atomicfile.LockTimeoutError
	if errors.As(err, &timeout) {
		return fmt.Errorf("%w (lock_timeout_seconds sets how long to wait)", err)
	}
	return err
}

func runGuard(m *ansiblemod.Module) (ansiblemod.Result, error) {
	if err := checkOptions(m); err != nil {
		return nil, err
	}
	obs, err := observe.Begin(m) // checks name, metrics_textfile, pushgateway_url
	if err != nil {
		return nil, err
	}
	defer obs.FinishModule(m) // publishes unless in check mode; a failure is a warning
	g, closeGuard, err := openGuard(m.Str("backend"), m.Str("path"), time.Duration(m.Int("lock_timeout_seconds"))*time.Second, etcdConfig(m))
	if err != nil {
		return nil, err
	}
	defer closeGuard()
	owner := m.Str("owner")
	if owner == "" {
		owner = currentUser()
	}
	switch m.Str("state") {
	case "locked":
		duration, err := guard.MinutesDuration(m.Float("minutes"))
		if err != nil {
			return nil, err
		}
		if m.Bool("exclusive") && !m.IsSet("owner") {
			m.Warn("exclusive without owner: every run as %s counts as the same holder; give an owner that identifies the run", owner)
		}
		ch, err := g.Lock(guard.LockOptions{
			Duration: duration, Reason: m.Str("reason"), Owner: owner,
			Force: m.Bool("force"), Exclusive: m.Bool("exclusive"), Hold: m.Bool("hold"), DryRun: m.CheckMode,
		})
		if err == nil {
			observeChange(obs, ch, false, m.CheckMode)
			auditLock(m, ch, owner)
			observeBreakGlassCount(obs, auditLogOf(m), ch.After.Path)
		}
		return changeResult(m, ch, err)
	case "unlocked":
		opts := guard.UnlockOptions{Reason: m.Str("reason"), Owner: owner, DryRun: m.CheckMode}
		if m.IsSet("if_revision") {
			r := int64(m.Int("if_revision"))
			opts.IfRevision = &r
		}
		return unlockResult(m, g, opts, obs)
	}
	// Only status reads the calendar: a bad one must not stop a lock.
	cal, err := loadCalendar(m.Raw("freeze_windows"), m.Str("freeze_file"))
	if err != nil {
		return nil, err
	}
	return statusResult(m, g, cal, obs, owner)
}

func auditLogOf(m *ansiblemod.Module) auditlog.Log {
	return auditlog.Log{Path: m.Str("audit_log"), Mask: m.Mask}
}

// auditLock records a lock that changed the guard; one that cannot be
// recorded still stands, with a warning (failing would let deployments
// through).
func auditLock(m *ansiblemod.Module, ch guard.Change, owner string) {
	if !ch.Changed || m.CheckMode {
		return
	}
	if err := auditLogOf(m).Record(changeEntry(ch, false, owner, m.Str("reason"))); err != nil {
		m.Warn("the guard is locked, but the lock could not be recorded in audit_log: %v", err)
	}
}

// unlockResult releases the guard through the audit log (auditedGuard):
// an unlock that cannot be recorded does not happen.
func unlockResult(m *ansiblemod.Module, g *guard.Guard, opts guard.UnlockOptions, obs *observe.Run) (ansiblemod.Result, error) {
	ch, err := auditedGuard{g, auditLogOf(m)}.Unlock(opts)
	var ae *auditError
	if errors.As(err, &ae) {
		if ae.Unlocked {
			observeChange(obs, ch, true, m.CheckMode)
			res, _ := changeResult(m, ch, nil)
			return res, errors.New(ae.describe("audit_log"))
		}
		return nil, errors.New(ae.describe("audit_log"))
	}
	if err == nil {
		observeChange(obs, ch, true, m.CheckMode)
	}
	return changeResult(m, ch, err)
}

// checkOptions checks what the guard cannot: the path's form, the bounds
// of the numbers before they become durations, and options that make no
// sense with the state.
func checkOptions(m *ansiblemod.Module) error {
	if p := m.Str("path"); !filepath.IsAbs(p) {
		return fmt.Errorf("value of path must be an absolute path, got: %s", p)
	}
	if _, err := guard.MinutesDuration(m.Float("minutes")); err != nil {
		return err
	}
	if n := m.Int("wait_seconds"); n < 0 {
		return fmt.Errorf("value of wait_seconds must be 0 or greater, got: %d", n)
	} else if n > maxWaitSeconds {
		return fmt.Errorf("value of wait_seconds must be at most %d (a day), got: %d", maxWaitSeconds, n)
	}
	if n, most := m.Int("lock_timeout_seconds"), int(guard.MaxLockTimeout/time.Second); n < 1 || n > most {
		return fmt.Errorf("value of lock_timeout_seconds must be between 1 and %d, got: %d", most, n)
	}
	if err := checkBackendOptions(m); err != nil {
		return err
	}
	state := m.Str("state")
	if m.Bool("exclusive") && state != "locked" {
		return fmt.Errorf("exclusive is only valid with state=locked, got state=%s", state)
	}
	if m.Bool("hold") && (state != "locked" || !m.Bool("exclusive")) {
		return fmt.Errorf("hold is only valid with state=locked and exclusive=true, got state=%s, exclusive=%t", state, m.Bool("exclusive"))
	}
	if m.IsSet("if_revision") && state != "unlocked" {
		return fmt.Errorf("if_revision is only valid with state=unlocked, got state=%s", state)
	}
	for _, name := range []string{"freeze_windows", "freeze_file"} {
		if m.IsSet(name) && state != "status" {
			return fmt.Errorf("%s is only valid with state=status (freezes are checked, never written), got state=%s", name, state)
		}
	}
	if err := checkBreakGlassOptions(m); err != nil {
		return err
	}
	if p := m.Str("audit_log"); !filepath.IsAbs(p) {
		return fmt.Errorf("value of audit_log must be an absolute path, got: %s", p)
	}
	return checkAtOption(m)
}

// checkBreakGlassOptions: break_glass overrides fail_when_locked of a
// status, now, with a reason.
func checkBreakGlassOptions(m *ansiblemod.Module) error {
	if !m.Bool("break_glass") {
		return nil
	}
	if state := m.Str("state"); state != "status" {
		return fmt.Errorf("break_glass is only valid with state=status, got state=%s", state)
	}
	if !m.Bool("fail_when_locked") {
		return errors.New("break_glass is only valid with fail_when_locked=true: it lets that check pass while locked or frozen")
	}
	if m.IsSet("at") {
		return errors.New("break_glass cannot be given with at: a what-if evaluation overrides nothing")
	}
	return checkBreakGlassReason("reason", m.Str("reason"))
}

// checkAtOption: at asks "what if", so it only reads: status only, no
// waiting, nothing published.
func checkAtOption(m *ansiblemod.Module) error {
	if !m.IsSet("at") {
		return nil
	}
	if state := m.Str("state"); state != "status" {
		return fmt.Errorf("at is only valid with state=status, got state=%s", state)
	}
	if m.Int("wait_seconds") != 0 {
		return fmt.Errorf("at cannot be given with wait_seconds: a what-if evaluation does not wait")
	}
	for _, name := range []string{observe.OptionTextfile, observe.OptionPushgateway} {
		if m.IsSet(name) {
			return fmt.Errorf("at cannot be given with %s: a what-if evaluation publishes nothing", name)
		}
	}
	_, err := parseAt("value of at", m.Str("at"))
	return err
}

// etcdOptionNames are the options that only the etcd backend uses.
var etcdOptionNames = []string{"etcd_endpoints", "scope", "etcd_prefix", "etcd_username", "etcd_password",
	"etcd_ca_cert", "etcd_client_cert", "etcd_client_key", "etcd_timeout_seconds"}

// checkBackendOptions refuses options of the other backend, so a guard is
// never silently a different one than the user meant.
func checkBackendOptions(m *ansiblemod.Module) error {
	if m.Str("backend") == backendEtcd {
		if m.Provided("path") {
			return fmt.Errorf("path is only valid with backend=file; the etcd guard is the key etcd_prefix + scope")
		}
		// An empty value (an unset template variable, say) must not become
		// the default guard that another service shares.
		for _, name := range []string{"scope", "etcd_prefix"} {
			if m.Str(name) == "" {
				return fmt.Errorf("value of %s must not be empty: it names the guard", name)
			}
		}
		if n := m.Int("etcd_timeout_seconds"); n < 1 || n > int(etcdstore.MaxTimeout/time.Second) {
			return fmt.Errorf("value of etcd_timeout_seconds must be between 1 and %d, got: %d", int(etcdstore.MaxTimeout/time.Second), n)
		}
		return nil
	}
	for _, name := range etcdOptionNames {
		if m.Provided(name) {
			return fmt.Errorf("%s is only valid with backend=etcd, got backend=%s", name, m.Str("backend"))
		}
	}
	return nil
}

func etcdConfig(m *ansiblemod.Module) etcdstore.Config {
	return etcdstore.Config{
		Endpoints: m.Strings("etcd_endpoints"), Prefix: m.Str("etcd_prefix"), Scope: m.Str("scope"),
		Username: m.Str("etcd_username"), Password: m.Str("etcd_password"),
		CACert: m.Str("etcd_ca_cert"), ClientCert: m.Str("etcd_client_cert"), ClientKey: m.Str("etcd_client_key"),
		Timeout: time.Duration(m.Int("etcd_timeout_seconds")) * time.Second,
	}
}

// changeResult reports a lock or unlock. A refusal (exclusive, if_revision)
// fails the task and still returns the guard as read: its holder, reason,
// expiry and revision.
func changeResult(m *ansiblemod.Module, ch guard.Change, err error) (ansiblemod.Result, error) {
	if errors.Is(err, guard.ErrRefused) {
		warnAbout(m, ch.Before)
		res := ansiblemod.Result(ch.Before.Fields())
		res["changed"] = false
		return res, err
	}
	if err != nil {
		return nil, err
	}
	warnAbout(m, ch.Before)
	m.SetDiff(diffState(ch.Before), diffState(ch.After))
	res := ansiblemod.Result(ch.After.Fields())
	res["changed"] = ch.Changed
	res["msg"] = ch.After.Message()
	return res, nil
}

// statusResult reads the guard and evaluates the freeze calendar beside
// it, at the moment the task runs (after any wait), or as of `at`.
func statusResult(m *ansiblemod.Module, g *guard.Guard, cal *freeze.Calendar, obs *observe.Run, owner string) (ansiblemod.Result, error) {
	var at time.Time
	if m.IsSet("at") {
		at, _ = parseAt("value of at", m.Str("at")) // checked in checkOptions
		g.Clock = clock.NewFake(at)
	}
	st, err := g.WaitUnlocked(context.Background(), time.Duration(m.Int("wait_seconds"))*time.Second, pollEvery)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		at = time.Now()
	}
	fr := cal.At(at)
	if !m.IsSet("at") {
		observeStatus(obs, st, fr)
		defer observeBreakGlassCount(obs, auditLogOf(m), st.Path) // after a break-glass line
	}
	warnAbout(m, st)
	m.SetDiff(diffState(st), diffState(st))
	res := ansiblemod.Result(st.Fields())
	for k, v := range freezeFields(fr) {
		res[k] = v
	}
	res["msg"] = gateMessage(st, fr)
	res["break_glass_used"] = false
	if !(st.Locked || fr.Frozen) || !m.Bool("fail_when_locked") {
		return res, nil
	}
	if !m.Bool("break_glass") {
		return res, errors.New(gateMessage(st, fr))
	}
	return breakGlassResult(m, res, st, fr, owner, obs)
}

// breakGlassResult lets the task pass while locked or frozen, once the
// override is recorded; one that cannot be recorded does not happen.
func breakGlassResult(m *ansiblemod.Module, res ansiblemod.Result, st guard.Status, fr freeze.State, owner string, obs *observe.Run) (ansiblemod.Result, error) {
	reason := m.Str("reason")
	if m.CheckMode {
		res["msg"] = "check mode: " + breakGlassMessage(owner, reason, st, fr)
		return res, nil
	}
	entry := breakGlassEntry(st, fr, owner, reason)
	if err := auditLogOf(m).Record(entry); err != nil {
		return res, fmt.Errorf("break_glass refused: the override could not be recorded in audit_log: %v; %s", err, gateMessage(st, fr))
	}
	observeBreakGlass(obs, entry)
	res["break_glass_used"] = true
	res["msg"] = breakGlassMessage(owner, reason, st, fr)
	m.Warn("%s", res["msg"])
	return res, nil
}

func warnAbout(m *ansiblemod.Module, st guard.Status) {
	if st.Warning != "" {
		m.Warn("%s", st.Warning)
	}
}

// diffState is what --diff shows: the lock as a small dict.
func diffState(st guard.Status) map[string]any {
	f := st.Fields()
	return map[string]any{"locked": f["locked"], "expires_at": f["expires_at"], "reason": f["reason"], "owner": f["owner"]}
}
