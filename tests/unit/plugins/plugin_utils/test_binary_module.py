# -*- coding: utf-8 -*-
# Copyright: threader.guard developers
# Apache License 2.0 (see the collection's galaxy.yml)
"""The remote commands the action plugins build, run for real with /bin/sh
on this machine: the launch script (find, check and run the cached binary)
and the install script (check, cache and run a sent binary), against cache
directories planted by another local user.

Run as root (the tests act as a victim user and an attacker uid), with
ansible-test in the collection checked out as ansible_collections/threader/guard:
    ansible-test units --python 3.11
(tests/ansible_test_test.go does this for `make test`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from ansible_collections.threader.guard.plugins.plugin_utils import binary_module as bm

VICTIM = 65534  # nobody: no home of its own (/nonexistent)
ATTACKER = 23456  # any other local user
RUN = 'exec "$b" qos_guard --ansible-args-stdin'
REAL = "#!/bin/sh\necho \"real $*\"\n"
EVIL = "#!/bin/sh\necho EVIL\n"


def require_root():
    if os.geteuid() != 0:
        pytest.fail("these tests act as other users (nobody, an attacker uid): run them as root")


@pytest.fixture
def world():
    """A base directory that every uid can enter, a sticky shared directory
    in it (like /tmp), and the real "binary" (a script) the plugin ships."""
    require_root()
    base = tempfile.mkdtemp(prefix="tg-plugin-test-")
    os.chmod(base, 0o755)
    shared = os.path.join(base, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    src = os.path.join(base, "threader-guard_linux_amd64")
    with open(src, "w") as f:
        f.write(REAL)
    os.chmod(src, 0o755)
    sha = hashlib.sha256(REAL.encode()).hexdigest()
    binaries = {"amd64": (sha, src), "arm64": (sha, src)}
    yield {"base": base, "shared": shared, "src": src, "sha": sha, "binaries": binaries}
    shutil.rmtree(base, ignore_errors=True)


def sh(script, uid=VICTIM, env=None):
    """Runs script with /bin/sh as uid, like the remote command: its stdout."""
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent"}
    environment.update(env or {})
    kwargs = {}
    if uid != os.geteuid():
        kwargs = {"user": uid, "group": uid, "extra_groups": []}
    # The timeout only stops a hang (a FIFO opened for reading blocks forever).
    res = subprocess.run(
        ["/bin/sh", "-c", script], env=environment, capture_output=True, text=True, timeout=60, cwd="/", check=False,
        **kwargs
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def as_user(uid, *argv):
    subprocess.run(list(argv), check=True, user=uid, group=uid, extra_groups=[], cwd="/")


def launch(w, cache_dir="", uid=VICTIM, env=None):
    return sh(bm.launch_script(w["binaries"], cache_dir, RUN), uid, env)


def install(w, cache_dir="", uid=VICTIM, env=None):
    return sh(bm.install_script(w["binaries"], cache_dir, machine_arch(), w["src"], RUN), uid, env)


def machine_arch():
    return {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]


def own_root(parent, uid=VICTIM):
    return os.path.join(parent, "threader.guard-%d" % uid)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def plant(w, root, uid=ATTACKER):
    """An attacker's binary at ROOT/<sha>/threader-guard, with a stat record
    that matches it: before the fix, the victim ran it without hashing it."""
    d = os.path.join(root, w["sha"])
    as_user(uid, "mkdir", "-p", "-m", "755", d)
    b = os.path.join(d, "threader-guard")
    as_user(uid, "sh", "-c", 'printf "%s" "$1" >"$2" && chmod 755 "$2"', "-", EVIL, b)
    identity = subprocess.run(
        ["stat", "-c", bm.STAT_FORMAT, b], check=True, capture_output=True, text=True
    ).stdout.strip()
    as_user(uid, "sh", "-c", 'printf "%s\\n" "$1" >"$2"', "-", "%s %s" % (identity, w["sha"]), b + ".ok")
    return b


def scripts(w):
    for cache_dir in ("", "/var/tmp", "~/cache dir", "/a path/with 'quotes'"):
        yield "launch", bm.launch_script(w["binaries"], cache_dir, RUN)
        yield "install", bm.install_script(w["binaries"], cache_dir, "amd64", "/tmp/some src", RUN)


def test_scripts_parse_with_sh_n_and_pass_shellcheck(world):
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.fail("shellcheck is needed (Debian package shellcheck)")
    for name, script in scripts(world):
        res = subprocess.run(["/bin/sh", "-n"], input=script, capture_output=True, text=True, check=False)
        assert res.returncode == 0, "%s: %s\n%s" % (name, res.stderr, script)
        # SC2046: $(uname -sm) and $(sha256sum ...) are split on purpose.
        # SC2015: `A && B || fail` is meant: fail when A or B fails.
        res = subprocess.run(
            [shellcheck, "-s", "sh", "-e", "SC2046,SC2015", "-"], input=script, capture_output=True, text=True, check=False
        )
        assert res.returncode == 0, "%s:\n%s" % (name, res.stdout)


def test_install_then_launch_in_a_private_subdirectory_of_a_shared_cache_dir(world):
    shared = world["shared"]
    # The marker names the architecture to send (the plugin picks the binary by it).
    assert launch(world, shared) == "%s %s %s" % (bm.MISSING, machine_arch(), world["sha"])
    assert install(world, shared) == "real qos_guard --ansible-args-stdin"
    root = own_root(shared)
    assert mode(root) == 0o700 and os.lstat(root).st_uid == VICTIM
    assert launch(world, shared) == "real qos_guard --ansible-args-stdin"
    # A user-given directory is never chmod-ed.
    assert mode(shared) == 0o1777


def test_old_versions_are_pruned_only_in_our_own_root(world):
    shared = world["shared"]
    theirs = os.path.join(shared, "0123456789abcdef")  # named like a version, in the shared dir
    as_user(ATTACKER, "mkdir", theirs)
    install(world, shared)
    ours = os.path.join(own_root(shared), "fedcba9876543210")
    as_user(VICTIM, "mkdir", ours)
    old = time.time() - 40 * 86400
    os.utime(theirs, (old, old))
    os.utime(ours, (old, old))
    install(world, shared)
    assert os.path.isdir(theirs), "an entry of the shared cache dir that the plugin did not create was removed"
    assert not os.path.exists(ours), "an old version in the plugin's own root was kept"


@pytest.mark.parametrize("kind", ["attacker's dir", "symlink to attacker's dir", "writable by all"])
def test_a_planted_cache_root_is_never_trusted(world, kind):
    shared = world["shared"]
    root = own_root(shared)  # where the victim's cache would be
    if kind == "attacker's dir":
        plant(world, root)
    elif kind == "symlink to attacker's dir":
        elsewhere = os.path.join(shared, "attacker-stuff")
        plant(world, elsewhere)
        as_user(ATTACKER, "ln", "-s", elsewhere, root)
    else:
        as_user(VICTIM, "mkdir", "-m", "777", root)
        plant(world, root)
    # Without a home of its own (HOME=/nonexistent), in $TMPDIR.
    env = {"TMPDIR": shared}
    out = launch(world, env=env)
    assert "EVIL" not in out
    assert bm.MISSING in out
    # The install takes a fresh private directory instead, and the next
    # launch finds it: the binary is sent once, not on every task.
    assert install(world, env=env) == "real qos_guard --ansible-args-stdin"
    assert launch(world, env=env) == "real qos_guard --ansible-args-stdin"
    # The same rules in a shared threader_guard_cache_dir (the same place).
    assert launch(world, shared) == "real qos_guard --ansible-args-stdin"
    private = [e for e in os.listdir(shared) if e.startswith("threader.guard-%d." % VICTIM)]
    assert len(private) == 1, os.listdir(shared)
    fresh = os.path.join(shared, private[0])
    assert mode(fresh) == 0o700 and os.lstat(fresh).st_uid == VICTIM
    # What the attacker planted is left alone (never used, never removed).
    assert os.path.lexists(root)


def test_planted_private_looking_roots_are_skipped(world):
    shared = world["shared"]
    as_user(ATTACKER, "mkdir", own_root(shared))
    plant(world, own_root(shared) + ".AAAAAA")  # named like the victim's mktemp -d
    assert "EVIL" not in launch(world, shared)
    assert install(world, shared) == "real qos_guard --ansible-args-stdin"
    assert launch(world, shared) == "real qos_guard --ansible-args-stdin"


def test_an_unsafe_directory_holding_the_cache_is_named(world):
    theirs = os.path.join(world["base"], "theirs")
    os.mkdir(theirs, 0o755)
    os.chown(theirs, ATTACKER, ATTACKER)
    for script in (launch, install):
        assert script(world, theirs) == "%s UNKNOWN(%d):drwxr-xr-x %s" % (bm.UNSAFE, ATTACKER, theirs)
    group_writable = os.path.join(world["base"], "group")
    os.mkdir(group_writable)
    os.chmod(group_writable, 0o775)  # root's, writable by its group, not sticky
    assert launch(world, group_writable) == "%s root(0):drwxrwxr-x %s" % (bm.UNSAFE, group_writable)


def test_a_fifo_at_the_stat_record_does_not_hang_and_is_replaced(world):
    shared = world["shared"]
    install(world, shared)
    record = os.path.join(own_root(shared), world["sha"], "threader-guard.ok")
    os.unlink(record)
    as_user(VICTIM, "mkfifo", record)
    assert launch(world, shared) == "real qos_guard --ansible-args-stdin"
    assert stat.S_ISREG(os.lstat(record).st_mode)


def test_a_symlinked_stat_record_is_not_followed(world):
    shared = world["shared"]
    install(world, shared)
    record = os.path.join(own_root(shared), world["sha"], "threader-guard.ok")
    target = os.path.join(world["base"], "target")
    with open(target, "w") as f:
        f.write("untouched\n")
    os.chmod(target, 0o666)
    os.unlink(record)
    as_user(VICTIM, "ln", "-s", target, record)
    assert launch(world, shared) == "real qos_guard --ansible-args-stdin"
    assert not os.path.islink(record) and stat.S_ISREG(os.lstat(record).st_mode)
    with open(target) as f:
        assert f.read() == "untouched\n"


def test_a_damaged_binary_is_reported_missing(world):
    shared = world["shared"]
    install(world, shared)
    binary = os.path.join(own_root(shared), world["sha"], "threader-guard")
    with open(binary, "a") as f:
        f.write("# changed\n")
    assert bm.MISSING in launch(world, shared)


def test_default_location_with_a_home_and_without(world):
    home = os.path.join(world["base"], "home")
    os.mkdir(home)
    os.chown(home, VICTIM, VICTIM)
    env = {"HOME": home, "TMPDIR": world["shared"]}
    install(world, env=env)
    assert mode(os.path.join(home, ".cache", "threader.guard")) == 0o700
    assert launch(world, env=env) == "real qos_guard --ansible-args-stdin"
    # HOME that is not this user's (su without -l): the temp dir instead.
    env = {"HOME": "/root", "TMPDIR": world["shared"]}
    install(world, env=env)
    assert os.path.isdir(own_root(world["shared"]))


def test_cache_dir_must_be_absolute_or_under_home(world):
    with pytest.raises(bm.AnsibleError, match="threader_guard_cache_dir must be an absolute path"):
        bm.launch_script(world["binaries"], "relative/dir", RUN)


def test_a_directory_above_the_cache_that_someone_else_controls_is_named(world):
    # The cache dir itself is the victim's, but the attacker owns the
    # directory holding it: they can rename it away between the check and
    # the exec and put their own tree there. Refused, naming that directory.
    team = os.path.join(world["shared"], "team")
    as_user(ATTACKER, "mkdir", "-m", "755", team)
    cache = os.path.join(team, "cache")
    os.mkdir(cache, 0o700)
    os.chown(cache, VICTIM, VICTIM)
    for script in (install, launch):
        assert script(world, cache) == "%s UNKNOWN(%d):drwxr-xr-x %s" % (bm.UNSAFE, ATTACKER, team)
    assert not os.listdir(cache), "the plugin wrote under a directory someone else controls"


def test_a_symlinked_cache_dir_is_resolved_once(world):
    # An attacker's symlink in a sticky directory (like /var/tmp) that points
    # at a safe directory passes every check; before the fix the exec went
    # through the symlink again, and an attacker flipping it between the
    # check and the exec had their program run (30 of 400 launches here).
    # The kernel's fs.protected_symlinks=1 (Debian's default) would refuse the
    # victim an attacker's symlink in a sticky directory, and the plugin fail
    # closed ("cannot enter"): the victim's own symlink is followed everywhere,
    # and what matters is that the path run is the one resolved when checked.
    real = os.path.join(world["base"], "real")
    os.mkdir(real, 0o755)
    os.chown(real, VICTIM, VICTIM)
    link = os.path.join(world["shared"], "cache")
    as_user(VICTIM, "ln", "-s", real, link)
    assert install(world, link) == "real qos_guard --ansible-args-stdin"
    where = sh(bm.launch_script(world["binaries"], link, 'echo "$b"'))
    assert where == os.path.join(own_root(real), world["sha"], "threader-guard")


def test_a_cache_dir_the_user_cannot_enter_fails_naming_it(world):
    closed = os.path.join(world["base"], "closed")
    os.mkdir(closed, 0o700)  # root's: nobody cannot enter it
    assert launch(world, closed) == "%s %s %s" % (bm.MISSING, machine_arch(), world["sha"])
    assert install(world, closed) == "%s cannot enter the cache directory %s (set threader_guard_cache_dir)" % (
        bm.INSTALL_FAILED, closed)


def test_yaml_dates_and_times_are_sent_as_iso_text():
    # YAML reads unquoted 2026-11-29T16:00:00Z as a datetime: canary_judge's
    # start/end failed with "Object of type datetime is not JSON serializable".
    import datetime
    import json

    args = {
        "start": datetime.datetime(2026, 11, 29, 16, 0, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2026, 11, 29),
        "n": 1,
    }
    assert json.loads(bm.encode_args(args)) == {"start": "2026-11-29T16:00:00+00:00", "day": "2026-11-29", "n": 1}
    with pytest.raises(TypeError):
        bm.encode_args({"x": object()})
