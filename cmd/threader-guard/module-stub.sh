#!/bin/sh
# WANT_JSON
# threader.guard.@NAME@ runs through the action plugin of the same name
# (plugins/action/@NAME@.py); its documentation is @NAME@.yml beside this file.
# The plugin keeps the collection's compiled binary in a per-user cache on the
# target and runs it with the arguments on stdin. This stub is what ansible-core
# runs only for async tasks (async_wrapper needs a module file and an args
# file): the plugin has installed and verified the binary for the target's CPU
# and passes its path in THREADER_GUARD_BIN. The args file is opened, then
# removed before the module starts, which reads it from stdin.
if [ -z "${THREADER_GUARD_BIN:-}" ]; then
	printf '{"failed": true, "msg": "threader.guard.@NAME@ must run through its action plugin (plugins/action/@NAME@.py), which was bypassed"}\n'
	exit 1
fi
exec 3<"$1" && rm -f "$1" && exec "$THREADER_GUARD_BIN" @NAME@ --ansible-args-stdin <&3 3<&-
