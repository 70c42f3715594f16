// Command retry_command is the threader.guard.retry_command Ansible module
// and, run from a shell, the retry_command CLI (a drop-in for
// retry_backoff.sh).
package main

import (
	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/modules/retrycommand"
)

func main() { ansiblemod.Main(retrycommand.Module) }
