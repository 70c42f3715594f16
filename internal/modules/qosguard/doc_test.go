package qosguard

import (
	"testing"

	"github.com/threader/guard/internal/modules/moduletest"
)

// The sidecar documentation is what ansible-doc shows and what users read;
// it must describe exactly the options the module accepts.
func TestSidecarDocMatchesSpec(t *testing.T) {
	moduletest.CheckSidecarDoc(t, Module, "plugins/modules/qos_guard.yml",
		"locked", "expires_at", "remaining_seconds", "locked_at", "reason", "owner", "host", "path", "format", "revision", "msg")
}
