package qosguard

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threader/guard/internal/auditlog"
	"github.com/threader/guard/internal/guard"
)

// An unlock the audit log cannot record does not happen; one it can is
// one line; a dry run writes none.
func TestAuditedGuardUnlocksOnlyWhenRecorded(t *testing.T) {
	dir := t.TempDir()
	g := &guard.Guard{Path: filepath.Join(dir, "guard"), Host: "h"}
	if _, err := g.Lock(guard.LockOptions{Duration: time.Hour, Reason: "rollback"}); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o600)
	_, err := auditedGuard{g, auditlog.Log{Path: filepath.Join(notDir, "audit.jsonl")}}.Unlock(guard.UnlockOptions{Owner: "bob"})
	var ae *auditError
	if !errors.As(err, &ae) || ae.Unlocked || !strings.HasPrefix(ae.describe("audit_log"), "not unlocking: the unlock could not be recorded in audit_log: ") {
		t.Fatalf("Unlock with an unwritable log = %v, want a refusal", err)
	}
	if st, _ := g.Status(); !st.Locked {
		t.Fatal("the guard was unlocked without an audit line")
	}
	log := auditlog.Log{Path: filepath.Join(dir, "log", "audit.jsonl")}
	if _, err := (auditedGuard{g, log}).Unlock(guard.UnlockOptions{Owner: "bob", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(log.Path); !os.IsNotExist(err) {
		t.Errorf("a dry run touched the audit log: %v", err)
	}
	ch, err := auditedGuard{g, log}.Unlock(guard.UnlockOptions{Owner: "bob", Reason: "stable"})
	if err != nil || !ch.Changed {
		t.Fatalf("Unlock: %v %+v", err, ch)
	}
	data, _ := os.ReadFile(log.Path)
	if strings.Count(string(data), "\n") != 1 || !strings.Contains(string(data), `"action":"unlock","guard":"`+g.Path+`","owner":"bob","reason":"stable"`) {
		t.Errorf("audit log: %s", data)
	}
}
