// Command threader-guard is the collection's one multi-call binary: every
// module of threader.guard linked into a single static program, shipped once
// per architecture (files/bin/threader-guard_linux_ARCH). The action plugins
// run it on the target as `threader-guard NAME --ansible-args-stdin` with the
// module arguments on stdin; as an AnsiballZ_NAME copy given an args file
// (how Ansible runs a plain binary module) it runs NAME as a module too; as
// NAME (argv[0]) or `threader-guard NAME ARGS...` it is NAME's CLI.
package main

import (
	"os"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/modules/canaryjudge"
	"github.com/threader/guard/internal/modules/qosguard"
	"github.com/threader/guard/internal/modules/retrycommand"
	"github.com/threader/guard/internal/modules/slocheck"
)

// programs lists every module of the collection. A module missing here fails
// on the target with a usage error naming the programs that are linked;
// tests/collection_test.go checks that each plugins/modules/NAME.yml is here.
var programs = []ansiblemod.Program{
	canaryjudge.Module,
	qosguard.Module,
	retrycommand.Module,
	slocheck.Module,
}

func main() {
	if ansiblemod.IsStdinInvocation(os.Args) {
		for _, p := range programs {
			if p.Name == os.Args[1] {
				os.Exit(ansiblemod.RunStdin(p, os.Stdin))
			}
		}
	}
	ansiblemod.MultiMain(programs...)
}
