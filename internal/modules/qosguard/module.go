// Package qosguard is the threader.guard.qos_guard Ansible module and the
// qos_guard CLI (a drop-in for qos_guard.sh): thin front ends over
// internal/guard. modules/qos_guard builds it as a program of its own; the
// multi-call binary links it with the other modules.
package qosguard

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/metrics/observe"
)

// spec adds metrics_textfile and pushgateway_url (observe.WithOptions) and
// name, the `name` label of the metrics and name= of the log lines.
var spec = ansiblemod.Spec{
	Options: observe.WithOptions(map[string]ansiblemod.Option{
		"state":            {Type: ansiblemod.Str, Default: "status", Choices: []any{"locked", "unlocked", "status"}},
		"path":             {Type: ansiblemod.Path, Default: guard.DefaultPath},
		"minutes":          {Type: ansiblemod.Int, Default: 15},
		"reason":           {Type: ansiblemod.Str},
		"owner":            {Type: ansiblemod.Str},
		"force":            {Type: ansiblemod.Bool, Default: false},
		"fail_when_locked": {Type: ansiblemod.Bool, Default: false},
		"wait_seconds":     {Type: ansiblemod.Int, Default: 0},
		"name":             {Type: ansiblemod.Str},
	}),
	SupportsCheckMode: true,
}

// pollEvery is how often status with wait_seconds re-reads the lock.
const pollEvery = time.Second

// Module is qos_guard as the dispatcher runs it.
var Module = ansiblemod.Program{Name: moduleName, Spec: spec, Handler: runModule, CLI: runCLI}

func runModule(m *ansiblemod.Module) (ansiblemod.Result, error) {
	if err := checkOptions(m); err != nil {
		return nil, err
	}
	obs, err := observe.Begin(m) // checks name, metrics_textfile, pushgateway_url
	if err != nil {
		return nil, err
	}
	defer obs.FinishModule(m) // publishes unless in check mode; a failure is a warning
	g := &guard.Guard{Path: m.Str("path")}
	switch m.Str("state") {
	case "locked":
		owner := m.Str("owner")
		if owner == "" {
			owner = currentUser()
		}
		ch, err := g.Lock(guard.LockOptions{
			Duration: time.Duration(m.Int("minutes")) * time.Minute,
			Reason:   m.Str("reason"), Owner: owner, Force: m.Bool("force"), DryRun: m.CheckMode,
		})
		if err == nil {
			observeChange(obs, ch, false, m.CheckMode)
		}
		return changeResult(m, ch, err)
	case "unlocked":
		ch, err := g.Unlock(m.CheckMode)
		if err == nil {
			observeChange(obs, ch, true, m.CheckMode)
		}
		return changeResult(m, ch, err)
	}
	return statusResult(m, g, obs)
}

func checkOptions(m *ansiblemod.Module) error {
	if p := m.Str("path"); !filepath.IsAbs(p) {
		return fmt.Errorf("value of path must be an absolute path, got: %s", p)
	}
	if n := m.Int("minutes"); n <= 0 {
		return fmt.Errorf("value of minutes must be greater than 0, got: %d", n)
	}
	if n := m.Int("wait_seconds"); n < 0 {
		return fmt.Errorf("value of wait_seconds must be 0 or greater, got: %d", n)
	}
	return nil
}

func changeResult(m *ansiblemod.Module, ch guard.Change, err error) (ansiblemod.Result, error) {
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

func statusResult(m *ansiblemod.Module, g *guard.Guard, obs *observe.Run) (ansiblemod.Result, error) {
	st, err := g.WaitUnlocked(context.Background(), time.Duration(m.Int("wait_seconds"))*time.Second, pollEvery)
	if err != nil {
		return nil, err
	}
	observeStatus(obs, st)
	warnAbout(m, st)
	m.SetDiff(diffState(st), diffState(st))
	res := ansiblemod.Result(st.Fields())
	res["msg"] = st.Message()
	if st.Locked && m.Bool("fail_when_locked") {
		return res, fmt.Errorf("%s", st.Message())
	}
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
