package slocheck

import (
	"testing"

	"github.com/threader/guard/internal/modules/moduletest"
)

// The sidecar documentation is what ansible-doc shows and what users read;
// it must describe exactly the options the module accepts, the checks
// suboptions included.
func TestSidecarDocMatchesSpec(t *testing.T) {
	moduletest.CheckSidecarDoc(t, Module, "plugins/modules/slo_check.yml",
		"passed", "checks", "evaluations", "evaluated_at", "msg")
}
