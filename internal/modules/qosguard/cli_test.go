package qosguard

import (
	"io"
	"testing"
)

// The module refuses an empty scope or etcd_prefix (it would be the
// default guard another service shares); the CLI took --scope "" for the
// default scope.
func TestCLIRefusesAnEmptyScopeOrPrefixNamingTheFlag(t *testing.T) {
	for flag, want := range map[string]string{
		"--scope":       "--scope must not be empty: it names the guard",
		"--etcd-prefix": "--etcd-prefix must not be empty: it names the guard",
	} {
		_, _, _, err := parseCLI([]string{"--backend", "etcd", "--etcd-endpoints", "http://127.0.0.1:2379", flag, "", "status"}, io.Discard)
		if err == nil || err.Error() != want {
			t.Errorf("%s \"\": %v, want %q", flag, err, want)
		}
	}
}
