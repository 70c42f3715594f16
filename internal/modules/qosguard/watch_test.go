package qosguard

import (
	"context"
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

func TestWatchUsageErrorsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		guard, watch []string
		want         string
	}{
		{nil, []string{"--interval", "0s"}, "--interval must be between 1s and 24h"},
		{nil, []string{"--consecutive", "0"}, "--consecutive must be 1 or greater"},
		{nil, []string{"--interval-seconds", "5"}, "--interval-seconds is slo_check's polling"},
		{nil, []string{"--checks-file", "/nonexistent/checks.yml"}, "--checks-file /nonexistent/checks.yml"},
		{nil, []string{"--window", "soon"}, "--window"},
		{nil, []string{"--prometheus-url", "ftp://x"}, "--prometheus-url"},
		{nil, []string{"extra"}, `unexpected argument "extra"`},
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
