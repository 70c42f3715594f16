// Command canary_judge is the threader.guard.canary_judge Ansible module and,
// run from a shell, the canary_judge CLI: a statistical canary-versus-baseline
// judge over Prometheus.
package main

import (
	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/modules/canaryjudge"
)

func main() { ansiblemod.Main(canaryjudge.Module) }
