package auditlog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Secrets are masked field by field before encoding, so one that JSON
// escapes (a quote, a backslash) is masked too; the line is valid JSON.
func TestRecordMasksEveryStringField(t *testing.T) {
	secret := `s3cr"et\`
	path := filepath.Join(t.TempDir(), "log", "audit.jsonl")
	log := Log{Path: path, Mask: func(s string) string { return strings.ReplaceAll(s, secret, "********") }}
	expires := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	err := log.Record(Entry{
		Time: expires, Action: ActionBreakGlass, Guard: "/g", Owner: "o " + secret, Reason: "r " + secret, Host: "h",
		Before:     State{Locked: true, ExpiresAt: &expires, Reason: "lock " + secret, Frozen: true, FrozenBy: []string{"w " + secret}},
		After:      State{Locked: true, ExpiresAt: &expires},
		Overridden: &Overridden{Lock: "lock " + secret, LockHeld: true, Windows: []string{"w " + secret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "s3cr") || strings.Count(string(data), "********") != 6 {
		t.Errorf("audit line not masked: %s", data)
	}
	var back Entry
	if err := json.Unmarshal(data, &back); err != nil || back.Action != ActionBreakGlass || !back.Before.ExpiresAt.Equal(expires) {
		t.Errorf("audit line %s does not read back: %v", data, err)
	}
	if !strings.HasSuffix(string(data), "}\n") || strings.Count(string(data), "\n") != 1 {
		t.Errorf("want exactly one line: %q", data)
	}
}

func TestCountBreakGlassCountsThisGuardsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "audit.jsonl")
	if n, err := CountBreakGlass(path, "/g"); n != 0 || err != nil {
		t.Fatalf("a missing log: %d, %v; want 0", n, err)
	}
	log := Log{Path: path}
	for _, e := range []Entry{
		{Action: ActionBreakGlass, Guard: "/g"}, {Action: "lock", Guard: "/g"}, {Action: ActionBreakGlass, Guard: "/other"},
		{Action: ActionBreakGlass, Guard: "/g", Reason: `"action":"break_glass"`},
	} {
		if err := log.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"action":"break_glass", not json` + "\n")
	f.Close()
	if n, err := CountBreakGlass(path, "/g"); n != 2 || err != nil {
		t.Errorf("CountBreakGlass = %d, %v; want 2", n, err)
	}
	link := filepath.Join(filepath.Dir(path), "link.jsonl")
	os.Symlink(path, link)
	if _, err := CountBreakGlass(link, "/g"); err == nil {
		t.Error("a symlinked log was followed")
	}
}
