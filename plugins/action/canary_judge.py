# -*- coding: utf-8 -*-
# Copyright: threader.guard developers
# Apache License 2.0 (see the collection's galaxy.yml)
"""Runs threader.guard.canary_judge: the compiled module, cached on the target and run
in one remote command (see plugins/plugin_utils/binary_module.py)."""

from __future__ import annotations

from ansible_collections.threader.guard.plugins.plugin_utils.binary_module import BinaryModuleAction


class ActionModule(BinaryModuleAction):
    module = "canary_judge"
