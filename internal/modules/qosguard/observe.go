package qosguard

import (
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
		CheckMode: checkMode,
	})
}

// observeStatus records the guard as a status run read it.
func observeStatus(obs *observe.Run, st guard.Status) {
	obs.Metrics.RecordGuard(guardState(st, false))
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
