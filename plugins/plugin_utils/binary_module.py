# -*- coding: utf-8 -*-
# Copyright: threader.guard developers
# Apache License 2.0 (see the collection's galaxy.yml)
"""Runs this collection's compiled modules on a target in one remote command.

Every module of threader.guard is linked into one static Go program,
``threader-guard``, built once per architecture and shipped in the collection
as ``files/bin/threader-guard_linux_ARCH`` with ``files/bin/SHA256SUMS``.
Ansible cannot pipeline binary modules: run as plain binary modules, each task
would create a remote temporary directory, copy the whole binary, make it
executable, run it and remove it. The action plugins (one per module, all
subclasses of BinaryModuleAction) do this instead:

1. One remote command (``/bin/sh``, as the become user when there is one)
   asks ``uname -sm``, picks the SHA-256 of the binary for that OS and CPU,
   and looks for ``ROOT/SHA256/threader-guard`` in the per-user cache (see
   below). If the file is the one verified before (same device, inode, size,
   mtime and ctime as recorded next to it after its SHA-256 was checked) or
   its SHA-256 matches now, it is executed as
   ``threader-guard NAME --ansible-args-stdin`` with the module arguments on
   stdin: they never touch the target's disk. That is one round trip.
2. If the binary is missing or different, the command prints a marker and
   exits. The plugin then sends the binary for that CPU (once per host, user
   and collection version), checks its SHA-256 on the target, moves it into
   the cache atomically, and runs the module in the same command.
3. Any other OS or CPU gets a failed result naming it.

The cache (it runs as whoever the module runs as, root included):

- ROOT is ``~/.cache/threader.guard`` when $HOME is a directory of that
  user, else ``${TMPDIR:-/tmp}/threader.guard-UID``; with
  ``threader_guard_cache_dir`` D (absolute, or ``~/...``), ``D/threader.guard-UID``:
  a directory the user names, possibly shared like /var/tmp, is never
  chmod-ed or pruned, only that subdirectory is the plugin's.
- The directory holding ROOT is resolved once (``cd -P``): every later
  path goes through no symlink, so one that someone else can repoint (say in
  /var/tmp) cannot send the check to one tree and exec to another.
- Nothing in it is executed, and no stat record believed, unless every
  directory from ROOT down is owned by that user, not a symlink and writable
  by nobody else, and the binary and record are regular files of that user;
  the directory holding ROOT and every directory above it, up to /, must be
  that user's or root's and writable by others only if sticky (``safe`` in
  FUNCTIONS: one stat for the path), so no one else can rename a directory
  on the way between the check and the exec.
- A ROOT that fails is never used nor removed: a private ``ROOT.XXXXXX``
  (mktemp -d) beside it is used instead, and found again by later tasks. An
  unsafe directory holding ROOT fails the task, naming it.
- The binary and its record are written to new files (mktemp) and renamed
  into place: a symlink or FIFO planted at their path is never followed or
  opened. Versions unused for 30 days are removed, only inside ROOT.

Arguments go on stdin (``in_data``) whenever the connection can pipeline.
Otherwise (a connection without pipelining, ``su`` or a password-prompting
become that needs a terminal, or ``threader_guard_args_on_stdin: false``) they
go to a file in a private remote temporary directory that the remote command
opens and removes before the module starts. The task's ``environment:``
travels with them (ENVIRONMENT_KEY) and the binary sets it, so its values
never appear on a remote command line, where ``ps`` shows them to everyone.

``async`` tasks go through ansible-core's own path (async_wrapper, which needs
Python on the target): the plugin installs and verifies the binary first, then
runs the small stub ``plugins/modules/NAME`` with ``THREADER_GUARD_BIN``
pointing at it, so the binary is not copied per task there either; the
environment goes in the args file.

Variables (per host, or of the delegated host under ``delegate_to``):
``threader_guard_cache_dir`` (see above) and ``threader_guard_args_on_stdin``
(default true).
"""

from __future__ import annotations

import datetime
import inspect
import json
import os
import shlex
from collections.abc import Sequence

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

display = Display()


def encode_args(module_args):
    """The module arguments as JSON. YAML reads an unquoted 2026-11-29T16:00:00Z
    as a datetime (and 2026-11-29 as a date), which json cannot encode; like
    ansible-core's own module path (AnsibleJSONEncoder), they are sent as ISO
    8601 text, so `start: 2026-11-29T16:00:00Z` works unquoted."""

    def iso(value):
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)

    return json.dumps(module_args, default=iso)


COLLECTION = "threader.guard"
BINARY = "threader-guard"
STDIN_FLAG = "--ansible-args-stdin"
# The argument that carries the task's environment (internal/ansiblemod
# EnvironmentKey).
ENVIRONMENT_KEY = "_threader_guard_environment"
BIN_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "files", "bin"
)

# (uname -s, uname -m answers, Go architecture of the binary that runs there)
SUPPORTED = (
    ("Linux", ("x86_64", "amd64"), "amd64"),
    ("Linux", ("aarch64", "arm64"), "arm64"),
)

MISSING = "THREADER_GUARD_MISSING"
UNSUPPORTED = "THREADER_GUARD_UNSUPPORTED"
INSTALL_FAILED = "THREADER_GUARD_INSTALL_FAILED"
UNSAFE = "THREADER_GUARD_UNSAFE"
READY = "THREADER_GUARD_READY"

# Identity of a verified binary, cheap to re-check on every task: a rewrite,
# a replacement or a chmod changes the inode, size, mtime or ctime (which no
# one but the kernel sets). A mismatch costs one full SHA-256 check.
STAT_FORMAT = "%d:%i:%s:%Y:%z"


def load_binaries(bin_dir=BIN_DIR):
    """Returns {arch: (sha256, local path)} from bin_dir/SHA256SUMS."""
    path = os.path.join(bin_dir, "SHA256SUMS")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise AnsibleError(
            "threader.guard: cannot read %s (%s): the collection was built without its binaries" % (path, e)
        )
    prefix = BINARY + "_linux_"
    binaries = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*").startswith(prefix):
            name = parts[1].lstrip("*")
            binaries[name[len(prefix):]] = (parts[0].lower(), os.path.join(bin_dir, name))
    if not binaries:
        raise AnsibleError("threader.guard: %s lists no %s binaries" % (path, prefix + "ARCH"))
    return binaries


def supported_platforms(binaries):
    return ", ".join(
        "%s %s (%s)" % (system, machines[0], arch) for system, machines, arch in SUPPORTED if arch in binaries
    )


def cache_location_script(cache_dir):
    """Shell that sets p, the directory that holds the cache, and n, the name
    of the cache root in it, as the user the module runs as (u is its uid).

    Without threader_guard_cache_dir: ~/.cache/threader.guard when $HOME is
    really this user's (su without -l, sudo without -H, or a service account
    with /nonexistent keep another one), else ${TMPDIR:-/tmp}/threader.guard-UID.
    A directory the user names (possibly shared, like /var/tmp) only ever
    holds the subdirectory threader.guard-UID that the plugin creates.
    """
    if not cache_dir:
        return (
            'if [ -n "${HOME:-}" ] && [ -d "$HOME" ] && [ -O "$HOME" ]; then p=$HOME/.cache n=threader.guard; '
            "else p=${TMPDIR:-/tmp} n=threader.guard-$u; fi"
        )
    if cache_dir == "~" or cache_dir.startswith("~/"):
        rest = cache_dir[1:].rstrip("/")
        p = '"$HOME"%s' % shlex.quote(rest) if rest else '"$HOME"'
    elif cache_dir.startswith("/"):
        p = shlex.quote(cache_dir.rstrip("/") or "/")
    else:
        raise AnsibleError(
            "threader_guard_cache_dir must be an absolute path or start with ~/, got: %s" % cache_dir
        )
    return "p=%s n=threader.guard-$u" % p


# Shell functions of both remote commands. Nothing in the cache is trusted
# (executed, or its stat record believed) unless the path to it is safe:
# whoever can write to a directory on the way can swap what is below it.
#
# resolve: sets p to the real path of the directory holding the cache (no
#   symlink left in it); fails, leaving p, when it cannot be entered. Later paths
#   never go through a symlink someone else could repoint between the check
#   and the exec.
# safe TYPES PATH...: letter i of TYPES says what PATH i must be (lstat: a
#   symlink, FIFO or device is none of them, and is never opened).
#   p  the directory holding the cache root, and (added here) every directory
#      above it up to /: owned by this user or root, and writable by nobody
#      else unless sticky (like /tmp), so no one else can rename or replace
#      anything on the way;
#   d  a directory, -  a regular file: owned by this user and writable by
#      nobody else.
#   One stat for all paths: cheap enough to run before every task. On
#   failure, bad is the path that failed.
# pick: sets r to the cache root: $p/$n if it is missing or safe, else a
#   private $p/$n.XXXXXX made before (mktemp -d), else empty. A root someone
#   else made, a symlink or a writable one is never used, never removed.
# unsafe PATH: stops, naming PATH, its owner and mode.
FUNCTIONS = r"""resolve() {
  q=$(CDPATH='' cd -P -- "$p" 2>/dev/null && pwd -P) && [ -n "$q" ] && p=$q
}
safe() {
  t=$1 k=$1 bad=
  shift
  for f; do
    case $k in p*)
      c=${f%/*}
      while :; do
        set -- "$@" "${c:-/}"
        t=${t}p
        [ -n "$c" ] || break
        c=${c%/*}
      done ;;
    esac
    k=${k#?}
  done
  for m in $(stat -c %u:%A -- "$@" 2>/dev/null) .; do
    case ${t%"${t#?}"}:$m in
    :.) return 0 ;;
    p:"$u":d????[!w]??[!w]? | p:0:d????[!w]??[!w]? | p:"$u":d????????[tT] | p:0:d????????[tT]) ;;
    d:"$u":d????[!w]??[!w]? | -:"$u":-????[!w]??[!w]?) ;;
    *) bad=${1:-?}; return 1 ;;
    esac
    t=${t#?}
    shift
  done
}
pick() {
  r=$p/$n
  { [ -e "$r" ] || [ -L "$r" ]; } || return 0
  safe d "$r" && return 0
  for r in "$p/$n".??????; do
    safe d "$r" && return 0
  done
  r=
}
unsafe() {
  echo "@UNSAFE@ $(stat -c %U\(%u\):%A -- "$1" 2>/dev/null || echo unknown:unknown) $1"
  exit 0
}""".replace("@UNSAFE@", UNSAFE)


def select_script(binaries):
    """Shell that sets a (arch) and h (sha256) for this target, or prints
    UNSUPPORTED and exits."""
    cases = []
    for system, machines, arch in SUPPORTED:
        if arch in binaries:
            patterns = "|".join("%s:%s" % (system, m) for m in machines)
            cases.append("%s) a=%s h=%s ;;" % (patterns, arch, binaries[arch][0]))
    return "\n".join(
        ["set -- $(uname -sm 2>/dev/null)", 'case "${1:-}:${2:-}" in']
        + cases
        + ['*) echo "%s ${1:-unknown} ${2:-unknown}"; exit 0 ;;' % UNSUPPORTED, "esac"]
    )


def preamble(select, cache_dir):
    """umask, then select (which sets h, the binary's SHA-256), u (uid), p
    and n (cache_location_script) and the functions."""
    return "\n".join(["umask 077", select, "u=$(id -u)", cache_location_script(cache_dir), FUNCTIONS])


def write_record_script():
    """Records the identity of the verified binary $b in $b.ok: written to a
    new file (mktemp, O_EXCL) and renamed over the old one, so no symlink or
    FIFO planted there is ever followed or opened."""
    return (
        'o=$(mktemp "$d/.ok.XXXXXX" 2>/dev/null) && v=$(stat -c "%s" -- "$b" 2>/dev/null) && '
        'printf "%%s\\n" "$v $h" >"$o" && mv -f -- "$o" "$b.ok" 2>/dev/null || rm -f -- "${o:-}" 2>/dev/null' % STAT_FORMAT
    )


def launch_script(binaries, cache_dir, run):
    """The per-task command: find and check the cached binary, then run.

    The common case costs one stat for the whole path (safe), one for the
    binary's identity and a read of the record. Anything else (a missing or
    unsafe root, a bad record) takes the slow path, which never runs a
    binary it has not just found safe and hashed."""
    missing = '{ echo "%s $a $h"; exit 0; }' % MISSING
    return "\n".join(
        [
            preamble(select_script(binaries), cache_dir),
            "resolve || " + missing,
            "r=$p/$n d=$p/$n/$h b=$p/$n/$h/%s s='' v='' k=''" % BINARY,
            'if safe pdd-- "$p" "$r" "$d" "$b" "$b.ok"; then',
            "\tk=1",
            "else",
            '\tsafe p "$p" || unsafe "$bad"',
            "\tpick",
            "\td=$r/$h b=$r/$h/%s" % BINARY,
            '\t[ -n "$r" ] && safe dd- "$r" "$d" "$b" || ' + missing,
            '\tsafe - "$b.ok" && k=1',
            "fi",
            '[ -z "$k" ] || { v=$(stat -c "%s" -- "$b" 2>/dev/null) && { read -r s <"$b.ok"; } 2>/dev/null; }'
            % STAT_FORMAT,
            'if [ "$v $h" != "$s" ]; then',
            '\tset -- $(sha256sum -- "$b" 2>/dev/null)',
            '\t[ "${1:-}" = "$h" ] || ' + missing,
            "\t" + write_record_script(),
            "fi",
            run,
        ]
    )


def install_script(binaries, cache_dir, arch, src, run):
    """Moves the sent binary src into the cache after checking it, then runs."""
    h = binaries[arch][0]

    def fail(why):
        return '{ rm -f -- "${t:-}"; echo "%s %s"; exit 0; }' % (INSTALL_FAILED, why)

    return "\n".join(
        [
            preamble("h=%s t=''" % h, cache_dir),
            '{ [ -e "$p" ] || [ -L "$p" ]; } || mkdir -p -- "$p" || '
            + fail("cannot create the cache directory $p (set threader_guard_cache_dir)"),
            "resolve || " + fail("cannot enter the cache directory $p (set threader_guard_cache_dir)"),
            'safe p "$p" || unsafe "$bad"',
            "pick",
            '[ -z "$r" ] || [ -e "$r" ] || [ -L "$r" ] || mkdir -- "$r" 2>/dev/null',
            # Taken by someone else since pick (or never ours): a fresh one.
            '[ -n "$r" ] && safe d "$r" || r=$(mktemp -d "$p/$n.XXXXXX") || '
            + fail("cannot create a private cache directory in $p"),
            'safe d "$r" || ' + fail("the cache directory $r is not private to this user"),
            "d=$r/$h b=$r/$h/%s" % BINARY,
            '[ -e "$d" ] || [ -L "$d" ] || mkdir -- "$d" 2>/dev/null',
            'safe d "$d" || ' + fail("the cache entry $d is not a private directory of this user: remove it"),
            "command -v sha256sum >/dev/null 2>&1 || "
            + fail("sha256sum (coreutils or busybox) is needed on the target to verify the binary"),
            't=$(mktemp "$d/.new.XXXXXX") && cp -- %s "$t" || %s'
            % (shlex.quote(src), fail("cannot copy the binary into $d")),
            'set -- $(sha256sum -- "$t" 2>/dev/null); [ "${1:-}" = "$h" ] || '
            + fail("the binary sent is damaged: its SHA-256 is ${1:-unknown}, expected $h"),
            'chmod 700 -- "$t" && mv -f -- "$t" "$b" || ' + fail("cannot move the binary into place at $b"),
            write_record_script(),
            # Versions of ours not installed again for 30 days are removed
            # (only in the root this user owns, never in the directory above).
            'find "$r" -mindepth 1 -maxdepth 1 -type d -mtime +30 -name "%s" ! -name "$h" -exec rm -rf {} + 2>/dev/null'
            % ("[0-9a-f]" * 8 + "*"),
            run,
        ]
    )


def marker(stdout):
    """(MARKER, rest) when the command stopped before the module ran."""
    lines = [line for line in to_text(stdout).splitlines() if line.strip()]
    if lines and lines[-1].startswith("THREADER_GUARD_"):
        word, _sep, rest = lines[-1].strip().partition(" ")
        return word, rest
    return None, ""


class BinaryModuleAction(ActionBase):
    """Action plugin of one compiled module: set ``module`` to its name."""

    module = None

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = True
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        if result.get("skipped"):
            return result
        if getattr(self._connection._shell, "SHELL_FAMILY", "sh") == "powershell":
            return merge_hash(result, self._fail(
                "the target is Windows (PowerShell); threader.guard ships its compiled modules for %s only"
                % supported_platforms(load_binaries())
            ))
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        try:
            if wrap_async:
                result = merge_hash(result, self._run_async(task_vars))
            else:
                result = merge_hash(result, self._run_now(task_vars))
        finally:
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # -- the module run --------------------------------------------------

    def _run_now(self, task_vars):
        binaries = load_binaries()
        cache_dir = self._cache_dir(task_vars)
        module_args = self._module_args()
        self._update_module_args(self._task.action, module_args, task_vars)
        args = encode_args(module_args)
        exe = 'exec "$b" %s %s' % (self.module, STDIN_FLAG)
        if self._args_on_stdin(task_vars):
            in_data, run = to_bytes(args, errors="surrogate_or_strict"), exe
        else:
            in_data, run = None, self._args_file_run(args, exe)

        res, word, rest, failure = self._launch(binaries, cache_dir, run, in_data, task_vars)
        failure = failure or self._marker_failure(word, rest, binaries)
        if failure:
            return failure
        return self._module_result(res)

    def _args_file_run(self, args, exe):
        """Puts the args in a private remote temp dir; the command opens the
        file and removes it before the module starts, which reads stdin."""
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        path = self._connection._shell.join_path(tmpdir, "args")
        self._transfer_data(path, args)
        self._fixup_perms2([tmpdir, path], execute=False)
        q = shlex.quote(path)
        return "exec 3<%s || exit 1\nrm -f %s 2>/dev/null\n%s <&3 3<&-" % (q, q, exe)

    def _launch(self, binaries, cache_dir, run, in_data, task_vars):
        """Runs `run` with the cached binary; when the target reports it
        missing, sends and installs it and runs `run` in that same command.
        Returns the result, its marker (word, rest) and a failed result when
        the target asked for an architecture this collection does not ship."""
        res = self._remote(launch_script(binaries, cache_dir, run), in_data)
        word, rest = marker(res.get("stdout", ""))
        if word == MISSING:
            arch = rest.split()[0] if rest.split() else ""
            if arch not in binaries:
                return res, word, rest, self._fail(
                    "the target asked for a binary for %r, which this collection does not ship" % arch
                )
            res = self._install(binaries, cache_dir, arch, task_vars, run, in_data)
            word, rest = marker(res.get("stdout", ""))
        return res, word, rest, None

    def _install(self, binaries, cache_dir, arch, task_vars, run, in_data):
        """Sends the binary for arch, then checks, installs and runs it."""
        sha, local = binaries[arch]
        if not os.path.isfile(local):
            raise AnsibleError("threader.guard: %s is missing from the installed collection" % local)
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = self._connection._shell.join_path(tmpdir, os.path.basename(local))
        self._transfer_file(local, remote)
        self._fixup_perms2([tmpdir, remote], execute=False)
        display.v(
            "threader.guard: sent %s (sha256 %s) to %s" % (os.path.basename(local), sha, self._target_name(task_vars))
        )
        return self._remote(install_script(binaries, cache_dir, arch, remote, run), in_data)

    def _run_async(self, task_vars):
        """ansible-core's async path, with the stub module and the cached
        binary: THREADER_GUARD_BIN tells the stub where the binary is."""
        binaries = load_binaries()
        cache_dir = self._cache_dir(task_vars)
        ready = 'echo "%s $b"' % READY
        res, word, rest, failure = self._launch(binaries, cache_dir, ready, None, task_vars)
        if failure:
            return failure
        if word != READY:
            return self._marker_failure(word, rest, binaries) or self._module_result(res)
        # The install temp dir is ours to remove; async_wrapper removes its own.
        self._remove_tmp_path(self._connection._shell.tmpdir)
        # The task environment goes in the args file (module_args), not on
        # the async_wrapper command line; only the binary's path goes there.
        module_args = self._module_args()
        environment = self._task.environment
        self._task.environment = [{"THREADER_GUARD_BIN": rest}]
        try:
            result = self._execute_module(
                module_name="%s.%s" % (COLLECTION, self.module),
                module_args=module_args,
                task_vars=task_vars,
                wrap_async=True,
            )
        except BaseException:
            self._task.environment = environment
            raise
        # ansible-core then polls the job with async_status run under this
        # task's environment, on its command line; the poll needs none of it.
        self._task.environment = None
        return result

    # -- helpers -----------------------------------------------------------

    def _module_args(self):
        """The task's arguments plus its environment (ENVIRONMENT_KEY): the
        binary sets the variables itself, so their values (tokens, say) never
        appear in the remote command line, where any local user sees them."""
        module_args = dict(self._task.args)
        environment = {}
        self._compute_environment_string(environment)
        if environment:
            module_args[ENVIRONMENT_KEY] = dict(
                (to_text(name), to_text(value, nonstring="simplerepr")) for name, value in environment.items()
            )
        return module_args

    def _remote(self, script, in_data):
        return self._low_level_execute_command(script, sudoable=True, in_data=in_data)

    def _marker_failure(self, word, rest, binaries):
        if word == UNSUPPORTED:
            return self._fail(
                "the target runs %s; threader.guard ships its compiled modules for %s only"
                % (rest or "an unknown OS and CPU", supported_platforms(binaries))
            )
        if word == INSTALL_FAILED:
            return self._fail("cannot install the module binary on the target: %s" % rest)
        if word == MISSING:
            return self._fail("the module binary sent to the target does not verify there (%s)" % rest)
        if word == UNSAFE:
            owner_mode, _sep, path = rest.partition(" ")
            owner, _sep, mode = owner_mode.partition(":")
            return self._fail(
                "will not keep or run the module binary under %s: it is owned by %s with mode %s, so someone "
                "else could replace what is in it. The directory holding the cache must belong to the user the "
                "module runs as (or root) and be writable by nobody else unless sticky (like /tmp); set "
                "threader_guard_cache_dir to such a directory" % (path, owner, mode)
            )
        return None

    def _module_result(self, res):
        """What _execute_module does with a module's output."""
        data = self._parse_module_output(res)
        if not data.get("_ansible_parsed", True) or "module_stdout" in data:
            rc = res.get("rc")
            if rc in (126, 127):
                data["msg"] = (
                    "%s\nThe module binary could not be executed (rc %s): is the cache directory on a noexec "
                    "file system? Set threader_guard_cache_dir to a directory where programs may run."
                    % (data.get("msg", "MODULE FAILURE"), rc)
                )
        if "results" in data and (not isinstance(data["results"], Sequence) or isinstance(data["results"], str)):
            data["ansible_module_results"] = data.pop("results")
            display.warning("Found internal 'results' key in module return, renamed to 'ansible_module_results'.")
        remove_internal_keys(data)
        for stream in ("stdout", "stderr"):
            if stream in data and stream + "_lines" not in data:
                data[stream + "_lines"] = (data.get(stream) or "").splitlines()
        return wrap_var(data)

    def _parse_module_output(self, res):
        """The module's JSON result as a dict. ansible-core 2.19 decodes it
        with a serialization profile (a required argument there); binary
        modules get the legacy one, as _execute_module gives them."""
        if "profile" in inspect.signature(self._parse_returned_data).parameters:
            return self._parse_returned_data(res, "legacy")
        return self._parse_returned_data(res)

    def _fail(self, msg):
        return {"failed": True, "changed": False, "msg": "%s.%s: %s" % (COLLECTION, self.module, msg)}

    def _host_vars(self, task_vars):
        if self._task.delegate_to:
            delegated = task_vars.get("ansible_delegated_vars", {}).get(self._task.delegate_to)
            if delegated is not None:
                return delegated
        return task_vars

    def _var(self, task_vars, name, default=None):
        host_vars = self._host_vars(task_vars)
        if name not in host_vars:
            return default
        return self._templar.template(host_vars[name])

    def _cache_dir(self, task_vars):
        value = self._var(task_vars, "threader_guard_cache_dir")
        return to_text(value).strip() if value else ""

    def _args_on_stdin(self, task_vars):
        if not boolean(self._var(task_vars, "threader_guard_args_on_stdin", True), strict=False):
            return False
        conn = self._connection
        if not getattr(conn, "has_pipelining", False):
            return False
        become = conn.become
        try:
            password = become is not None and become.get_option("become_pass")
        except KeyError:
            password = False
        if password:
            # su prompts on a terminal, and the local connection gives a
            # prompting become a pty unless pipelining is on: stdin is taken.
            if become.name.split(".")[-1] == "su":
                return False
            try:
                pipelining = conn.get_option("pipelining")
            except (KeyError, AttributeError):
                pipelining = self._play_context.pipelining
            if conn.transport.split(".")[-1] == "local" and not pipelining:
                return False
        return True

    def _target_name(self, task_vars):
        return self._task.delegate_to or task_vars.get("inventory_hostname", "the target")
