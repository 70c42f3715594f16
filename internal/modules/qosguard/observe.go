package qosguard

import (
	"github.com/threader/guard/internal/auditlog"
	"github.com/threader/guard/internal/freeze"
	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
)

// moduleName is the module's short name: the Pushgateway job, the syslog
// identifier (ansible-qos_guard) and module= in log lines, and the default
// `name` label (docs/metrics.md).
const moduleName = "qos_guard"

// observeChange records the guard as a lock or unlock left it and, when it
// changed (or would have, in check mode), logs the change. unlocking says
// which operation ran.
func observeChange(obs *observe.Run, ch guard.Change, unlocking, checkMode bool) {
	obs.Metrics.RecordGuard(guardState(ch.After, ch.Changed && !checkMode))
	if !ch.Changed {
		return
	}
	// For an unlock the interesting lock is the one released.
	lock := ch.After
	if unlocking {
		lock = ch.Before
	}
	obs.Log.GuardChange(logging.GuardChange{
		From: lockWord(ch.Before), To: lockWord(ch.After), Action: changeAction(ch, unlocking),
		LockedAt: lock.LockedAt, ExpiresAt: lock.ExpiresAt, Reason: lock.Reason, Owner: lock.Owner,
		Hold: lock.Hold, CheckMode: checkMode,
	})
}

// observeStatus records the guard and the freeze as a status run read
// them.
func observeStatus(obs *observe.Run, st guard.Status, fr freeze.State) {
	obs.Metrics.RecordGuard(guardState(st, false))
	obs.Metrics.RecordFreeze(fr.Frozen)
}

// observeBreakGlassCount publishes threader_guard_break_glass_total, the
// break-glass lines of the guard in the audit log, when the run publishes
// metrics at all. Call it after the run's own audit line is written. A log
// that cannot be read leaves the series out.
func observeBreakGlassCount(obs *observe.Run, log auditlog.Log, guardName string) {
	if !obs.Publishing() || guardName == "" {
		return
	}
	if n, err := auditlog.CountBreakGlass(log.Path, guardName); err == nil {
		obs.Metrics.RecordBreakGlassTotal(n)
	}
}

// observeBreakGlass logs a break-glass use (event=guard_break_glass).
func observeBreakGlass(obs *observe.Run, e auditlog.Entry) {
	b := logging.BreakGlass{Guard: e.Guard, Owner: e.Owner, Reason: e.Reason}
	if e.Overridden != nil {
		b.Locked, b.Lock, b.Windows = e.Overridden.LockHeld, e.Overridden.Lock, e.Overridden.Windows
	}
	obs.Log.BreakGlass(b)
}

func guardState(st guard.Status, changed bool) metrics.GuardState {
	return metrics.GuardState{Locked: st.Locked, LockedAt: st.LockedAt, ExpiresAt: st.ExpiresAt, Changed: changed}
}

func lockWord(st guard.Status) string {
	if st.Locked {
		return "locked"
	}
	return "unlocked"
}

// changeAction names what a change did: lock (from unlocked), extend or
// shorten (force) the expiry, rewrite (a legacy or corrupt file replaced
// by the same expiry), unlock, or remove_expired (an expired lock released:
// the name predates released records, when the file was removed).
func changeAction(ch guard.Change, unlocking bool) string {
	switch {
	case unlocking && ch.Before.Locked:
		return "unlock"
	case unlocking:
		return "remove_expired"
	case !ch.Before.Locked:
		return "lock"
	case ch.After.ExpiresAt.After(ch.Before.ExpiresAt):
		return "extend"
	case ch.After.ExpiresAt.Before(ch.Before.ExpiresAt):
		return "shorten"
	}
	return "rewrite"
}
