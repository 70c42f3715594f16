package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

// The CLI stays the CLI wherever it runs: files in the working directory
// named like its words and holding JSON do not make it a module run (issue
// 10, item 2: `qos_guard status` beside a file "status" holding {} printed
// JSON and exited 0 while the guard was locked; `qos_guard lock 5` beside a
// file "lock" locked nothing).
func TestQosGuardCLIIgnoresJSONFilesNamedLikeItsWords(t *testing.T) {
	bin := testenv.BuildCLI(t, "qos_guard")
	dir := t.TempDir()
	for _, word := range []string{"status", "lock"} {
		if err := os.WriteFile(filepath.Join(dir, word), []byte(`{"state": "status"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	guard := filepath.Join(t.TempDir(), "guard")
	cli := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "QOS_GUARD_PATH="+guard)
		out, err := cmd.CombinedOutput()
		return string(out), testenv.ExitCode(t, err)
	}
	out, code := cli("lock", "5")
	if code != 0 || strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("qos_guard lock 5 beside ./lock: exit %d, output %q (want the CLI locking)", code, out)
	}
	if _, err := os.Stat(guard); err != nil {
		t.Fatalf("qos_guard lock 5 beside ./lock locked nothing: %v", err)
	}
	out, code = cli("status")
	if code != 1 || strings.HasPrefix(strings.TrimSpace(out), "{") || !strings.Contains(out, "locked") {
		t.Errorf("qos_guard status beside ./status while locked: exit %d, output %q (want the CLI, exit 1)", code, out)
	}
}
