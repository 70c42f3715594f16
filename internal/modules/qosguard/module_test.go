package qosguard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestModuleExclusiveAndCompareAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard")
	run := func(args map[string]any) map[string]any {
		args["path"] = path
		return qosGuard.Run(t, args).JSON
	}
	a := run(map[string]any{"state": "locked", "exclusive": true, "owner": "run-a", "reason": "promotion a", "minutes": 30})
	if a["failed"] == true || a["changed"] != true || a["revision"] != 1.0 || a["owner"] != "run-a" {
		t.Fatalf("first exclusive lock: %v", a)
	}
	for _, check := range []bool{true, false} {
		b := run(map[string]any{"state": "locked", "exclusive": true, "owner": "run-b", "_ansible_check_mode": check})
		msg, _ := b["msg"].(string)
		if b["failed"] != true || b["changed"] != false || b["owner"] != "run-a" || b["revision"] != 1.0 ||
			!strings.Contains(msg, `held by owner "run-a"`) || !strings.Contains(msg, "reason: promotion a") || !strings.Contains(msg, "locked until ") {
			t.Errorf("second owner (check mode %v): %v", check, b)
		}
	}
	// The release that read revision 1 is overtaken by a rollback's lock.
	run(map[string]any{"state": "locked", "owner": "rollback", "reason": "rollback 2", "minutes": 60})
	stale := run(map[string]any{"state": "unlocked", "if_revision": 1})
	msg, _ := stale["msg"].(string)
	if stale["failed"] != true || stale["revision"] != 2.0 || !strings.Contains(msg, "changed since revision 1, it is now at revision 2") ||
		!strings.Contains(msg, `by owner "rollback"`) || !strings.Contains(msg, "reason: rollback 2") {
		t.Errorf("stale release: %v", stale)
	}
	if dry := run(map[string]any{"state": "unlocked", "if_revision": 1, "_ansible_check_mode": true}); dry["failed"] != true || dry["revision"] != 2.0 {
		t.Errorf("stale release in check mode: %v, want the same refusal", dry)
	}
	if st := run(map[string]any{}); st["locked"] != true || st["reason"] != "rollback 2" {
		t.Errorf("the newer lock was lost: %v", st)
	}
	rel := run(map[string]any{"state": "unlocked", "if_revision": "2", "owner": "ops", "reason": "SLOs stable"})
	if rel["failed"] == true || rel["changed"] != true || rel["locked"] != false || rel["revision"] != 3.0 || rel["owner"] != "ops" {
		t.Errorf("release at the current revision: %v", rel)
	}
}

func TestModuleRefusesBadValuesNamingTheOption(t *testing.T) {
	long := strings.Repeat("x", 1025)
	cases := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"state": "locked", "minutes": 307445735}, "value of minutes must be at most 527040 (one year of minutes), got: 307445735"},
		{map[string]any{"state": "locked", "minutes": 0}, "value of minutes must be greater than 0, got: 0"},
		{map[string]any{"state": "locked", "reason": long}, "value of reason must be at most 1024 bytes, got: 1025 bytes"},
		{map[string]any{"state": "locked", "owner": long}, "value of owner must be at most 1024 bytes"},
		{map[string]any{"state": "unlocked", "reason": long}, "value of reason must be at most 1024 bytes"},
		{map[string]any{"state": "unlocked", "if_revision": -1}, "value of if_revision must be between 0 and"},
		{map[string]any{"state": "status", "if_revision": 1}, "if_revision is only valid with state=unlocked"},
		{map[string]any{"state": "unlocked", "exclusive": true}, "exclusive is only valid with state=locked"},
		{map[string]any{"state": "locked", "hold": true}, "hold is only valid with state=locked and exclusive=true, got state=locked, exclusive=false"},
		{map[string]any{"state": "unlocked", "hold": true}, "hold is only valid with state=locked and exclusive=true"},
		{map[string]any{"state": "locked", "lock_timeout_seconds": 0}, "value of lock_timeout_seconds must be between 1 and 3600"},
		{map[string]any{"state": "status", "wait_seconds": 1 << 40}, "value of wait_seconds must be at most 86400 (a day)"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "guard")
		c.args["path"] = path
		res := qosGuard.Run(t, c.args).JSON
		if msg, _ := res["msg"].(string); res["failed"] != true || !strings.Contains(msg, c.want) {
			t.Errorf("%v: %v, want a failure saying %q", c.args, res, c.want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%v: wrote the lock file", c.args)
		}
	}
}

func TestModuleLockTimeoutNamesTheWritersLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard")
	holder := holdFlock(t, path+".lock")
	defer holder()
	res := qosGuard.Run(t, map[string]any{"state": "locked", "path": path, "lock_timeout_seconds": 1}).JSON
	msg, _ := res["msg"].(string)
	if res["failed"] != true || !strings.Contains(msg, path+".lock") || !strings.Contains(msg, "timed out after 1s") || !strings.Contains(msg, "lock_timeout_seconds") {
		t.Fatalf("result %v, want a timeout naming %s.lock", res, path)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("wrote the lock file without the writers' lock")
	}
}

// holdFlock takes the flock another writer would hold on lockPath.
func holdFlock(t *testing.T, lockPath string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

func TestModuleExclusiveWithoutOwnerWarns(t *testing.T) {
	res := qosGuard.Run(t, map[string]any{"state": "locked", "exclusive": true, "path": filepath.Join(t.TempDir(), "guard")}).JSON
	if res["failed"] == true || !strings.Contains(fmt.Sprint(res["warnings"]), "exclusive without owner") {
		t.Fatalf("result %v, want a warning about the missing owner", res)
	}
}

// minutes takes fractions (issue 11): 0.1 is 6 seconds; under a second is
// refused naming the option.
func TestModuleFractionalMinutes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard")
	res := qosGuard.Run(t, map[string]any{"state": "locked", "path": path, "minutes": 0.1}).JSON
	if res["failed"] == true || res["locked"] != true || res["remaining_seconds"].(float64) > 6 || res["remaining_seconds"].(float64) < 4 {
		t.Fatalf("minutes 0.1: %v", res)
	}
	res = qosGuard.Run(t, map[string]any{"state": "locked", "path": path, "minutes": "0.005"}).JSON
	if msg, _ := res["msg"].(string); res["failed"] != true || !strings.Contains(msg, "value of minutes must be at least 1 second (0.0167 minutes), got: 0.005") {
		t.Fatalf("minutes 0.005: %v", res)
	}
}
