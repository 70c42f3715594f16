// Command slo_check is the threader.guard.slo_check Ansible module and, run
// from a shell, the slo_check CLI: a fail-closed SLO gate over Prometheus and
// Loki.
package main

import (
	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/modules/slocheck"
)

func main() { ansiblemod.Main(slocheck.Module) }
