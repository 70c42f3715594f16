// Command qos_guard is the threader.guard.qos_guard Ansible module and, run
// from a shell, the qos_guard CLI (a drop-in for qos_guard.sh).
package main

import (
	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/modules/qosguard"
)

func main() { ansiblemod.Main(qosguard.Module) }
