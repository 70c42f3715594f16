package retrycommand

import (
	"testing"

	"github.com/threader/guard/internal/modules/moduletest"
)

// The sidecar documentation is what ansible-doc shows and what users read;
// it must describe exactly the options the module accepts.
func TestSidecarDocMatchesSpec(t *testing.T) {
	moduletest.CheckSidecarDoc(t, Module, "plugins/modules/retry_command.yml",
		"rc", "stdout", "stderr", "truncated", "attempts", "history", "total_seconds", "cmd", "msg", "stop_reason")
}
