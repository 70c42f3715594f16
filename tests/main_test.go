package tests

import (
	"fmt"
	"os"
	"testing"

	"github.com/threader/guard/internal/testenv"
)

func TestMain(m *testing.M) {
	version, err := testenv.UseAnsibleCore()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if version != "" {
		fmt.Fprintf(os.Stderr, "tests: %s=%s: %s\n", testenv.AnsibleBinEnv, os.Getenv(testenv.AnsibleBinEnv), version)
	}
	os.Exit(testenv.CleanBinaryCache(m))
}
