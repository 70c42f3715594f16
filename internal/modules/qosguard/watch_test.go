package qosguard

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplitWatchFindsTheCommandNotAFlagValue(t *testing.T) {
	for _, c := range []struct {
		args        []string
		guard, rest []string
		ok          bool
	}{
		{[]string{"--path", "/run/g", "watch", "--once"}, []string{"--path", "/run/g"}, []string{"--once"}, true},
		{[]string{"--reason", "watch", "watch", "--interval", "5s"}, []string{"--reason", "watch"}, []string{"--interval", "5s"}, true},
		{[]string{"--reason", "watch", "status"}, nil, nil, false},
		{[]string{"lock", "watch"}, nil, nil, false}, // "lock" is a command, not a guard flag
	} {
		g, r, ok := splitWatch(c.args)
		if ok != c.ok || !slices.Equal(g, c.guard) || !slices.Equal(r, c.rest) {
			t.Errorf("splitWatch(%q) = %q, %q, %v", c.args, g, r, ok)
		}
	}
}

// watch -h listed slo_check's polling flags (--interval-seconds,
// --failure-limit, ...), which the watcher refused: its help lists only the
// flags it uses.
func TestWatchHelpListsOnlyTheFlagsItUses(t *testing.T) {
	var help strings.Builder
	if _, err := parseWatch([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseWatch(-h) = %v", err)
	}
	listed := map[string]bool{} // PrintDefaults: "  -name type" or "  -name" for a bool
	for _, line := range strings.Split(help.String(), "\n") {
		if strings.HasPrefix(line, "  -") {
			listed[strings.TrimPrefix(strings.Fields(line)[0], "-")] = true
		}
	}
	for _, unused := range []string{"interval-seconds", "timeout-seconds", "initial-delay-seconds", "failure-limit",
		"inconclusive-limit", "consecutive-error-limit", "measurement-retention", "fail-on-violation"} {
		if listed[unused] {
			t.Errorf("watch -h lists -%s, which the watcher does not use", unused)
		}
	}
	for _, used := range []string{"interval", "consecutive", "prometheus-url", "checks-file", "request-timeout-seconds", "fail-on-inconclusive"} {
		if !listed[used] {
			t.Errorf("watch -h lacks -%s:\n%s", used, help.String())
		}
	}
}

func TestWatchUsageErrorsNameTheFlag(t *testing.T) {
	open := filepath.Join(t.TempDir(), "checks.yml")
	os.WriteFile(open, []byte("- {name: ok, query: 'vector(0)', max: 1}\n"), 0o644)
	os.Chmod(open, 0o666) // past the umask
	sharedDir := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(sharedDir, 0o755)
	os.Chmod(sharedDir, 0o777)
	inShared := filepath.Join(sharedDir, "checks.yml")
	os.WriteFile(inShared, []byte("- {name: ok, query: 'vector(0)', max: 1}\n"), 0o644)
	for _, c := range []struct {
		guard, watch []string
		want         string
	}{
		{nil, []string{"--interval", "0s"}, "--interval must be between 1s and 24h"},
		{nil, []string{"--consecutive", "0"}, "--consecutive must be 1 or greater"},
		{nil, []string{"--interval-seconds", "5"}, "flag provided but not defined: -interval-seconds"},
		{nil, []string{"--checks-file", "/nonexistent/checks.yml"}, "--checks-file /nonexistent/checks.yml"},
		{nil, []string{"--window", "soon"}, "--window"},
		{nil, []string{"--prometheus-url", "ftp://x"}, "--prometheus-url"},
		{nil, []string{"extra"}, `unexpected argument "extra"`},
		{nil, []string{"--checks-file", open, "--loki-url", ""}, "is writable by every user (mode 0666)"},
		{nil, []string{"--checks-file", inShared, "--loki-url", ""}, "which every user may write"},
		{[]string{"--if-revision", "3"}, nil, "not watch flags"},
		{nil, []string{"--listen", "256.0.0.1:99999", "--loki-url", ""}, "--listen 256.0.0.1:99999"},
	} {
		var stderr strings.Builder
		code := watchCLI(context.Background(), append([]string{"--path", t.TempDir() + "/g", "--no-syslog"}, c.guard...), c.watch, &stderr, nil, nil)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q %q: exit %d, stderr %q; want %q", c.guard, c.watch, code, stderr.String(), c.want)
		}
	}
}
