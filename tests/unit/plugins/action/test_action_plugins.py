# -*- coding: utf-8 -*-
# Copyright: threader.guard developers
# Apache License 2.0 (see the collection's galaxy.yml)
"""The action plugins' decisions that need no target: which module each one
runs, how a refusal of the target's launch script reads, and when the
module's arguments go to it on stdin rather than in a file.

Run with ansible-test in the collection checked out as
ansible_collections/threader/guard: ansible-test units --python 3.11
(tests/ansible_test_test.go does this for `make test`).
"""

from __future__ import annotations

import importlib
import os
from unittest.mock import MagicMock

import pytest

from ansible_collections.threader.guard.plugins.plugin_utils import binary_module as bm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ACTIONS = sorted(
    name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "action"))
    if name.endswith(".py") and name != "__init__.py"
)


def action(name, connection=None, play_pipelining=False):
    """The plugin as ansible-core makes it, with a templar that returns
    values as they are."""
    module = importlib.import_module("ansible_collections.threader.guard.plugins.action." + name)
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    task = MagicMock(delegate_to=None)
    return module.ActionModule(task, connection or MagicMock(), MagicMock(pipelining=play_pipelining), MagicMock(), templar)


def connection(transport="ssh", has_pipelining=True, become=None, pipelining_option=False):
    conn = MagicMock(transport=transport, has_pipelining=has_pipelining, become=become)
    conn.get_option.return_value = pipelining_option
    return conn


def become(name, password):
    plugin = MagicMock()
    plugin.name = name
    plugin.get_option.return_value = password
    return plugin


def test_there_are_action_plugins():
    assert len(ACTIONS) >= 3, ACTIONS


@pytest.mark.parametrize("name", ACTIONS)
def test_each_action_plugin_runs_its_own_documented_module(name):
    plugin = action(name)
    assert isinstance(plugin, bm.BinaryModuleAction)
    assert plugin.module == name
    assert os.path.isfile(os.path.join(ROOT, "plugins", "modules", name + ".yml"))


def test_an_unsafe_cache_directory_is_named_with_its_owner_and_mode():
    res = action("qos_guard")._marker_failure(bm.UNSAFE, "UNKNOWN(23456):drwxrwxrwx /srv/cache", {})
    assert res["failed"] is True and res["changed"] is False
    assert res["msg"].startswith(
        "threader.guard.qos_guard: will not keep or run the module binary under /srv/cache: "
        "it is owned by UNKNOWN(23456) with mode drwxrwxrwx"
    ), res["msg"]
    assert "set threader_guard_cache_dir" in res["msg"]


def test_an_unsupported_target_is_told_what_is_shipped():
    binaries = {"amd64": ("0" * 64, "/nonexistent/threader-guard_linux_amd64")}
    res = action("slo_check")._marker_failure(bm.UNSUPPORTED, "FreeBSD:amd64", binaries)
    assert res["failed"] is True
    assert res["msg"] == "threader.guard.slo_check: the target runs FreeBSD:amd64; threader.guard ships its compiled modules for %s only" % (
        bm.supported_platforms(binaries))


def test_a_launch_that_ran_the_module_is_no_failure():
    assert action("retry_command")._marker_failure(None, "", {}) is None


@pytest.mark.parametrize(
    "conn, task_vars, play_pipelining, on_stdin",
    [
        pytest.param(connection(), {}, False, True, id="ssh"),
        pytest.param(connection(has_pipelining=False), {}, False, False, id="connection without pipelining"),
        pytest.param(connection(), {"threader_guard_args_on_stdin": False}, False, False, id="turned off"),
        pytest.param(connection(become=become("ansible.builtin.su", "pw")), {}, False, False,
                     id="su with a password prompts on stdin"),
        pytest.param(connection(become=become("sudo", "pw")), {}, False, True, id="sudo with a password over ssh"),
        pytest.param(connection(transport="local", become=become("sudo", "pw")), {}, False, False,
                     id="prompting become over local without pipelining gets a pty"),
        pytest.param(connection(transport="ansible.builtin.local", become=become("sudo", "pw"), pipelining_option=True),
                     {}, False, True, id="prompting become over local with pipelining"),
        pytest.param(connection(transport="local", become=become("sudo", None)), {}, False, True,
                     id="become without a password over local"),
    ],
)
def test_when_the_arguments_go_on_stdin(conn, task_vars, play_pipelining, on_stdin):
    assert action("qos_guard", conn, play_pipelining)._args_on_stdin(task_vars) is on_stdin
