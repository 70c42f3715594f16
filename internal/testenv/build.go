package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildMu  sync.Mutex
	builtCLI = map[string]string{}
	buildDir string
)

// BuildCLI compiles modules/NAME for this machine once per test process and
// returns the binary's path.
func BuildCLI(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := builtCLI[name]; ok {
		return p
	}
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "threader-guard-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
	}
	out := filepath.Join(buildDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./modules/"+name)
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./modules/%s: %v\n%s", name, err, msg)
	}
	builtCLI[name] = out
	return out
}
