package metrics

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/threader/guard/internal/clock"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newRecorder(t *testing.T, opts Options) *Recorder {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(t0)
	}
	if opts.Instance == "" {
		opts.Instance = "host1"
	}
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return r
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// samples returns the sample lines of a text-format file, without comments.
func samples(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func TestRetryRunWritesDocumentedTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threader.prom")
	r := newRecorder(t, Options{Module: "retry_command", Name: "deploy"})
	r.RecordRetry(RetryRun{Attempts: 3, MaxAttempts: 5, Outcome: OutcomeSuccess, ExitCode: 0,
		Delay: 1500 * time.Millisecond, Duration: 4 * time.Second})
	if err := r.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	text := readFile(t, path)
	want := []string{
		`threader_guard_retry_attempts{name="deploy"} 3`,
		`threader_guard_retry_delay_seconds{name="deploy"} 1.5`,
		`threader_guard_retry_duration_seconds{name="deploy"} 4`,
		`threader_guard_retry_last_exit_code{name="deploy"} 0`,
		`threader_guard_retry_last_outcome{name="deploy",outcome="failure"} 0`,
		`threader_guard_retry_last_outcome{name="deploy",outcome="success"} 1`,
		`threader_guard_retry_last_outcome{name="deploy",outcome="timeout"} 0`,
		`threader_guard_retry_last_run_timestamp_seconds{name="deploy"} 1.7408304e+09`,
		`threader_guard_retry_last_success_timestamp_seconds{name="deploy"} 1.7408304e+09`,
		`threader_guard_retry_max_attempts{name="deploy"} 5`,
	}
	if diff := cmp.Diff(want, samples(text)); diff != "" {
		t.Errorf("textfile samples (-want +got):\n%s\nfile:\n%s", diff, text)
	}
	if !strings.Contains(text, "# TYPE threader_guard_retry_attempts gauge") {
		t.Errorf("missing TYPE line:\n%s", text)
	}
	if strings.Contains(text, "instance=") || strings.Contains(text, "job=") {
		t.Errorf("textfile must not carry instance/job (node_exporter's target adds them):\n%s", text)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644 so node_exporter can read it", info.Mode().Perm())
	}
	assertOnlyFiles(t, filepath.Dir(path), "threader.prom", "threader.prom.lock")
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files in %s (-want +got), temp files must not be left:\n%s", dir, diff)
	}
}

func TestGuardStateLockedAndUnlocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.prom")
	fc := clock.NewFake(t0)
	r := newRecorder(t, Options{Module: "qos_guard", Name: "peak", Clock: fc})
	r.RecordGuard(GuardState{Locked: true, LockedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour), Changed: true})
	if err := r.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`threader_guard_lock_expiry_timestamp_seconds{name="peak"} 1.740834e+09`,
		`threader_guard_lock_last_change_timestamp_seconds{name="peak"} 1.7408304e+09`,
		`threader_guard_lock_last_evaluation_timestamp_seconds{name="peak"} 1.7408304e+09`,
		`threader_guard_locked{name="peak"} 1`,
		`threader_guard_locked_at_timestamp_seconds{name="peak"} 1.7408268e+09`,
	}
	if diff := cmp.Diff(want, samples(readFile(t, path))); diff != "" {
		t.Errorf("locked (-want +got):\n%s", diff)
	}

	// A later, read-only run after the lock expired: unlocked, timestamps
	// zeroed, and the last change time kept from the run that changed it.
	fc.Advance(2 * time.Hour)
	r2 := newRecorder(t, Options{Module: "qos_guard", Name: "peak", Clock: fc})
	r2.RecordGuard(GuardState{Locked: false, LockedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)})
	if err := r2.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	want = []string{
		`threader_guard_lock_expiry_timestamp_seconds{name="peak"} 0`,
		`threader_guard_lock_last_change_timestamp_seconds{name="peak"} 1.7408304e+09`,
		`threader_guard_lock_last_evaluation_timestamp_seconds{name="peak"} 1.7408376e+09`,
		`threader_guard_locked{name="peak"} 0`,
		`threader_guard_locked_at_timestamp_seconds{name="peak"} 0`,
	}
	if diff := cmp.Diff(want, samples(readFile(t, path))); diff != "" {
		t.Errorf("unlocked (-want +got):\n%s", diff)
	}
}

func TestRunsOfDifferentNamesAndModulesShareOneTextfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threader.prom")
	ctx := context.Background()

	guard := newRecorder(t, Options{Module: "qos_guard", Name: "deploy"})
	guard.RecordGuard(GuardState{Locked: true, LockedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	slo := newRecorder(t, Options{Module: "slo_check", Name: "web"})
	slo.RecordSLOCheck("error_ratio", 0.02, 0.01, false)
	slo.RecordSLOCheck("health", 1, 0.99, true)
	other := newRecorder(t, Options{Module: "slo_check", Name: "api"})
	other.RecordSLOCheck("error_ratio", 0.001, 0.01, true)
	for _, r := range []*Recorder{guard, slo, other} {
		if err := r.Publish(ctx, path, ""); err != nil {
			t.Fatal(err)
		}
	}
	// A second run of "web" with one check: its old "health" series goes,
	// "api" and the guard stay.
	again := newRecorder(t, Options{Module: "slo_check", Name: "web"})
	again.RecordSLOCheck("error_ratio", 0.005, 0.01, true)
	if err := again.Publish(ctx, path, ""); err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, s := range samples(readFile(t, path)) {
		if strings.HasPrefix(s, SLOCheckPassed+"{") || strings.HasPrefix(s, GuardLocked+"{") {
			passed = append(passed, s)
		}
	}
	want := []string{
		`threader_guard_locked{name="deploy"} 1`,
		`threader_guard_slo_check_passed{check="error_ratio",name="api"} 1`,
		`threader_guard_slo_check_passed{check="error_ratio",name="web"} 1`,
	}
	if diff := cmp.Diff(want, passed); diff != "" {
		t.Errorf("merged series (-want +got):\n%s", diff)
	}
}

func TestFailedRunKeepsLastSuccessTimestamp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.prom")
	fc := clock.NewFake(t0)
	ok := newRecorder(t, Options{Module: "slo_check", Name: "web", Clock: fc})
	ok.RecordRollback(OutcomeSuccess, 3*time.Second)
	if err := ok.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	fc.Advance(time.Hour)
	bad := newRecorder(t, Options{Module: "slo_check", Name: "web", Clock: fc})
	bad.RecordRollback(OutcomeFailure, 2*time.Second)
	if err := bad.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`threader_guard_rollback_duration_seconds{name="web"} 2`,
		`threader_guard_rollback_last_attempt_timestamp_seconds{name="web"} 1.740834e+09`,
		`threader_guard_rollback_last_failure_timestamp_seconds{name="web"} 1.740834e+09`,
		`threader_guard_rollback_last_outcome{name="web",outcome="failure"} 1`,
		`threader_guard_rollback_last_outcome{name="web",outcome="success"} 0`,
		`threader_guard_rollback_last_outcome{name="web",outcome="timeout"} 0`,
		`threader_guard_rollback_last_success_timestamp_seconds{name="web"} 1.7408304e+09`,
	}
	if diff := cmp.Diff(want, samples(readFile(t, path))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threader.prom")
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := New(Options{Module: "retry_command", Name: "cmd" + string(rune('a'+i)), Instance: "h", Clock: clock.NewFake(t0)})
			if err != nil {
				errs <- err
				return
			}
			r.RecordRetry(RetryRun{Attempts: i + 1, Outcome: OutcomeSuccess})
			errs <- r.Publish(context.Background(), path, "")
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, s := range samples(readFile(t, path)) {
		if strings.HasPrefix(s, RetryAttempts+"{") {
			n++
		}
	}
	if n != writers {
		t.Errorf("%d attempt series in the file, want %d (one per writer):\n%s", n, writers, readFile(t, path))
	}
}

func TestNoLogValuesNeverReachLabels(t *testing.T) {
	const secret = "hunter2"
	mask := func(s string) string { return strings.ReplaceAll(s, secret, "********") }
	path := filepath.Join(t.TempDir(), "m.prom")
	r := newRecorder(t, Options{Module: "slo_check", Name: "web-" + secret, Mask: mask})
	r.RecordSLOCheck("token="+secret, 1, 1, true)
	if err := r.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	text := readFile(t, path)
	if strings.Contains(text, secret) {
		t.Fatalf("secret in textfile:\n%s", text)
	}
	if !strings.Contains(text, `{check="token=********",name="web-********"}`) {
		t.Errorf("masked labels missing:\n%s", text)
	}
	if r.Name() != "web-********" {
		t.Errorf("Name() = %q", r.Name())
	}
}

func TestBadValuesAreReportedByPublishAndTheRestIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	r := newRecorder(t, Options{Module: "slo_check", Name: "web"})
	r.RecordSLOCheck(strings.Repeat("x", 200), 1, 1, true)
	r.RecordSLOCheck("", 1, 1, true)
	r.RecordSLOCheck("ok", math.NaN(), 0.99, false)
	r.RecordRollback(Outcome("exploded"), 0)
	err := r.Publish(context.Background(), path, "")
	if err == nil {
		t.Fatal("Publish accepted a 200-byte check name, an empty one and an unknown outcome")
	}
	for _, want := range []string{"limited to 128 bytes", "SLO check name must not be empty", `rollback outcome "exploded"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if diff := cmp.Diff([]string{
		`threader_guard_slo_check_last_evaluation_timestamp_seconds{check="ok",name="web"} 1.7408304e+09`,
		`threader_guard_slo_check_passed{check="ok",name="web"} 0`,
		`threader_guard_slo_check_threshold{check="ok",name="web"} 0.99`,
		`threader_guard_slo_check_value{check="ok",name="web"} NaN`,
	}, samples(readFile(t, path))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, "Module is required"},
		{Options{Module: "m", Name: "a\nb"}, "control characters"},
		{Options{Module: "m", Name: string([]byte{0xff})}, "not valid UTF-8"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.opts, err, tc.want)
		}
	}
	if err := ValidateName(strings.Repeat("y", 129)); err == nil || !strings.HasPrefix(err.Error(), "metrics: name ") {
		t.Errorf("ValidateName = %v", err)
	}
}

func TestTextfilePathChecks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "metrics.txt"), "must be a file name ending in .prom"},
		{filepath.Join(dir, ".prom"), "must be a file name ending in .prom"},
		{filepath.Join(dir, "missing", "m.prom"), "no such file or directory"},
		{"m.prom", `"m.prom" must be an absolute path`},
		{"./metrics/m.prom", "must be an absolute path"},
	} {
		err := CheckTextfilePath(tc.path)
		var de *DestinationError
		if !errors.As(err, &de) || de.Field != FieldTextfile || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckTextfilePath(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d.prom"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckTextfilePath(filepath.Join(dir, "d.prom")); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory accepted: %v", err)
	}
	if err := CheckTextfilePath(filepath.Join(dir, "ok.prom")); err != nil {
		t.Errorf("valid path rejected: %v", err)
	}
}

func TestCorruptExistingTextfileIsNotOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	const junk = "this is { not prometheus\n"
	if err := os.WriteFile(path, []byte(junk), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t, Options{Module: "qos_guard"})
	r.RecordGuard(GuardState{})
	err := r.Publish(context.Background(), path, "")
	var de *DestinationError
	if !errors.As(err, &de) || de.Field != FieldTextfile || de.Target != path || !strings.Contains(err.Error(), "not in the Prometheus text format") {
		t.Fatalf("err = %v", err)
	}
	if got := readFile(t, path); got != junk {
		t.Errorf("file changed to %q", got)
	}
}

func TestForeignFamiliesInTheTextfileAreKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.prom")
	const foreign = "# HELP backup_ok Other tool.\n# TYPE backup_ok gauge\nbackup_ok 1\n"
	if err := os.WriteFile(path, []byte(foreign), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t, Options{Module: "qos_guard", Name: "g"})
	r.RecordGuard(GuardState{})
	if err := r.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	if text := readFile(t, path); !strings.HasPrefix(text, foreign) || !strings.Contains(text, `threader_guard_locked{name="g"} 0`) {
		t.Errorf("file:\n%s", text)
	}
}

func TestPublishNowhereReturnsOnlyRecordErrors(t *testing.T) {
	r := newRecorder(t, Options{Module: "retry_command"})
	r.RecordRetry(RetryRun{Outcome: OutcomeSuccess})
	if err := r.Publish(context.Background(), "", ""); err != nil {
		t.Errorf("Publish to nowhere: %v", err)
	}
	r.RecordRetry(RetryRun{Outcome: "maybe"})
	if err := r.Publish(context.Background(), "", ""); err == nil {
		t.Error("unknown outcome not reported")
	}
}

func TestFamiliesAreDocumentedGauges(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Families() {
		if !strings.HasPrefix(f.Name, "threader_guard_") || seen[f.Name] {
			t.Errorf("family %q: bad prefix or duplicate", f.Name)
		}
		seen[f.Name] = true
		if f.Labels[0] != LabelName || f.Help == "" {
			t.Errorf("family %q: labels %v help %q", f.Name, f.Labels, f.Help)
		}
	}
}

// The textfile is never read through a symlink or from a FIFO (which would
// hang the run): the write fails naming the file, and the symlink's target
// is untouched.
func TestTextfileIsNotReadThroughASymlinkOrFIFO(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.prom")
	os.WriteFile(secret, []byte("# TYPE secret gauge\nsecret 42\n"), 0o600)
	link := filepath.Join(dir, "link.prom")
	os.Symlink(secret, link)
	fifo := filepath.Join(dir, "fifo.prom")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{link, fifo} {
		r := newRecorder(t, Options{Module: "qos_guard", Name: "x"})
		r.RecordGuard(GuardState{})
		if err := r.Publish(context.Background(), path, ""); err == nil {
			t.Errorf("Publish to %s succeeded", path)
		}
	}
	if data, _ := os.ReadFile(secret); string(data) != "# TYPE secret gauge\nsecret 42\n" {
		t.Errorf("the symlink's target changed: %q", data)
	}
}

// The caller names the value as its option; this package never does.
func TestLabelValueErrorIsTypedAndDescribedByTheCaller(t *testing.T) {
	var lerr *LabelValueError
	if err := ValidateName("a\tb"); !errors.As(err, &lerr) || lerr.Label != LabelName ||
		lerr.Describe("checks[3].name") != `checks[3].name "a\tb" contains control characters` ||
		err.Error() != `metrics: name "a\tb" contains control characters` {
		t.Fatalf("%#v", err)
	}
	if err := ValidateName(" "); !errors.As(err, &lerr) || lerr.Describe("--name") != "--name must not be empty" {
		t.Fatalf("%v", err)
	}
}

func TestCanaryJudgementWritesEveryClassification(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.prom")
	r := newRecorder(t, Options{Module: "canary_judge", Name: "web", Clock: clock.NewFake(t0)})
	r.RecordCanaryJudgement(CanaryJudgement{Score: 50, Classification: "fail",
		Metrics: []CanaryMetric{{Name: "latency", Classification: "high"}}})
	if err := r.Publish(context.Background(), path, ""); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`threader_guard_canary_classification{classification="fail",name="web"} 1`,
		`threader_guard_canary_classification{classification="marginal",name="web"} 0`,
		`threader_guard_canary_classification{classification="pass",name="web"} 0`,
		`threader_guard_canary_last_judgement_timestamp_seconds{name="web"} 1.7408304e+09`,
		`threader_guard_canary_metric_classification{classification="error",metric="latency",name="web"} 0`,
		`threader_guard_canary_metric_classification{classification="high",metric="latency",name="web"} 1`,
		`threader_guard_canary_metric_classification{classification="low",metric="latency",name="web"} 0`,
		`threader_guard_canary_metric_classification{classification="nodata_fail",metric="latency",name="web"} 0`,
		`threader_guard_canary_metric_classification{classification="nodata",metric="latency",name="web"} 0`,
		`threader_guard_canary_metric_classification{classification="pass",metric="latency",name="web"} 0`,
		`threader_guard_canary_score{name="web"} 50`,
	}
	if diff := cmp.Diff(want, samples(readFile(t, path))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	bad := newRecorder(t, Options{Module: "canary_judge", Name: "web"})
	bad.RecordCanaryJudgement(CanaryJudgement{Classification: "maybe"})
	if err := bad.Publish(context.Background(), "", ""); err == nil || !strings.Contains(err.Error(), `canary classification "maybe"`) {
		t.Errorf("unknown classification: %v", err)
	}
}
