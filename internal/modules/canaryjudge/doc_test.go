package canaryjudge

import (
	"testing"

	"github.com/threader/guard/internal/modules/moduletest"
)

// The sidecar documentation is what ansible-doc shows; it must describe
// exactly the options the module accepts, the metrics suboptions included.
func TestSidecarDocMatchesSpec(t *testing.T) {
	moduletest.CheckSidecarDoc(t, Module, "plugins/modules/canary_judge.yml",
		"score", "classification", "passed", "decisive", "metrics", "interval", "msg")
}
